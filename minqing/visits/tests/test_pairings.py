"""Pairings (结对帮扶): services, the pairing rule in the due list, the API, the page, the
back office, and the pairing-list import (all-or-nothing, every bad row listed) and export."""

import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from minqing.accounts.tests.factories import UserFactory
from minqing.conftest import login
from minqing.core.errors import Conflict, NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.imports import import_commit, import_start
from minqing.core.models import AuditEvent, Job
from minqing.visits import services
from minqing.visits.models import Pairing, VisitRule
from minqing.visits.selectors import due_items

from .factories import household, visit_at

TODAY = timezone.localdate()


@pytest.fixture
def people(users, tree):
    users.grid.last_name, users.grid.first_name = "王", "小网"
    users.grid.save()
    users.cadre.last_name, users.cadre.first_name = "李", "村官"
    users.cadre.save()
    return users


@pytest.fixture
def homes(tree):
    return {
        "a": household(tree.grids["七星村1"], head="张德书", number="QX-0001"),
        "b": household(tree.grids["七星村1"], head="刘桂英", number="QX-0002"),
        "c": household(tree.grids["七星村2"], head="陈建国", number="QX-0003"),
        "far": household(tree.grids["鹤岭村1"], head="赵大", number="HL-0001"),
    }


def pairing(users, hh, cadre=None, start=date(2025, 1, 1)):
    return services.pairing_create(
        actor=users.township, cadre=cadre or users.grid, household=hh, start_date=start
    )


# ---------------------------------------------------------------- services


def test_pairing_create_and_end_are_dated_and_audited(people, homes):
    p = pairing(people, homes["a"])
    assert (p.cadre, p.household, p.end_date) == (people.grid, homes["a"], None)
    assert AuditEvent.objects.filter(action="visits.pairing.create").count() == 1
    with pytest.raises(Conflict):  # the unique constraint decides
        pairing(people, homes["a"])
    services.pairing_end(actor=people.cadre, pairing=p, end_date=TODAY, reason="调整")
    p.refresh_from_db()
    assert p.end_date == TODAY and p.end_reason == "调整"
    with pytest.raises(Conflict):
        services.pairing_end(actor=people.cadre, pairing=p, end_date=TODAY)
    again = pairing(people, homes["a"], start=TODAY)  # a new pairing after the end
    assert again.pk != p.pk and Pairing.objects.filter(household=homes["a"]).count() == 2


@pytest.mark.parametrize(
    "case,error",
    [
        ("outside household", NotFoundError),
        ("cadre elsewhere", ValidationFailed),
        ("cadre cannot visit", ValidationFailed),
        ("future", ValidationFailed),
        ("role", PermissionDeniedError),
    ],
)
def test_pairing_refused_writes_nothing(people, homes, case, error):
    actor, cadre, hh, start = people.township, people.grid, homes["a"], date(2025, 1, 1)
    if case == "outside household":
        hh = homes["far"]
    elif case == "cadre elsewhere":
        cadre = people.outsider
    elif case == "cadre cannot visit":
        cadre = people.supervisor
    elif case == "future":
        start = TODAY + timedelta(days=1)
    elif case == "role":
        actor = people.grid
    before = (Pairing.objects.count(), AuditEvent.objects.count())
    with pytest.raises(error):
        services.pairing_create(actor=actor, cadre=cadre, household=hh, start_date=start)
    assert (Pairing.objects.count(), AuditEvent.objects.count()) == before


def test_ending_a_pairing_outside_ones_area_is_404(people, homes):
    p = pairing(people, homes["a"])
    with pytest.raises(NotFoundError):
        services.pairing_end(actor=people.outsider, pairing=p, end_date=TODAY)


# ---------------------------------------------------------------- due list


