"""Area import: every kind of bad row is reported, and nothing is written."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from minqing.areas.models import Area
from minqing.conftest import login
from minqing.core.imports import import_start
from minqing.core.models import AuditEvent, Job

HEADER = "区划代码,名称,层级,上级代码\n"


def csv_upload(body: str, name="areas.csv", encoding="utf-8"):
    return SimpleUploadedFile(name, (HEADER + body).encode(encoding), content_type="text/csv")


def run(user, body, **kw):
    job = import_start(actor=user, kind="areas", upload=csv_upload(body, **kw))
    job.refresh_from_db()
    return job


def errors_of(job):
    return {e["row"]: " ".join(e["errors"]) for e in job.result["errors"]}


def snapshot():
    """Areas and audit events, leaving out the event a failed import writes by design."""
    return Area.objects.count(), AuditEvent.objects.exclude(action="import.failed").count()


@pytest.fixture
def before(tree, users):
    return snapshot()


def assert_nothing_written(before):
    assert snapshot() == before


def test_good_file_imports_everything_in_level_order(users, tree, before):
    # child rows before their parents: the import sorts by level
    body = (
        "430372100203001,新村第一网格,网格,430372100203\n"
        "430372100203,新村,村,430372100000\n"
        "430372102000,新镇,乡镇,430372000000\n"
        "430372102201,新镇一村,村/社区,430372102000\n"
    )
    job = run(users.admin, body)
    assert job.status == Job.Status.DONE, job.result
    assert job.result["imported"] == 4
    grid = Area.objects.get(code="430372100203001")
    assert grid.path == tree.zhaoshan.path + "430372100203.430372100203001."
    assert grid.parent.code == "430372100203"
    assert Area.objects.get(code="430372102201").parent.name == "新镇"
    # one audit event per created area, tied to the job
    events = AuditEvent.objects.filter(action="area.create")
    assert events.count() == 4
    assert set(events.values_list("detail__import", flat=True)) == {str(job.pk)}


def test_unknown_parent(users, before):
    job = run(users.admin, "430372100203,新村,村,430372199000\n")
    assert job.status == Job.Status.FAILED
    assert "上级代码 430372199000 不存在" in errors_of(job)[2]
    assert_nothing_written(before)


def test_duplicate_code_in_file_and_in_database(users, tree, before):
    body = (
        "430372100203,新村,村,430372100000\n"
        "430372100203,又一个新村,村,430372100000\n"
        f"{tree.qixing.code},七星村,村,430372100000\n"
    )
    job = run(users.admin, body)
    errs = errors_of(job)
    assert "在文件中重复(第 2 行)" in errs[3]
    assert "已存在" in errs[4]
    assert 2 not in errs
    assert_nothing_written(before)


def test_wrong_level_order(users, before):
    body = (
        "430372100203,新村,网格,430372100000\n"  # a grid directly under a township
        "430372103000,新镇,村,430372000000\n"  # a village directly under a county
    )
    errs = errors_of(run(users.admin, body))
    assert "层级顺序不对" in errs[2] and "层级顺序不对" in errs[3]
    assert_nothing_written(before)


def test_cycle(users, before):
    body = (
        "430372100203,甲村,村,430372100204\n"
        "430372100204,乙村,村,430372100203\n"
        "430372100205,丙村,村,430372100000\n"
    )
    errs = errors_of(run(users.admin, body))
    assert "循环" in errs[2] and "循环" in errs[3]
    assert 4 not in errs
    assert_nothing_written(before)


def test_self_parent_is_a_cycle(users, before):
    errs = errors_of(run(users.admin, "430372100203,甲村,村,430372100203\n"))
    assert "循环" in errs[2]
    assert_nothing_written(before)


def test_code_not_matching_parent_and_bad_codes(users, before):
    body = (
        "430399100203,错村,村,430372100000\n"  # prefix not the township's
        "43037210020X,字母村,村,430372100000\n"
        "430372100203,,村,430372100000\n"
        "430372100206,怪村,部落,430372100000\n"
    )
    errs = errors_of(run(users.admin, body))
    assert "不相符" in errs[2]
    assert "只能是数字" in errs[3]
    assert "名称为空" in errs[4]
    assert "无法识别的层级" in errs[5]
    assert_nothing_written(before)


def test_every_bad_row_is_listed_and_one_bad_row_blocks_the_good(users, before):
    body = "430372100203,好村,村,430372100000\n" + "".join(
        f"4303721002{i:02d},村{i},村,430372199000\n" for i in range(10, 20)
    )
    job = run(users.admin, body)
    assert sorted(errors_of(job)) == list(range(3, 13))
    assert_nothing_written(before)


def test_parent_outside_jurisdiction(users, tree, before):
    from minqing.core.roles import Role

    users.township.role = Role.ADMIN  # may manage areas, but only under 昭山镇
    users.township.save()
    body = "430372101203,鹤岭新村,村,430372101000\n"
    errs = errors_of(run(users.township, body))
    assert "不在您的管辖范围内" in errs[2]
    assert_nothing_written(before)


def test_missing_column(users, before):
    upload = SimpleUploadedFile("a.csv", "名称,层级\n新村,村\n".encode())
    job = import_start(actor=users.admin, kind="areas", upload=upload)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "区划代码" in job.message
    assert_nothing_written(before)


def test_role_without_permission_is_refused(users, before):
    from minqing.core.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        run(users.cadre, "430372100203,新村,村,430372100000\n")
    assert_nothing_written(before)


def test_gbk_csv_and_xlsx(users, tree):
    job = run(users.admin, "430372100203,新村,村,430372100000\n", encoding="gb18030")
    assert job.status == Job.Status.DONE
    wb = Workbook()
    ws = wb.active
    ws.append(["区划代码", "名称", "层级", "上级代码"])
    ws.append([430372100204, "又新村", "村/社区", 430372100000])  # numbers, as Excel keeps them
    buf = io.BytesIO()
    wb.save(buf)
    upload = SimpleUploadedFile("a.xlsx", buf.getvalue())
    job = import_start(actor=users.admin, kind="areas", upload=upload)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.result
    assert Area.objects.filter(code="430372100204", name="又新村").exists()


def test_import_page_shows_errors_and_error_xlsx(client, users, tree):
    login(client, users.admin)
    upload = csv_upload("430372100203,新村,村,430372199000\n")
    response = client.post("/areas/import/", {"file": upload})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "上级代码 430372199000 不存在" in page.content.decode()
    job = Job.objects.get()
    xlsx = client.get(f"/core/jobs/{job.pk}/errors.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][-1] == "错误原因"
    assert rows[1][0] == 2 and "不存在" in rows[1][-1]


def test_another_users_job_is_404(client, users, tree):
    job = run(users.admin, "430372100203,新村,村,430372100000\n")
    login(client, users.supervisor)
    assert client.get(f"/core/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/api/core/jobs/{job.pk}").status_code == 404


def test_api_import(client, users, tree):
    login(client, users.admin)
    upload = csv_upload("430372100203,新村,村,430372100000\n")
    response = client.post("/api/areas/import", {"file": upload})
    assert response.status_code == 202
    assert response.json()["status"] == "done"
    assert response.json()["imported"] == 1


def test_export_round_trips_through_import(client, users, tree):
    """An exported subtree re-imports cleanly under a fresh parent code space."""
    login(client, users.admin)
    content = client.get(f"/areas/{tree.qixing.pk}/export.xlsx").content
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert rows[0] == ("区划代码", "名称", "层级", "上级代码")
    assert rows[1] == (tree.qixing.code, "七星村", "村/社区", tree.zhaoshan.code)
    assert len(rows) == 1 + 3
