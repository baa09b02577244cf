"""Registry export: the filtered list as xlsx, within jurisdiction, IDs and phones masked,
every export audited; a grid id outside the jurisdiction is 404."""

import io
from datetime import date
from urllib.parse import quote

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from openpyxl import load_workbook

from minqing.conftest import login
from minqing.core.idcard import make_id_number
from minqing.core.models import AuditEvent
from minqing.registry.exports import HOUSEHOLD_HEADERS, RESIDENT_HEADERS
from minqing.registry.models import Household, Relation
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period

ZHANG_ID = make_id_number("430302", date(1955, 3, 7), 123)


@pytest.fixture
def data(tree):
    qx = HouseholdFactory(
        grid=tree.grids["七星村1"], number="QX-1", address="七星村一组", phone="13807321234"
    )
    zhang = ResidentFactory(
        household=qx, name="张德书", id_number=ZHANG_ID, phone="13912345678", relation="head"
    )
    ResidentFactory(household=qx, name="李桂兰", relation=Relation.SPOUSE)
    ResidentFactory(household=qx, name="张小明", relation=Relation.CHILD, status="moved_out")
    period(tag_code="dibao", household=qx, start=date(2020, 1, 1))
    period(tag_code="party_member", resident=zhang, start=date(1990, 7, 1))
    qx2 = HouseholdFactory(grid=tree.grids["七星村2"], number="QX-2", address="七星村二组")
    ResidentFactory(household=qx2, name="王芳", relation=Relation.HEAD)
    hl = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-1", address="鹤岭村一组")
    ResidentFactory(household=hl, name="陈国强", relation=Relation.HEAD)
    return type("D", (), {"qx": qx, "qx2": qx2, "hl": hl, "zhang": zhang})


def sheet(response) -> list[list]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    content = b"".join(response.streaming_content)
    ws = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    # the first line says what was exported: area, filter and date
    assert "区域：" in rows[0][0] and "筛选：" in rows[0][0]
    return rows[1:]


def test_household_export_is_scoped_and_masked(client, users, data):
    rows = sheet(login(client, users.cadre).get("/registry/export/households.xlsx"))
    assert rows[0] == HOUSEHOLD_HEADERS
    by_number = {r[0]: dict(zip(HOUSEHOLD_HEADERS, r, strict=True)) for r in rows[1:]}
    assert set(by_number) == {"QX-1", "QX-2"}  # 鹤岭村 is outside the cadre's village
    qx = by_number["QX-1"]
    assert qx["户主"] == "张德书"
    assert qx["户主身份证号"] == "430302************"
    assert qx["联系电话"] == "138****1234"
    assert qx["在住人数"] == 2  # the son moved out
    assert qx["标签"] == "低保、党员"
    assert qx["网格代码"] == "430372100201001"


def test_resident_export_filtered_by_tag(client, users, data):
    url = "/registry/export/residents.xlsx?tag=dibao"
    rows = sheet(login(client, users.cadre).get(url))
    assert rows[0] == RESIDENT_HEADERS
    people = {r[4]: dict(zip(RESIDENT_HEADERS, r, strict=True)) for r in rows[1:]}
    # 低保 is a household tag: every member of the household carries it
    assert set(people) == {"张德书", "李桂兰", "张小明"}
    zhang = people["张德书"]
    assert zhang["身份证号"] == "430302************"
    assert zhang["手机号"] == "139****5678"
    assert zhang["与户主关系"] == "户主" and zhang["状态"] == "在住" and zhang["性别"] == "男"
    assert zhang["标签"] == "低保、党员"
    assert people["张小明"]["状态"] == "迁出"
    content = str(rows)
    assert ZHANG_ID not in content and "13912345678" not in content


