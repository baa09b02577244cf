"""Registry import: each validation rule names its reason and writes nothing; a good file
imports households, residents (search keys filled) and tags; csv (UTF-8 BOM, GBK) and
xlsx; the error sheet; jurisdiction and permission."""

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from minqing.conftest import login
from minqing.core.errors import PermissionDeniedError
from minqing.core.idcard import make_id_number
from minqing.core.imports import import_commit, import_start
from minqing.core.models import AuditEvent, Job
from minqing.registry.imports import fast_check_digit
from minqing.registry.models import Household, Relation, Resident, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

HEADERS = ["网格代码", "户编号", "住址", "姓名", "身份证号", "与户主关系", "手机号", "状态"]
HEADERS += ["户联系电话", "备注", "标签"]
QX1 = "430372100201001"  # 七星村第1网格 (the cadre's village)
QX2 = "430372100201002"
HL1 = "430372101201001"  # 鹤岭村第1网格 (another township)


def pid(n: int, year: int = 1970) -> str:
    return make_id_number("430302", date(year, 1 + n % 12, 1 + n % 28), n)


def row(grid=QX1, number="QX-100", address="七星村三组 5 号", name="张德书", idn=None, **kw):
    return [
        grid,
        number,
        address,
        name,
        idn if idn is not None else pid(1),
        kw.get("relation", "户主"),
        kw.get("phone", ""),
        kw.get("status", ""),
        kw.get("household_phone", ""),
        kw.get("notes", ""),
        kw.get("tags", ""),
    ]


