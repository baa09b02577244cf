"""Issue 13: the ledgers cadres really keep. Each fixture is built here with openpyxl (a
merged title row, a 填表说明 row, synonyms, full-width digits, numeric IDs and phones,
every date form), and each shape has its expected result; then the cross-checks, grid
names, the preview and commit, re-import, updates, moves, the mapping step and the
round trip through the unmasked export."""

import io
from datetime import date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from minqing.conftest import login
from minqing.core.idcard import make_id_number
from minqing.core.imports import import_cancel, import_commit, import_remap, import_start
from minqing.core.models import AuditEvent, Job
from minqing.registry.models import Household, Move, Relation, Resident, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

LEDGER_HEADERS = ["序号", "所属网格", "户号", "户主姓名", "姓名", "性别", "公民身份号码"]
LEDGER_HEADERS += ["出生年月", "与户主关系", "联系电话", "家庭住址", "人员类别"]

FW = {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}


def pid(day: date, n: int) -> str:
    return make_id_number("430302", day, n)


HEAD = pid(date(1955, 3, 7), 1)  # odd order: 男
WIFE = pid(date(1957, 8, 12), 2)
SON = pid(date(1985, 3, 5), 3)
DAUGHTER = pid(date(1988, 6, 10), 4)
WANG = pid(date(1960, 1, 2), 5)


def ledger_rows():
    """What a village's ledger holds: every way a cadre writes a grid, a phone, a date."""
    return [
        [1, "第一网格", "ＱＸ－001", "张德书", "张德书", "男", HEAD, datetime(1955, 3, 7)]
        + ["户主", 13807321234, "七星村一组 12 号", "党员、低保户"],
        [2, "七星村第1网格", "QX-001", "张德书", "李桂兰", "女", WIFE, "1957.8.12"]
        + ["妻子", "+86 138 0732 1235", "", "残疾人"],
        [3, "昭山镇七星村第一网格", "QX-001", "张德书", "张小明", "男", SON.translate(FW)]
        + ["1985年3月5日", "儿子", "138 0732 1236", "", ""],
        [4, "第1网格", "QX-001", "张德书", "张小红", "女", DAUGHTER, "19880610", "长女"]
        + ["0731-52801234", "", ""],
        [5, 430372100201002, "QX-002", "王五", "王五", "男", WANG, "1960/1/2", "户主"]
        + [13807321237.0, "七星村二组 3 号", ""],
    ]