def test_text_that_looks_like_a_formula_stays_text(client, users, data):
    from minqing.registry.models import Household

    Household.objects.filter(pk=data.qx.pk).update(address='=HYPERLINK("http://x","点我")')
    response = login(client, users.cadre).get("/registry/export/households.xlsx")
    content = b"".join(response.streaming_content)
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    cell = next(c for c in ws["D"] if str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"


def test_filters_match_the_list(client, users, data, tree):
    login(client, users.township)
    grid = tree.grids["七星村2"].pk
    rows = sheet(client.get(f"/registry/export/households.xlsx?grid_id={grid}"))
    assert [r[0] for r in rows[1:]] == ["QX-2"]
    rows = sheet(client.get("/registry/export/residents.xlsx?q=zds"))
    assert [r[4] for r in rows[1:]] == ["张德书"]
    rows = sheet(client.get("/registry/export/residents.xlsx?status=moved_out"))
    assert [r[4] for r in rows[1:]] == ["张小明"]


def test_outsider_export_misses_the_rows(client, users, data):
    rows = sheet(login(client, users.outsider).get("/registry/export/households.xlsx"))
    assert [r[0] for r in rows[1:]] == ["HL-1"]
    rows = sheet(client.get("/registry/export/residents.xlsx?q=张德书"))
    assert rows[1:] == []


@pytest.mark.parametrize("kind", ["households", "residents"])
def test_forged_grid_id_is_404(client, users, data, tree, kind):
    login(client, users.cadre)
    before = AuditEvent.objects.filter(action="registry.export").count()
    other = tree.grids["鹤岭村1"].pk
    assert client.get(f"/registry/export/{kind}.xlsx?grid_id={other}").status_code == 404
    assert client.get(f"/registry/export/{kind}.xlsx?grid_id=999999").status_code == 404
    assert client.get(f"/registry/export/{kind}.xlsx?grid_id=abc").status_code == 404
    assert client.get(f"/api/registry/export/{kind}.xlsx?grid_id={other}").status_code == 404
    assert AuditEvent.objects.filter(action="registry.export").count() == before


def test_each_export_is_audited(client, users, data, tree):
    login(client, users.cadre)
    grid = tree.grids["七星村1"]
    sheet(client.get(f"/registry/export/residents.xlsx?grid_id={grid.pk}&tag=dibao&q=张"))
    event = AuditEvent.objects.get(action="registry.export")
    assert event.actor == users.cadre
    assert event.area_id == grid.pk
    assert event.detail == {
        "kind": "residents",
        "filters": {"q": "张", "grid_id": grid.pk, "tag": "dibao"},
        "rows": 2,
    }
    sheet(client.get("/registry/export/households.xlsx"))
    latest = AuditEvent.objects.filter(action="registry.export").order_by("-id").first()
    assert latest.detail["rows"] == 2 and latest.area_id == tree.qixing.pk


def test_api_export(client, users, data):
    login(client, users.township)
    rows = sheet(client.get("/api/registry/export/households.xlsx?tag=dibao"))
    assert [r[0] for r in rows[1:]] == ["QX-1"]
    rows = sheet(client.get("/api/registry/export/residents.xlsx?q=王芳"))
    assert [r[4] for r in rows[1:]] == ["王芳"]
    assert AuditEvent.objects.filter(action="registry.export", channel="api").count() == 2


def test_grid_worker_may_not_export(client, users, data):
    login(client, users.grid)
    assert client.get("/registry/export/households.xlsx").status_code == 403
    assert client.get("/api/registry/export/residents.xlsx").status_code == 403
    assert not AuditEvent.objects.filter(action="registry.export").exists()


def test_anonymous_is_sent_to_login(client, data):
    response = client.get("/registry/export/households.xlsx")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get("/api/registry/export/households.xlsx").status_code == 401


def test_export_query_count_does_not_grow_with_rows(
    client, users, tree, data, django_assert_max_num_queries
):
    login(client, users.township)
    for i in range(30):
        hh = HouseholdFactory(grid=tree.grids["昭山村1"], number=f"ZS-{i:02d}")
        ResidentFactory(household=hh, relation=Relation.HEAD)
    with django_assert_max_num_queries(14):
        rows = sheet(client.get("/registry/export/residents.xlsx"))
    assert len(rows) == 1 + 4 + 30


def test_household_export_runs_the_same_queries_for_5_or_40_rows(
    client, users, tree, data, django_assert_num_queries
):
    """Session, user, the kept count (inline or job), the rows with their living members,
    their tags, the audit event: none per row. The actor's areas (caption and audit) come
    from the session's paths and the process's copy of the areas: no query."""
    login(client, users.cadre)
    client.get("/registry/households/")  # the session keeps the jurisdiction paths
    for added in (2, 35):
        for _i in range(added):
            hh = HouseholdFactory(grid=tree.grids["七星村2"])
            head = ResidentFactory(household=hh, relation=Relation.HEAD)
            period(tag_code="empty_nest", resident=head, start=date(2020, 1, 1))
            period(tag_code="dibao", household=hh, start=date(2020, 1, 1))
        with django_assert_num_queries(6):
            rows = sheet(client.get("/registry/export/households.xlsx"))
        assert len(rows) == 1 + Household.objects.visible_to(users.cadre).count()
        event = AuditEvent.objects.filter(action="registry.export").latest("id")
        assert event.area_id == tree.qixing.pk and event.detail["rows"] == len(rows) - 1
    content = b"".join(client.get("/registry/export/households.xlsx").streaming_content)
    caption = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]["A1"].value
    assert "区域：七星村" in caption  # the cadre's held village names the sheet