def csv_bytes(rows, headers=HEADERS, encoding="utf-8-sig") -> bytes:
    lines = [",".join(headers)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def run(user, rows=None, *, content=None, name="台账.csv", commit="create_update") -> Job:
    """Upload, dry run, and (when it passes and `commit` names a strategy) commit."""
    content = content if content is not None else csv_bytes(rows)
    job = import_start(actor=user, kind="registry", upload=SimpleUploadedFile(name, content))
    job.refresh_from_db()
    if commit and job.status == Job.Status.PREVIEW:
        import_commit(actor=user, job_id=job.pk, strategy=commit)
        job.refresh_from_db()
    return job


def errors_of(job) -> dict[int, str]:
    return {e["row"]: " ".join(e["errors"]) for e in job.result["errors"]}


def counts():
    """Registry rows and audit events, logins aside (force_login writes one), and the
    event a failed import writes by design."""
    audit = AuditEvent.objects.exclude(action__startswith="auth.").exclude(
        action__in=("import.failed", "registry.resident.id_conflict")
    )
    return (*(m.objects.count() for m in (Household, Resident, TagPeriod)), audit.count())


@pytest.fixture
def before(tree, users):
    return counts()


def assert_refused(job, before):
    assert job.status == Job.Status.FAILED, job.result
    assert job.result["imported"] == 0
    assert counts() == before
    assert not AuditEvent.objects.filter(action="registry.import").exists()


GOOD = [
    row(name="张德书", idn=pid(1, 1955), phone="138 0732 1234", tags="党员、低保", notes="老房"),
    row(name="李桂兰", idn=pid(2, 1957), relation="配偶", tags="残疾"),
    row(name="張小明", idn=pid(3, 1985), relation="长子", status="迁出", tags="低保"),
    row(
        grid=QX2,
        number="QX-101",
        address="七星村四组 1 号",
        name="王芳",
        idn=pid(4, 1980),
        household_phone="0731-52801234",
    ),
    row(grid=QX2, number="QX-101", address="", name="刘伟", idn=pid(5, 2012), relation="儿子"),
]


def test_good_file_imports_households_residents_keys_and_tags(users, tree, before):
    job = run(users.cadre, GOOD)
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert job.result["imported"] == 5
    assert (job.total, job.done) == (5, 5)
    h1 = Household.objects.get(number="QX-100")
    assert h1.grid == tree.grids["七星村1"]
    assert h1.address == "七星村三组 5 号"
    assert h1.head.name == "张德书"
    assert h1.phone == "13807321234"  # no 户联系电话: the head's phone, spaces dropped
    assert h1.notes == "老房"
    h2 = Household.objects.get(number="QX-101")
    assert h2.head.name == "王芳" and h2.phone == "0731-52801234"
    assert h2.grid == tree.grids["七星村2"]

    zhang = Resident.objects.get(name="张德书")
    assert (zhang.relation, zhang.status, zhang.gender) == (Relation.HEAD, "living", "M")
    assert zhang.birth_date.year == 1955
    assert (zhang.name_norm, zhang.name_pinyin, zhang.name_initials) == (
        "张德书",
        "zhangdeshu",
        "zds",
    )
    assert zhang.id_tail == zhang.id_number[-6:] and zhang.phone_tail == "1234"
    son = Resident.objects.get(id_number=pid(3, 1985))
    assert son.name_norm == "张小明"  # 繁→简 key
    assert (son.relation, son.status) == (Relation.CHILD, "moved_out")
    assert Resident.objects.get(name="刘伟").relation == Relation.CHILD

    # 低保 is a household tag: one open period on the household, however many rows say it
    periods = TagPeriod.objects.filter(household=h1).select_related("tag", "resident")
    got = sorted((p.tag.code, p.resident.name if p.resident else None) for p in periods)
    assert got == [("dibao", None), ("disabled", "李桂兰"), ("party_member", "张德书")]
    assert all(p.end_date is None and p.started_by == users.cadre for p in periods)
    assert "台账导入" in periods[0].start_reason

    # one summary audit event, hung on the village that holds both grids
    event = AuditEvent.objects.get(action="registry.import")
    assert event.actor == users.cadre
    assert event.area_id == tree.qixing.pk
    assert event.detail["job"] == str(job.pk)
    assert event.detail["residents"] == 5
    assert event.detail["households_created"] == 2
    assert event.detail["tag_periods"] == 3
    assert counts() == (before[0] + 2, before[1] + 5, before[2] + 3, before[3] + 1)


def test_imported_rows_are_found_by_the_search(users):
    from minqing.registry.selectors import household_search, resident_search

    assert run(users.cadre, GOOD).status == Job.Status.DONE
    assert [r.name for r in resident_search(fetched_by=users.cadre, q="zds")] == ["张德书"]
    assert [r.name for r in resident_search(fetched_by=users.cadre, q="張小明")] == ["張小明"]
    numbers = [h.number for h in household_search(fetched_by=users.cadre, tag="dibao")]
    assert numbers == ["QX-100"]


def test_existing_household_gets_new_members(users, tree, before):
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-7", address="七星村七组")
    head = ResidentFactory(
        household=hh, name="赵大", relation=Relation.HEAD, id_number=pid(500, 1940)
    )
    before = counts()
    job = run(
        users.cadre,
        [
            row(number="QX-7", address="", name="赵二", idn=pid(7), relation="子女"),
            row(number="QX-7", address="", name="赵三", idn=pid(8), relation="孙女", tags="低保"),
        ],
    )
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    hh.refresh_from_db()
    assert hh.head_id == head.pk and hh.address == "七星村七组"
    assert sorted(hh.members.values_list("name", flat=True)) == ["赵三", "赵二", "赵大"]
    assert TagPeriod.objects.filter(household=hh, tag__code="dibao").count() == 1
    assert job.result["households_created"] == 0 and job.result["households_extended"] == 1
    assert counts()[:2] == (before[0], before[1] + 2)


def test_existing_household_already_carrying_a_household_tag_is_not_tagged_twice(users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-8", address="七星村八组")
    ResidentFactory(household=hh, name="孙大", relation=Relation.HEAD, id_number=pid(501, 1940))
    assert run(users.cadre, [row(number="QX-8", name="孙二", idn=pid(9), relation="配偶",
                                 tags="低保")]).status == Job.Status.DONE  # fmt: skip
    job = run(users.cadre, [row(number="QX-8", name="孙三", idn=pid(10), relation="子女",
                                tags="低保")])  # fmt: skip
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert TagPeriod.objects.filter(household=hh, tag__code="dibao").count() == 1


# ---------------------------------------------------------------- every rule, nothing written


@pytest.mark.parametrize(
    ("idn", "reason"),
    [
        (pid(1)[:17] + ("0" if pid(1)[17] != "0" else "1"), "校验位错误"),
        (pid(1)[:16], "应为 18 位"),
        ("43030219701301001X", "出生日期 19701301 不是有效日期"),
        ("990302197001010011", "地区码 990302 不存在"),
        ("43030219700101001A", "最后一位为数字或 X"),
        ("", "身份证号为空"),
    ],
)
def test_bad_id_number_names_the_wrong_part(users, before, idn, reason):
    job = run(users.cadre, [row(idn=idn)])
    assert reason in errors_of(job)[2]
    assert_refused(job, before)


def test_duplicate_id_within_the_file(users, before):
    job = run(users.cadre, [row(), row(name="李四", relation="配偶")])
    assert "在文件中重复(第 2 行)" in errors_of(job)[3]
    assert 2 not in errors_of(job)
    assert_refused(job, before)


def test_duplicate_id_against_the_database(users, tree):
    hh = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-1")
    ResidentFactory(household=hh, id_number=pid(1), relation=Relation.HEAD)
    before = counts()
    job = run(users.cadre, [row()])
    # 鹤岭 is outside the cadre's jurisdiction: no "where", a hint, and a trace.
    assert f"身份证号 {pid(1)} 已在其他辖区登记" in errors_of(job)[2]
    assert "HL-1" not in errors_of(job)[2]  # never says where
    assert_refused(job, before)
    event = AuditEvent.objects.get(action="registry.resident.id_conflict")
    assert event.actor == users.cadre and event.area == tree.grids["鹤岭村1"]
    assert event.detail["id_number"] == "430302************"


@pytest.mark.parametrize("probe", [False, True], ids=["hash join", "index probes"])
def test_duplicates_against_the_database_in_a_big_file(users, tree, monkeypatch, probe):
    """Big files look their IDs and 户编号 up through a temporary table (PostgreSQL),
    joined to the registry by a hash join or, keys few against the table, by a probe per
    key: the same findings either way, and the planner's settings restored after."""
    from django.db import connection

    from minqing.registry import imports

    monkeypatch.setattr(imports, "BULK_LOOKUP_MIN", 1)
    monkeypatch.setattr(imports, "_few_against", lambda cursor, table, n: probe)
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-7", address="七星村七组")
    ResidentFactory(household=hh, id_number=pid(1), name="张德书", relation=Relation.HEAD)
    other = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-7")
    ResidentFactory(household=other, id_number=pid(4), relation=Relation.HEAD)
    before = counts()
    job = run(users.cadre, [row(number="QX-7"), row(number="QX-8", idn=pid(4))])
    assert "已在其他辖区登记" in errors_of(job)[3]
    assert 2 not in errors_of(job)  # found through the temporary table: the same person
    assert_refused(job, before)
    job = run(users.cadre, [row(number="QX-7")], commit="")
    assert job.status == Job.Status.PREVIEW and job.result["preview"]["unchanged"] == 1
    job = run(users.cadre, [row(number="QX-7", idn=pid(3), relation="子女")])
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert hh.members.count() == 2
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
            )
            assert cursor.fetchone() == ("on", "on")


def test_unknown_grid(users, before):
    job = run(users.cadre, [row(grid="430372100201009")])
    assert "网格代码 430372100201009 不存在" in errors_of(job)[2]
    assert_refused(job, before)


def test_area_that_is_not_a_grid(users, tree, before):
    job = run(users.cadre, [row(grid=tree.qixing.code)])
    assert "不是网格代码" in errors_of(job)[2]
    assert_refused(job, before)


def test_grid_outside_jurisdiction(users, before):
    job = run(users.cadre, [row(grid=HL1)])
    assert f"网格 {HL1} 不在您的管辖范围内" in errors_of(job)[2]
    assert_refused(job, before)


def test_grid_by_name_within_jurisdiction(users, tree, before):
    job = run(users.cadre, [row(grid="七星村第1网格")])
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert Household.objects.get(number="QX-100").grid == tree.grids["七星村1"]
    # another township's grid name is unknown to this importer
    job = run(users.cadre, [row(grid="鹤岭村第1网格", number="X-2", idn=pid(2))])
    assert "不存在或不在您的管辖范围内" in errors_of(job)[2]


def test_two_heads_in_one_household(users, before):
    job = run(users.cadre, [row(), row(name="李四", idn=pid(2))])
    assert "户 QX-100 有多个户主(第 2、3 行)" in errors_of(job)[3]
    assert_refused(job, before)


def test_new_household_without_head(users, before):
    job = run(users.cadre, [row(relation="配偶"), row(name="李四", idn=pid(2), relation="子女")])
    assert "新户 QX-100 没有户主" in errors_of(job)[2]
    assert_refused(job, before)


def test_a_new_household_may_be_headed_by_someone_who_moved_out(users, before):
    job = run(users.cadre, [row(status="迁出"), row(name="李四", idn=pid(2), relation="配偶")])
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert Household.objects.get(number="QX-100").head.name == "张德书"


def test_new_household_without_address(users, before):
    job = run(users.cadre, [row(address="")])
    assert "新户 QX-100 没有住址" in errors_of(job)[2]
    assert_refused(job, before)


def test_existing_household_with_a_head_refuses_another(users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-100")
    ResidentFactory(household=hh, relation=Relation.HEAD)
    before = counts()
    job = run(users.cadre, [row()])
    assert "户 QX-100 有多个户主" in errors_of(job)[2]
    assert_refused(job, before)


def test_a_former_head_who_died_may_stay_beside_the_new_one(users, tree):
    old = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9", address="七星村九组")
    ResidentFactory(household=old, relation=Relation.HEAD, status="deceased")
    job = run(
        users.cadre,
        [
            row(number="QX-9", address="", name="周新", idn=pid(4), relation="户主"),
            row(name="张老", idn=pid(5, 1930), relation="户主", status="已故"),
            row(name="张新", idn=pid(6), relation="户主"),
        ],
    )
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    old.refresh_from_db()
    assert old.head.name == "周新"  # the household had no living head: the new one is it
    assert Household.objects.get(number="QX-100").head.name == "张新"


def test_existing_household_outside_jurisdiction(users, tree):
    hh = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-9")
    ResidentFactory(household=hh, relation=Relation.HEAD)
    before = counts()
    job = run(users.cadre, [row(number="HL-9", relation="配偶")])
    assert "户编号 HL-9 已登记在您管辖范围以外的网格" in errors_of(job)[2]
    assert_refused(job, before)


def test_existing_household_in_another_grid(users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村2"], number="QX-100")
    ResidentFactory(household=hh, relation=Relation.HEAD)
    before = counts()
    job = run(users.cadre, [row(relation="配偶")])
    assert "已登记在另一网格" in errors_of(job)[2]
    assert_refused(job, before)


def test_members_of_one_household_in_different_grids(users, before):
    job = run(users.cadre, [row(), row(grid=QX2, name="李四", idn=pid(2), relation="配偶")])
    assert "户编号 QX-100 的成员不在同一网格" in errors_of(job)[3]
    assert_refused(job, before)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("relation", "邻居", "无法识别的与户主关系:邻居"),
        ("relation", "", "与户主关系为空"),
        ("status", "失踪", "无法识别的状态:失踪"),
        ("tags", "低保、富豪", "未知的标签:富豪"),
        ("phone", "12345", "电话号码格式不对:12345"),
        ("phone", "1380732123", "电话号码格式不对"),
        ("phone", "1390732", "电话号码格式不对"),
        ("household_phone", "abc", "电话号码格式不对"),
        ("name", "", "姓名为空"),
        ("number", "", "户编号为空"),
        ("grid", "", "网格为空"),
    ],
)
def test_bad_cell(users, before, field, value, reason):
    kw = {field: value}
    args = {k: kw.pop(k) for k in ("grid", "number", "name") if k in kw}
    job = run(users.cadre, [row(**args, **kw)])
    assert reason in errors_of(job)[2]
    assert_refused(job, before)


def test_missing_required_column(users, before):
    headers = [h for h in HEADERS if h != "身份证号"]
    content = csv_bytes([row()[:4] + row()[5:]], headers=headers)
    job = run(users.cadre, content=content)
    assert "缺少必需的列:身份证号" in job.message
    assert "缺少必需的列:身份证号" in errors_of(job)[0]
    assert_refused(job, before)


def test_every_bad_row_is_listed_and_nothing_is_written(users, before):
    rows = [row(number=f"QX-{i}", name=f"张{i}", idn=pid(i)) for i in range(1, 31)]
    rows[4][4] = rows[4][4][:17] + "Y"
    rows[17][0] = HL1
    rows[29][5] = "邻居"
    job = run(users.cadre, rows)
    assert set(errors_of(job)) == {6, 19, 31}
    assert "有 3 行有误" in job.message
    assert_refused(job, before)


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("13807321234", "13807321234"),
        ("+86 138 0732 1234", "13807321234"),
        ("0731-52801234", "0731-52801234"),
        ("073152801234", "0731-52801234"),
        ("0731-52801234-802", "0731-52801234-802"),
        ("5280123", "5280123"),
    ],
)
def test_phone_forms(users, before, phone, stored):
    job = run(users.cadre, [row(phone=phone)])
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert Resident.objects.get().phone == stored