def test_pairing_rule_makes_the_cadres_households_due(people, homes):
    VisitRule.objects.all().delete()
    VisitRule.objects.create(name="结对户月访", kind="pairing", interval_days=30)
    start = TODAY - timedelta(days=60)
    pairing(people, homes["a"], start=start)
    pairing(people, homes["b"], start=start)
    # b was visited 5 days ago by its cadre: not due; a visit by someone else to a does
    # not count for the cadre's duty
    visit_at(homes["b"], timezone.now() - timedelta(days=5), by=people.grid)
    visit_at(homes["a"], timezone.now() - timedelta(days=2), by=people.cadre)
    items = {i.household_id: i for i in due_items(fetched_by=people.grid, today=TODAY)}
    assert set(items) == {homes["a"].pk}
    assert items[homes["a"].pk].due == start + timedelta(days=30)
    assert "结对户月访" in items[homes["a"].pk].reasons[0]
    assert "王小网" in items[homes["a"].pk].reasons[0]
    # the township sees it too (in its jurisdiction); the outsider does not
    assert homes["a"].pk in {i.household_id for i in due_items(fetched_by=people.township)}
    assert due_items(fetched_by=people.outsider) == []


# ---------------------------------------------------------------- API and pages


def test_pairing_api_create_list_end(client, people, homes):
    login(client, people.cadre)
    r = client.post(
        "/api/visits/pairings",
        {"cadre_id": people.grid.pk, "household_id": homes["a"].pk, "start_date": "2025-01-01"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    r = client.post(
        "/api/visits/pairings",
        {"cadre_id": people.grid.pk, "household_id": homes["a"].pk},
        content_type="application/json",
    )
    assert r.status_code == 409
    listed = client.get("/api/visits/pairings").json()["items"]
    assert [p["household_number"] for p in listed] == ["QX-0001"]
    r = client.post(f"/api/visits/pairings/{pid}/end", {"reason": "调走"}, "application/json")
    assert r.status_code == 200 and r.json()["end_date"] == TODAY.isoformat()
    assert client.get("/api/visits/pairings").json()["items"] == []
    login(client, people.outsider)
    assert client.get("/api/visits/pairings?include_ended=true").json()["items"] == []
    r = client.post(
        "/api/visits/pairings",
        {"cadre_id": people.outsider.pk, "household_id": homes["a"].pk},
        content_type="application/json",
    )
    assert r.status_code == 404


def test_pairing_page_add_end_and_export(client, people, homes):
    login(client, people.cadre)
    url = reverse("visits:pairings")
    r = client.post(url, {"cadre": "grid", "household_number": "QX-0002", "start_date": ""})
    assert r.status_code == 302
    r = client.post(url, {"cadre": "grid", "household_number": "QX-0002"})
    assert r.status_code == 409 and "无需重复登记" in r.content.decode()
    page = client.get(url).content.decode()
    assert "刘桂英" in page and "王小网" in page
    p = Pairing.objects.get()
    client.post(reverse("visits:pairing_end", args=[p.pk]), {"reason": "调走"})
    p.refresh_from_db()
    assert p.end_date == TODAY
    ws = load_workbook(io.BytesIO(client.get(reverse("visits:pairing_export") + "?all=1").content))
    rows = list(ws.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("帮扶责任人", "责任人账号", "户主姓名", "户编号")
    assert rows[1][:4] == ("王小网", "grid", "刘桂英", "QX-0002")
    # a grid worker sees the list but may not manage it
    login(client, people.grid)
    r = client.post(url, {"cadre": "grid", "household_number": "QX-0001"})
    assert r.status_code == 403 and Pairing.objects.count() == 1


def test_pairing_admin_goes_through_the_service(client, people, homes):
    login(client, people.admin)
    r = client.post(
        "/admin/visits/pairing/add/",
        {"cadre": people.grid.pk, "household": homes["far"].pk, "start_date": "2025-01-01"},
    )
    # 鹤岭 is in the admin's jurisdiction, but the grid worker does not hold it
    assert r.status_code == 200 and "帮扶责任人必须是" in r.content.decode()
    assert Pairing.objects.count() == 0
    r = client.post(
        "/admin/visits/pairing/add/",
        {"cadre": people.grid.pk, "household": homes["a"].pk, "start_date": "2025-01-01"},
    )
    assert r.status_code == 302
    assert AuditEvent.objects.filter(action="visits.pairing.create").count() == 1


# ---------------------------------------------------------------- import


HEADER = "帮扶责任人,责任人账号,户主姓名,户编号,户主身份证号,结对日期\n"


def run_import(user, body):
    upload = SimpleUploadedFile("pairs.csv", (HEADER + body).encode(), content_type="text/csv")
    job = import_start(actor=user, kind="visits_pairings", upload=upload)
    job.refresh_from_db()
    if job.status == Job.Status.PREVIEW:
        import_commit(actor=user, job_id=job.pk)
        job.refresh_from_db()
    return job


def errors_of(job):
    return {e["row"]: " ".join(e["errors"]) for e in job.result.get("errors", [])}


def test_import_pairing_list(people, homes):
    c_id = homes["c"].members.get(relation="head").id_number
    body = (
        "王小网,,张德书,QX-0001,,2025-01-01\n"
        "李村官,,刘桂英,QX-0002,,2025年3月5日\n"
        f"李村官,,陈建国,,{c_id},\n"
    )
    job = run_import(people.cadre, body)
    assert job.status == Job.Status.DONE, (job.message, job.result)
    got = {(p.cadre.username, p.household.number, p.start_date) for p in Pairing.objects.all()}
    assert got == {
        ("grid", "QX-0001", date(2025, 1, 1)),
        ("cadre", "QX-0002", date(2025, 3, 5)),
        ("cadre", "QX-0003", TODAY),
    }
    assert AuditEvent.objects.filter(action="visits.pairing.create").count() == 3
    # the same list again: all unchanged, nothing written
    again = run_import(people.cadre, body)
    assert again.result["unchanged"] == 3 and Pairing.objects.count() == 3


def test_import_lists_every_bad_row_and_writes_nothing(people, homes, tree):
    UserFactory(username="wang2", last_name="王", first_name="小网", areas=[tree.qixing])
    body = (
        "李村官,,张德书,QX-0001,,2025-01-01\n"  # row 2: good
        "王小网,,刘桂英,QX-0002,,\n"  # 3: two 王小网 hold the household's area
        "李村官,,张三,QX-0001,,\n"  # 4: head's name does not match
        "李村官,,赵大,HL-0001,,\n"  # 5: household outside the jurisdiction
        "查无此人,,刘桂英,QX-0002,,\n"  # 6: no such cadre
        "李村官,,,QX-9999,,\n"  # 7: unknown number
        "李村官,,,,,\n"  # 8: no household at all
        "李村官,,,QX-0003,,2099-01-01\n"  # 9: date in the future
        "李村官,,张德书,QX-0001,,2025-02-01\n"  # 10: same pair as row 2
        "李村官,,,,430302199901011234,\n"  # 11: bad ID check digit
    )
    before = (Pairing.objects.count(), AuditEvent.objects.exclude(action="import.failed").count())
    job = run_import(people.cadre, body)
    errs = errors_of(job)
    assert sorted(errs) == [3, 4, 5, 6, 7, 8, 9, 10, 11], errs
    assert "请填写责任人账号" in errs[3]
    assert "与登记的户主“张德书”不一致" in errs[4]
    assert "不在您的管辖范围内" in errs[5] and "不在您的管辖范围内" in errs[7]
    assert "找不到帮扶责任人“查无此人”" in errs[6]
    assert "都为空" in errs[8] and "晚于今天" in errs[9]
    assert "与第 2 行重复" in errs[10]
    assert (
        Pairing.objects.count(),
        AuditEvent.objects.exclude(action="import.failed").count(),
    ) == before
    # the account settles who is meant
    job = run_import(people.cadre, "王小网,wang2,刘桂英,QX-0002,,\n")
    assert job.status == Job.Status.DONE
    assert Pairing.objects.get().cadre.username == "wang2"


def test_import_needs_the_manage_right(people):
    with pytest.raises(PermissionDeniedError):
        run_import(people.grid, "王小网,,张德书,QX-0001,,\n")