def test_export_links_keep_the_filters(users, data):
    request = RequestFactory().get("/registry/households/?tag=dibao&q=张")
    request.user = users.cadre
    template = Template('{% include "registry/export_links.html" with kind="residents" %}')
    from django.contrib.auth.context_processors import PermWrapper

    html = template.render(Context({"request": request, "perms": PermWrapper(users.cadre)}))
    assert "/registry/export/residents.xlsx?tag=dibao&amp;q=%E5%BC%A0" in html
    # the list refilters with htmx and pushes the filters to the address bar: follow them
    assert "data-keep-query" in html and "onclick" not in html  # app.js; no inline JS (CSP)
    assert "/registry/import/" in html
    request.user = users.grid
    html = template.render(Context({"request": request, "perms": PermWrapper(users.grid)}))
    assert "export" not in html and "import" not in html


def test_export_is_readable_and_named_after_area_filter_and_date(client, users, data, tree):
    response = login(client, users.township).get(
        "/registry/export/households.xlsx", {"grid_id": tree.qixing.pk, "tag": "dibao"}
    )
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert quote("户台账-七星村-低保-") in disposition
    content = b"".join(response.streaming_content)
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    assert ws.freeze_panes == "A3"
    assert ws.column_dimensions["D"].width >= 30  # 住址
    assert "七星村" in ws["A1"].value and "低保" in ws["A1"].value


def test_big_export_is_a_background_job_with_a_download(
    client, users, data, monkeypatch, django_capture_on_commit_callbacks
):
    from minqing.core.models import Job
    from minqing.registry import exports

    monkeypatch.setattr(exports, "EXPORT_INLINE_ROWS", 0)
    monkeypatch.setattr("minqing.registry.views_io.EXPORT_INLINE_ROWS", 0)
    ran = []
    monkeypatch.setattr(exports, "_run_in_thread", lambda job_id: ran.append(job_id))
    login(client, users.township)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/registry/export/residents.xlsx")
    assert response.status_code == 302
    job = Job.objects.get(kind="registry.export")
    assert response["Location"].endswith(f"/jobs/{job.pk}/") or str(job.pk) in response["Location"]
    assert ran == [str(job.pk)]
    exports.export_run(str(job.pk))  # what the thread runs
    job.refresh_from_db()
    assert job.status == "done" and job.result["rows"] == job.total
    download = client.get(f"/registry/export/{job.pk}/download/")
    assert download.status_code == 200
    rows = sheet(download)
    assert rows[0] == RESIDENT_HEADERS and len(rows) - 1 == job.total
    # another user cannot fetch it
    login(client, users.cadre)
    assert client.get(f"/registry/export/{job.pk}/download/").status_code == 404