def test_aliases_and_column_order(users, tree, before):
    headers = ["姓名", "公民身份号码", "户号", "网格", "家庭住址", "关系", "手机号码"]
    content = csv_bytes([["张德书", pid(1), "QX-1", "七星村第2网格", "七星村", "本人", ""]],
                        headers=headers)  # fmt: skip
    job = run(users.cadre, content=content)
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert Household.objects.get(number="QX-1").grid == tree.grids["七星村2"]


# ---------------------------------------------------------------- formats


def test_csv_in_gbk(users, before):
    job = run(users.cadre, content=csv_bytes(GOOD, encoding="gbk"))
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert Resident.objects.filter(name="李桂兰").exists()


def test_csv_in_utf8_with_bom(users, before):
    content = csv_bytes(GOOD, encoding="utf-8-sig")
    assert content.startswith(b"\xef\xbb\xbf")
    job = run(users.cadre, content=content)
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))


def test_xlsx(users, before):
    job = run(users.cadre, content=xlsx_bytes(GOOD), name="台账.xlsx")
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    assert job.result["imported"] == 5


def test_error_sheet_has_the_error_column(client, users, before):
    rows = [row(), row(name="李四", idn=pid(1), relation="配偶")]
    job = run(users.cadre, content=xlsx_bytes(rows), name="台账.xlsx")
    assert job.status == Job.Status.FAILED
    response = login(client, users.cadre).get(f"/core/jobs/{job.pk}/errors.xlsx")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    sheet = [list(r) for r in ws.iter_rows(values_only=True)]
    assert sheet[0][0] == "行号" and sheet[0][-1] == "错误原因"
    assert sheet[1][-1] in (None, "")
    assert "在文件中重复" in sheet[2][-1]
    # the job page lists the reason too
    page = client.get(f"/core/jobs/{job.pk}/")
    assert "在文件中重复" in page.content.decode()