def ledger_xlsx(rows=None, *, headers=LEDGER_HEADERS, title_rows=True, sheets=("户籍人口台账",),
                blank_tail=0) -> bytes:  # fmt: skip
    wb = Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表由村委会填写,每年更新一次。"])
    ws = None
    for name in sheets:
        ws = wb.create_sheet(name)
    if title_rows:
        ws.append(["昭山镇七星村户籍人口台账(2026年)"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        ws.append(["填表说明:身份证号请设为文本格式;一人一行,同户同户号。"])
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(headers))
    ws.append(headers)
    for r in rows if rows is not None else ledger_rows():
        ws.append(r)
    last = ws.max_row
    for i in range(blank_tail):
        ws.cell(last + 1 + i, 1).number_format = "@"  # formatted, empty rows
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def start(user, content, name="台账.xlsx") -> Job:
    job = import_start(actor=user, kind="registry", upload=SimpleUploadedFile(name, content))
    job.refresh_from_db()
    return job


def commit(user, job, strategy="create_update") -> Job:
    assert job.status == Job.Status.PREVIEW, (job.message, job.result.get("errors"))
    import_commit(actor=user, job_id=job.pk, strategy=strategy)
    job.refresh_from_db()
    return job


def errors_of(job) -> dict[int, str]:
    return {e["row"]: " ".join(e["errors"]) for e in job.result.get("errors", [])}


def written():
    """Registry rows and audit events, aside from logins and the trace a refused import
    leaves by design (import.failed, an ID conflict)."""
    audit = AuditEvent.objects.exclude(action__startswith="auth.").exclude(
        action__in=("import.failed", "registry.resident.id_conflict")
    )
    return tuple(m.objects.count() for m in (Household, Resident, TagPeriod, Move)) + (
        audit.count(),
    )


# ---------------------------------------------------------------- the village ledger


def test_village_ledger_imports_as_cadres_keep_it(users, tree):
    before = written()
    job = start(users.cadre, ledger_xlsx(blank_tail=3000))
    assert job.result["header_row"] == 3 and job.result["sheet"] == "户籍人口台账"
    mapped = {m["header"]: m["field"] for m in job.result["mapping"]}
    assert mapped["公民身份号码"] == "id_number" and mapped["所属网格"] == "grid_name"
    assert mapped["出生年月"] == "birth_date" and mapped["序号"] == ""
    preview = job.result["preview"]
    assert (preview["households_created"], preview["residents_created"]) == (2, 5)
    assert written() == before  # the dry run wrote nothing
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE, job.message
    people = {r.name: r for r in Resident.objects.select_related("household__grid")}
    assert people["张德书"].phone == "13807321234"  # a numeric cell, no .0
    assert people["李桂兰"].phone == "13807321235"  # +86 and spaces dropped
    assert people["张小明"].id_number == SON  # full-width digits
    assert people["张小红"].phone == "0731-52801234"
    assert people["王五"].phone == "13807321237"
    assert people["王五"].household.grid == tree.grids["七星村2"]  # a code typed as a number
    assert {r.household.number for r in people.values()} == {"QX-001", "QX-002"}
    assert people["张小明"].relation == Relation.CHILD
    hh = Household.objects.get(number="QX-001")
    assert hh.head == people["张德书"] and hh.grid == tree.grids["七星村1"]
    tags = set(TagPeriod.objects.values_list("tag__name", "resident__name"))
    assert ("低保", None) in tags and ("残疾", "李桂兰") in tags and ("党员", "张德书") in tags


def test_the_same_ledger_as_excel_saves_it(users, tree):
    """Excel's own layout (written by hand: shared strings, empty cells left out, the
    birth date a date cell, phones and a grid code kept as numbers): the same result, and
    a bad row reported on the row Excel shows (title on row 1, header on row 2)."""
    from minqing.core.tests.excel_layout import excel_xlsx

    def as_excel(rows):
        table = [["昭山镇七星村户籍人口台账(2026年)"], LEDGER_HEADERS]
        return excel_xlsx(table + [[v if v != "" else None for v in r] for r in rows], title="台账")

    before = written()
    job = start(users.cadre, as_excel(_bad(ledger_rows(), 0, "联系电话", 12345678)))
    assert job.status == Job.Status.FAILED and "电话号码格式不对" in errors_of(job)[3]
    job = start(users.cadre, as_excel(ledger_rows()))
    assert job.result["header_row"] == 2 and job.result["sheet"] == "台账"
    preview = job.result["preview"]
    assert (preview["households_created"], preview["residents_created"]) == (2, 5)
    assert written() == before
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE, job.message
    people = {r.name: r for r in Resident.objects.select_related("household__grid")}
    assert people["张德书"].phone == "13807321234" and people["王五"].phone == "13807321237"
    assert people["张德书"].id_number == HEAD and people["张小明"].id_number == SON
    assert people["王五"].household.grid == tree.grids["七星村2"]
    assert people["李桂兰"].phone == "13807321235"
    # and the same file again: nothing to write
    before = written()
    job = commit(users.cadre, start(users.cadre, as_excel(ledger_rows())))
    assert "5 人无变化" in job.message and written() == before


def _bad(rows, i, col, value):
    rows = [list(r) for r in rows]
    rows[i][LEDGER_HEADERS.index(col)] = value
    return rows


@pytest.mark.parametrize(
    ("shape", "kwargs", "expect"),
    [
        ("header under two title rows", {}, ("preview", None, None)),
        ("no title rows", {"title_rows": False}, ("preview", None, None)),
        ("header on a later sheet", {"sheets": ("封面", "台账")}, ("preview", None, None)),
        (
            "a bad phone is reported on the row Excel shows",
            {"rows": _bad(ledger_rows(), 0, "联系电话", "12345678")},
            ("failed", 4, "电话号码格式不对"),
        ),
        (
            "an ID kept as a number",
            {"rows": _bad(ledger_rows(), 1, "公民身份号码", float(WIFE[:17] + "0"))},
            ("failed", 5, "被 Excel 存成了数字"),
        ),
        (
            "性别 against the ID",
            {"rows": _bad(ledger_rows(), 0, "性别", "女")},
            ("failed", 4, "性别栏为“女”,身份证第17位为 " + HEAD[16]),
        ),
        (
            "出生日期 against the ID",
            {"rows": _bad(ledger_rows(), 2, "出生年月", "1985-03-06")},
            ("failed", 6, "出生日期栏为 1985-03-06,身份证号中为 1985-03-05"),
        ),
        (
            "户主姓名 against the 户主 row",
            {"rows": _bad(ledger_rows(), 3, "户主姓名", "张得书")},
            ("failed", 7, "户主姓名栏为“张得书”,但户 QX-001 的户主是“张德书”"),
        ),
        (
            "a woman as 儿子",
            {"rows": _bad(ledger_rows(), 3, "与户主关系", "儿子")},
            ("failed", 7, "但身份证号表明此人为女性"),
        ),
        (
            "a child older than the head",
            {
                "rows": _bad(
                    _bad(ledger_rows(), 2, "公民身份号码", pid(date(1950, 1, 1), 3)),
                    2,
                    "出生年月",
                    "",
                )
            },  # fmt: skip
            ("failed", 6, "不晚于户主"),
        ),
        (
            "an unknown tag lists the closest ones",
            {"rows": _bad(ledger_rows(), 4, "人员类别", "低宝")},
            ("failed", 8, "未知的标签:低宝(最接近的:"),
        ),
        (
            "an unknown grid lists the closest ones",
            {"rows": _bad(ledger_rows(), 4, "所属网格", "第9网格")},
            ("failed", 8, "网格 第9网格 不存在或不在您的管辖范围内(最接近的:"),
        ),
    ],
)
def test_ledger_shapes(users, tree, shape, kwargs, expect):
    before = written()
    job = start(users.cadre, ledger_xlsx(**kwargs))
    status, row, reason = expect
    assert job.status == status, (shape, job.message, job.result.get("errors"))
    if row:
        assert reason in errors_of(job)[row], (shape, errors_of(job))
    assert written() == before


def test_header_on_row_12_is_refused_naming_found_and_expected_columns(users, tree):
    rows = [[f"说明第 {i} 行"] for i in range(11)]
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    ws.append(LEDGER_HEADERS)
    ws.append(ledger_rows()[0])
    buf = io.BytesIO()
    wb.save(buf)
    job = start(users.cadre, buf.getvalue())
    assert job.status == Job.Status.FAILED
    assert "找不到表头" in job.message and "说明第 0 行" in job.message
    assert "身份证号" in job.message  # the expected ones are named


def test_header_on_row_10_is_found_and_rows_numbered_as_excel_shows_them(users, tree):
    wb = Workbook()
    ws = wb.active
    for i in range(9):
        ws.append([f"说明第 {i} 行"])
    ws.append(LEDGER_HEADERS)
    for r in _bad(ledger_rows(), 1, "联系电话", "12345678"):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    job = start(users.cadre, buf.getvalue())
    assert job.result["header_row"] == 10
    assert "电话号码格式不对" in errors_of(job)[12]  # the second person, on row 12


def test_two_columns_for_one_field_are_refused_then_mapped_by_hand(users, tree):
    headers = [*LEDGER_HEADERS, "身份证号"]
    rows = [[*r, r[6]] for r in ledger_rows()]
    job = start(users.cadre, ledger_xlsx(rows, headers=headers))
    assert job.status == Job.Status.FAILED
    assert "“公民身份号码”和“身份证号”两列都对应“身份证号”" in job.message
    # the user ignores one of them on the job page: the dry run runs again and passes
    job = import_remap(actor=users.cadre, job_id=job.pk, mapping={"身份证号": ""})
    job.refresh_from_db()
    assert job.status == Job.Status.PREVIEW, (job.message, job.result.get("errors"))
    # and the choice is remembered for this user's next file
    job2 = start(users.cadre, ledger_xlsx(rows, headers=headers))
    assert job2.status == Job.Status.PREVIEW
    assert {m["header"]: m["by_hand"] for m in job2.result["mapping"]}["身份证号"] is True
    other = start(users.township, ledger_xlsx(rows, headers=headers))
    assert other.status == Job.Status.FAILED  # remembered per user


def test_unrecognised_column_mapped_by_hand(users, tree):
    headers = [h if h != "联系电话" else "联系方式" for h in LEDGER_HEADERS]
    job = start(users.cadre, ledger_xlsx(headers=headers))
    assert job.status == Job.Status.PREVIEW
    assert {m["header"]: m["field"] for m in job.result["mapping"]}["联系方式"] == ""
    import_remap(actor=users.cadre, job_id=job.pk, mapping={"联系方式": "phone"})
    job = commit(users.cadre, Job.objects.get(pk=job.pk))
    assert Resident.objects.get(name="李桂兰").phone == "13807321235"


# ---------------------------------------------------------------- grid names


def test_grid_name_ambiguous_for_a_township_lists_candidates(users, tree):
    rows = [_bad(ledger_rows(), 4, "所属网格", "第1网格")[4]]
    job = start(users.township, ledger_xlsx(rows))
    reason = errors_of(job)[4]
    assert "不唯一" in reason and "七星村第1网格" in reason and "昭山村第1网格" in reason
    # the full name is unique: 一 and 1, full-width ones alike
    for name in ("昭山镇七星村第一网格", "七星村第１网格", "七星村 第1网格"):
        job = start(users.township, ledger_xlsx([_bad(ledger_rows(), 4, "所属网格", name)[4]]))
        assert job.status == Job.Status.PREVIEW, (name, job.result.get("errors"))


def test_grid_outside_jurisdiction_by_name_is_not_found(users, tree):
    job = start(users.cadre, ledger_xlsx([_bad(ledger_rows(), 4, "所属网格", "鹤岭村第1网格")[4]]))
    assert "不存在或不在您的管辖范围内" in errors_of(job)[4]


# ---------------------------------------------------------------- preview, commit, again


def test_reimport_of_the_same_file_writes_nothing(users, tree):
    content = ledger_xlsx()
    assert commit(users.cadre, start(users.cadre, content)).status == Job.Status.DONE
    before = written()
    job = start(users.cadre, content)
    assert job.result["preview"]["unchanged"] == 5 and job.result["preview"]["changed"] == 0
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE and "5 人无变化" in job.message
    assert written() == before


def test_changes_are_previewed_masked_then_audited_field_by_field(users, tree):
    commit(users.cadre, start(users.cadre, ledger_xlsx()))
    rows = _bad(ledger_rows(), 1, "联系电话", "13900000001")
    rows = _bad(rows, 4, "姓名", "王武")
    rows = _bad(rows, 4, "户主姓名", "王武")
    before = written()
    job = start(users.cadre, ledger_xlsx(rows))
    preview = job.result["preview"]
    assert preview["changed"] == 2 and preview["unchanged"] == 3
    change = {c["row"]: c for c in preview["changes"]}
    assert change[5]["changes"] == [["手机号", "138****1235", "139****0001"]]
    assert change[5]["id"].count("*") >= 8  # IDs masked in the preview
    assert change[8]["changes"] == [["姓名", "王五", "王武"]]
    assert written() == before
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE
    assert Resident.objects.get(id_number=WIFE).phone == "13900000001"
    wang = Resident.objects.get(id_number=WANG)
    assert wang.name == "王武" and wang.name_pinyin.startswith("wang")
    events = AuditEvent.objects.filter(action="registry.resident.update")
    details = {e.target_id: e.detail["changes"] for e in events}
    assert details[str(wang.pk)] == {"name": ["王五", "王武"]}
    assert details[str(Resident.objects.get(id_number=WIFE).pk)] == {
        "phone": ["138****1235", "139****0001"]
    }


def test_create_only_leaves_registered_people_alone(users, tree):
    commit(users.cadre, start(users.cadre, ledger_xlsx()))
    rows = _bad(ledger_rows(), 1, "联系电话", "13900000001")
    job = commit(users.cadre, start(users.cadre, ledger_xlsx(rows)), strategy="create_only")
    assert job.status == Job.Status.DONE and job.result["skipped"] == 1
    assert Resident.objects.get(id_number=WIFE).phone == "13807321235"


def test_a_new_household_number_is_a_move_with_history(users, tree):
    commit(users.cadre, start(users.cadre, ledger_xlsx()))
    son = Resident.objects.get(id_number=SON)
    old = son.household
    rows = ledger_rows()
    rows[2] = _bad(rows, 2, "户号", "QX-003")[2]
    rows[2] = _bad(rows, 2, "与户主关系", "户主")[2]
    rows[2] = _bad(rows, 2, "户主姓名", "张小明")[2]
    rows[2] = _bad(rows, 2, "家庭住址", "七星村一组 13 号")[2]
    job = start(users.cadre, ledger_xlsx(rows))
    assert job.result["preview"]["moves"] == 1
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE, job.message
    son.refresh_from_db()
    assert son.household.number == "QX-003" and son.household.head == son
    move = Move.objects.get(resident=son)
    assert move.kind == Move.Kind.TRANSFER and move.from_household == old
    assert "台账导入" in move.reason


def test_cancel_writes_nothing(users, tree):
    before = written()
    job = start(users.cadre, ledger_xlsx())
    import_cancel(actor=users.cadre, job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and written() == before
    from minqing.core.errors import Conflict

    with pytest.raises(Conflict):
        import_commit(actor=users.cadre, job_id=job.pk)


def test_another_user_cannot_commit_my_import(users, tree):
    from minqing.core.errors import NotFoundError

    job = start(users.cadre, ledger_xlsx())
    with pytest.raises(NotFoundError):
        import_commit(actor=users.township, job_id=job.pk)
    with pytest.raises(NotFoundError):
        import_cancel(actor=users.outsider, job_id=job.pk)


def test_all_or_nothing_with_updates(users, tree):
    commit(users.cadre, start(users.cadre, ledger_xlsx()))
    rows = _bad(ledger_rows(), 1, "联系电话", "13900000001")
    rows = _bad(rows, 3, "联系电话", "123")
    before = written()
    job = start(users.cadre, ledger_xlsx(rows))
    assert job.status == Job.Status.FAILED and written() == before
    assert Resident.objects.get(id_number=WIFE).phone == "13807321235"


# ---------------------------------------------------------------- round trip


def test_round_trip_unmasked_export_reimports_all_unchanged(client, users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9", address="七星村九组")
    head = ResidentFactory(household=hh, relation=Relation.HEAD, phone="13807329999")
    hh.head = head
    hh.save()
    ResidentFactory(household=hh, relation=Relation.SPOUSE, phone="")
    commit(users.cadre, start(users.cadre, ledger_xlsx()))
    login(client, users.cadre)
    # without a reason: refused, nothing exported
    response = client.post("/registry/export/residents-full.xlsx", {"reason": ""})
    assert response.status_code == 200 and "请填写" in response.content.decode()
    response = client.post("/registry/export/residents-full.xlsx", {"reason": "年度核对"})
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    event = AuditEvent.objects.filter(action="registry.export").latest("id")
    assert event.detail["unmasked"] is True and event.detail["reason"] == "年度核对"
    ws = load_workbook(io.BytesIO(content)).active
    assert HEAD in [c for r in ws.iter_rows(values_only=True) for c in r]  # in full
    before = written()
    job = start(users.cadre, content, name="导出.xlsx")
    assert job.status == Job.Status.PREVIEW, job.result.get("errors")
    assert job.result["preview"]["unchanged"] == 7 and job.result["preview"]["changed"] == 0
    job = commit(users.cadre, job)
    assert "7 人无变化" in job.message and written() == before
    # the cadre corrects a phone in the downloaded file and uploads it again
    wb = load_workbook(io.BytesIO(content))
    ws = wb.active
    # row 1 describes the export (area, filter, date); the header is row 2
    col = [c.value for c in ws[2]].index("手机号") + 1
    for r in range(3, ws.max_row + 1):
        if ws.cell(r, col).value == "13807329999":
            ws.cell(r, col).value = "13807328888"
    buf = io.BytesIO()
    wb.save(buf)
    job = commit(users.cadre, start(users.cadre, buf.getvalue(), name="改正.xlsx"))
    assert job.result["updated"] == 1
    head.refresh_from_db()
    assert head.phone == "13807328888"


def test_unmasked_export_needs_the_reveal_right(client, users, tree):
    login(client, users.leader)
    assert client.post("/registry/export/residents-full.xlsx", {"reason": "x"}).status_code == 403


def test_import_page_shows_required_columns_without_expanding(client, users):
    page = login(client, users.cadre).get("/registry/import/").content.decode()
    visible = page.split("<details")[0]
    for name in ("网格代码/网格", "户编号", "姓名", "身份证号", "与户主关系"):
        assert name in visible
    assert "/registry/export/residents-full.xlsx" in visible  # the way to a round trip


def test_job_actions_of_another_user_answer_404_on_page_and_api(client, users, tree):
    job = start(users.cadre, ledger_xlsx())
    before = written()
    login(client, users.township)
    for action in ("commit", "cancel", "remap"):
        assert client.post(f"/core/jobs/{job.pk}/{action}/").status_code == 404
    for action in ("commit", "cancel"):
        response = client.post(f"/api/core/jobs/{job.pk}/{action}", {},
                               content_type="application/json")  # fmt: skip
        assert response.status_code == 404
    response = client.post(f"/api/core/jobs/{job.pk}/mapping", {"mapping": {"a": "phone"}},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.PREVIEW and written() == before
    assert client.post(f"/core/jobs/{job.pk}/explode/").status_code == 404


def test_api_commit_strategy_is_validated(client, users, tree):
    job = start(users.cadre, ledger_xlsx())
    login(client, users.cadre)
    response = client.post(f"/api/core/jobs/{job.pk}/commit", {"strategy": "drop_all"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 400
    job.refresh_from_db()
    assert job.status == Job.Status.PREVIEW


def test_commit_checks_again_what_changed_since_the_preview(users, tree, monkeypatch):
    from minqing.registry import imports

    monkeypatch.setattr(imports, "BULK_LOOKUP_MIN", 1)  # the temporary-table joins
    commit(users.cadre, start(users.cadre, ledger_xlsx()))
    rows = _bad(ledger_rows(), 1, "联系电话", "13900000001")
    job = start(users.cadre, ledger_xlsx(rows))
    assert job.result["preview"]["changed"] == 1
    # between preview and commit: someone else set the same phone by hand, and a person
    # of the file got registered outside the cadre's jurisdiction
    Resident.objects.filter(id_number=WIFE).update(phone="13900000001")
    elsewhere = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-5")
    Resident.objects.filter(id_number=WANG).update(household=elsewhere)
    before = written()
    job = commit(users.cadre, job)
    assert job.status == Job.Status.FAILED
    assert "已在其他辖区登记" in errors_of(job)[8]
    assert written() == before


def test_commit_skips_the_re_check_only_when_the_registry_has_not_changed(users, tree, monkeypatch):
    """PostgreSQL keeps a log of the transactions writing to the registry: a commit whose
    dry run saw everything in it skips the re-check; any write since forces it."""
    from django.db import connection

    from minqing.registry import imports

    calls = []
    original = imports.ResidentImporter._existing_residents
    monkeypatch.setattr(
        imports.ResidentImporter,
        "_existing_residents",
        lambda self, *a, **kw: calls.append(1) or original(self, *a, **kw),
    )
    job = start(users.cadre, ledger_xlsx())
    assert len(calls) == 1
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE
    postgres = connection.vendor == "postgresql"
    assert len(calls) == (1 if postgres else 2)
    rows = _bad(ledger_rows(), 1, "联系电话", "13900000001")
    job = start(users.cadre, ledger_xlsx(rows))
    calls.clear()
    HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-9")  # any registry write
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE
    assert calls == [1]  # the commit checked again


def test_registered_households_address_and_phone_are_previewed_masked_then_audited(
    users, tree, client
):
    """Create-and-update covers the household too: its address and 户联系电话 change,
    shown old -> new (the phone masked) and audited field by field; create-only leaves
    them; a blank cell leaves them as they are."""
    headers = [*LEDGER_HEADERS, "户联系电话"]
    rows = [[*r, ""] for r in ledger_rows()]
    commit(users.cadre, start(users.cadre, ledger_xlsx(rows, headers=headers)))
    hh = Household.objects.get(number="QX-001")
    assert hh.address == "七星村一组 12 号"
    version = hh.version
    rows = _bad(rows, 0, "家庭住址", "七星村一组 14 号")
    rows[0][-1] = "0731-52809999"
    job = start(users.cadre, ledger_xlsx(rows, headers=headers))
    preview = job.result["preview"]
    assert preview["households_changed"] == 1 and preview["changed"] == 1
    (change,) = [c for c in preview["changes"] if "QX-001" in c["name"]]
    assert ["住址", "七星村一组 12 号", "七星村一组 14 号"] in change["changes"]
    phone = [c for c in change["changes"] if c[0] == "户联系电话"][0]
    assert phone[1] != "0731-52809999" and "9999" in phone[2] and "*" in phone[2]
    page = login(client, users.cadre).get(f"/core/jobs/{job.pk}/").content.decode()
    assert "七星村一组 14 号" in page and "0731-52809999" not in page
    assert Household.objects.get(number="QX-001").address == "七星村一组 12 号"  # not yet

    skipped = commit(
        users.cadre, start(users.cadre, ledger_xlsx(rows, headers=headers)), "create_only"
    )
    assert skipped.result["skipped"] == 1
    assert Household.objects.get(number="QX-001").address == "七星村一组 12 号"

    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE, job.message
    assert job.result["households_updated"] == 1
    hh.refresh_from_db()
    assert (hh.address, hh.phone, hh.version) == ("七星村一组 14 号", "0731-52809999", version + 1)
    event = AuditEvent.objects.get(action="registry.household.update", target_id=str(hh.pk))
    assert event.detail["address"] == ["七星村一组 12 号", "七星村一组 14 号"]
    assert "0731-52809999" not in str(event.detail) and event.detail["version"] == version + 1
    # the same file again: nothing to write; a blank address cell leaves the address
    again = commit(users.cadre, start(users.cadre, ledger_xlsx(rows, headers=headers)))
    assert again.result["imported"] == 0 and "无变化" in again.message
    blank = _bad(rows, 0, "家庭住址", "")
    blank[0][-1] = ""
    job = start(users.cadre, ledger_xlsx(blank, headers=headers))
    assert job.result["preview"]["households_changed"] == 0


def test_the_dry_runs_plan_waits_on_disk_not_in_memory(users, tree, monkeypatch):
    """The checked rows wait for the commit in a file only the server may read (not in
    the web process); the commit reads it instead of the upload, and deletes it; a
    cancel deletes it; without it the commit parses the upload again."""
    import stat

    from minqing.core import imports as core_imports

    job = start(users.cadre, ledger_xlsx())
    kept = core_imports.plan_dir() / f"{job.pk}{core_imports.PLAN_SUFFIX}"
    assert kept.exists() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    reads = []
    original = core_imports.read_table
    monkeypatch.setattr(
        core_imports, "read_table", lambda *a, **k: reads.append(1) or original(*a, **k)
    )
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE and reads == [] and not kept.exists()

    job = start(users.cadre, ledger_xlsx(_bad(ledger_rows(), 1, "联系电话", "13900000001")))
    kept = core_imports.plan_dir() / f"{job.pk}{core_imports.PLAN_SUFFIX}"
    import_cancel(actor=users.cadre, job_id=job.pk)
    assert not kept.exists()

    job = start(users.cadre, ledger_xlsx(_bad(ledger_rows(), 1, "联系电话", "13900000002")))
    (core_imports.plan_dir() / f"{job.pk}{core_imports.PLAN_SUFFIX}").unlink()
    reads.clear()
    job = commit(users.cadre, job)
    assert job.status == Job.Status.DONE and len(reads) == 1
    assert Resident.objects.get(id_number=WIFE).phone == "13900000002"