# ---------------------------------------------------------------- pages, API, permission


def test_upload_page_redirects_to_the_job(client, users, before):
    login(client, users.cadre)
    assert client.get("/registry/import/").status_code == 200
    upload = SimpleUploadedFile("台账.csv", csv_bytes(GOOD))
    response = client.post("/registry/import/", {"file": upload})
    job = Job.objects.get(kind="registry")
    assert response.status_code == 302 and response["Location"] == f"/core/jobs/{job.pk}/"
    assert job.status == Job.Status.PREVIEW and counts() == before  # the dry run writes nothing
    page = client.get(response["Location"]).content.decode()
    assert "确认导入" in page and "新增居民 5 人" in page
    response = client.post(f"/core/jobs/{job.pk}/commit/", {"strategy": "create_update"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    assert "台账.csv" in client.get("/registry/import/").content.decode()


def test_upload_page_refuses_other_file_types(client, users, before):
    login(client, users.cadre)
    response = client.post("/registry/import/", {"file": SimpleUploadedFile("a.pdf", b"%PDF")})
    assert response.status_code == 200
    assert "只支持 .xlsx 或 .csv 文件" in response.content.decode()
    assert counts() == before


def test_api_import(client, users, before):
    login(client, users.cadre)
    upload = SimpleUploadedFile("台账.csv", csv_bytes(GOOD))
    response = client.post("/api/registry/import", {"file": upload})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "preview" and body["preview"]["residents_created"] == 5
    assert counts() == before
    body = client.post(
        f"/api/core/jobs/{body['id']}/commit",
        {"strategy": "create_update"},
        content_type="application/json",
    ).json()
    assert body["status"] == "done" and body["imported"] == 5 and body["errors"] == []


def test_api_import_lists_bad_rows(client, users, before):
    login(client, users.cadre)
    upload = SimpleUploadedFile("台账.csv", csv_bytes([row(grid=HL1)]))
    body = client.post("/api/registry/import", {"file": upload}).json()
    assert body["status"] == "failed"
    assert body["errors"][0]["row"] == 2 and "不在您的管辖范围内" in body["errors"][0]["errors"][0]
    assert counts() == before


@pytest.mark.parametrize("role", ["grid", "dept", "leader", "supervisor", "zhengfa"])
def test_roles_without_import_permission_are_refused(client, users, before, role):
    user = getattr(users, role)
    with pytest.raises(PermissionDeniedError):
        run(user, GOOD)
    login(client, user)
    assert client.get("/registry/import/").status_code == 403
    assert client.get("/registry/import/template.xlsx").status_code == 403
    upload = SimpleUploadedFile("台账.csv", csv_bytes(GOOD))
    assert client.post("/api/registry/import", {"file": upload}).status_code == 403
    assert counts() == before
    assert not Job.objects.exists()


def test_template_has_the_headers_and_imports_as_is(client, users, tree, before):
    response = login(client, users.cadre).get("/registry/import/template.xlsx")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    sheet = [list(r) for r in ws.iter_rows(values_only=True)]
    assert sheet[0] == HEADERS
    # the example rows are refused if uploaded unchanged ...
    job = run(users.cadre, content=response.content, name="模板.xlsx")
    assert job.status == Job.Status.FAILED
    assert "示例行" in errors_of(job)[2] and "示例行" in errors_of(job)[3]
    assert counts() == before
    # ... and import once a cadre typed over them (here: the 示例 marks removed)
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.worksheets[0]
    for r in (2, 3):
        ws.cell(r, 4).value = ws.cell(r, 4).value.replace("(示例)", "")
        ws.cell(r, 10).value = ""
    buf = io.BytesIO()
    wb.save(buf)
    job = run(users.cadre, content=buf.getvalue(), name="模板.xlsx")
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    # the second sheet lists the user's own grids and their codes
    grids = [list(r) for r in load_workbook(io.BytesIO(response.content)).worksheets[1].values]
    assert ["430372100201001", "七星村第1网格"] in [g[:2] for g in grids]
    assert all("鹤岭" not in str(g) for g in grids)


def test_api_template(client, users):
    response = login(client, users.township).get("/api/registry/import/template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")


def test_fast_check_digit_agrees_with_the_standard():
    from minqing.core.idcard import check_digit

    for n in range(0, 10**17, 7_919_999_999_999):
        first17 = f"{n:017d}"
        assert fast_check_digit(first17) == check_digit(first17)


def test_existing_household_without_a_head_takes_the_imported_one(users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-8", address="七星村八组")
    ResidentFactory(household=hh, name="钱二", relation=Relation.CHILD)
    assert hh.head_id is None
    job = run(
        users.cadre, [row(number="QX-8", address="", name="钱大", idn=pid(9), relation="户主")]
    )
    assert job.status == Job.Status.DONE, (job.message, job.result.get("errors"))
    hh.refresh_from_db()
    assert hh.head is not None and hh.head.name == "钱大"


@pytest.mark.django_db
def test_a_large_import_reserves_its_ids_in_one_step_and_never_shares_them():
    """PostgreSQL: the ids of a large import come from one nextval with the sequence's
    increment set to their number, in a short transaction of a second connection; the
    sequence steps by one again after it, and a nextval after it is past the range. When
    the import's own transaction holds the sequence (the ALTER would wait for it), the
    ids are taken one by one instead."""
    from django.db import connection

    from minqing.registry import imports

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL sequences")
    n = imports.RESERVE_MIN
    reserved = imports._allocate_ids(Resident, n)
    assert isinstance(reserved, range) and len(reserved) == n
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('registry_resident', 'id'))")
        after = cursor.fetchone()[0]
        cursor.execute(
            "SELECT increment_by FROM pg_sequences WHERE sequencename = 'registry_resident_id_seq'"
        )
        assert cursor.fetchone()[0] == 1
    assert after > reserved[-1]
    # this transaction now holds the sequence: one by one, still past everything taken
    again = list(imports._allocate_ids(Resident, n))
    assert len(set(again)) == n and min(again) > after


@pytest.mark.django_db
def test_keys_are_probed_only_when_few_against_the_table(tree):
    """PostgreSQL: a file's keys are looked up one index probe each when they are fewer
    than PROBE_SHARE of the table's rows (by its statistics), by a hash join otherwise."""
    from django.db import connection

    from minqing.registry import imports

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL statistics")
    hh = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-9")
    for i in range(8):
        ResidentFactory(household=hh, id_number=pid(10 + i))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_resident")
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'registry_resident'")
        rows = cursor.fetchone()[0]
        assert rows >= 8
        assert imports._few_against(cursor, "registry_resident", 1)
        assert not imports._few_against(cursor, "registry_resident", int(rows))
