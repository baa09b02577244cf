"""Visit pages: the phone form in one post, the household page section, the home due list,
the visit log (print and xlsx), rules; every page with an id answers 404 to an outsider."""

import io
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from minqing.conftest import login
from minqing.registry.models import TagPeriod
from minqing.registry.tests.factories import period
from minqing.visits import services
from minqing.visits.models import Visit, VisitFinding, VisitRule

from .factories import household


@pytest.fixture
def hh(tree):
    return household(tree.grids["七星村1"], head="张德书", child="张小燕")


def form_data(hh, **extra):
    data = {
        "visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "place": "家中",
        "situation": "身体尚好,孩子在读小学",
        "met_others": "",
        "tag": "",
        "tag_resident": "",
        "tag_date": "",
        "follow_up_date": "",
        "need": "",
        "dispute": "",
    }
    data.update(extra)
    return data


def test_visit_form_saves_the_visit_and_its_findings(client, users, hh):
    login(client, users.grid)
    child = hh.members.get(relation="child")
    url = reverse("visits:create", args=[hh.pk])
    r = client.get(url)
    assert r.status_code == 200 and "张小燕" in r.content.decode()
    r = client.post(
        url,
        form_data(
            hh,
            met_members=[str(child.pk)],
            tag="left_behind_child",
            tag_resident=str(child.pk),
            tag_date=timezone.localdate().isoformat(),
            need="申请临时救助",
            follow_up_date=(timezone.localdate() + timedelta(days=10)).isoformat(),
        ),
    )
    assert r.status_code == 302
    visit = Visit.objects.get()
    assert sorted(visit.findings.values_list("kind", flat=True)) == ["follow_up", "need", "tag"]
    assert TagPeriod.objects.filter(resident=child, end_date__isnull=True).count() == 1
    # the household page shows the visit and what it raised
    r = client.get(reverse("registry:household", args=[hh.pk]))
    html = r.content.decode()
    assert "走访记录" in html and "身体尚好" in html and "申请临时救助" in html
    assert "留守儿童" in html


def test_visit_form_refuses_future_time_and_empty_situation(client, users, hh):
    login(client, users.grid)
    url = reverse("visits:create", args=[hh.pk])
    future = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(url, form_data(hh, visited_at=future))
    assert r.status_code == 400 and "不能晚于现在" in r.content.decode()
    r = client.post(url, form_data(hh, situation="  "))
    assert r.status_code == 400
    assert Visit.objects.count() == 0


def test_tag_without_date_is_refused(client, users, hh):
    login(client, users.grid)
    r = client.post(reverse("visits:create", args=[hh.pk]), form_data(hh, tag="dibao"))
    assert r.status_code == 400 and "请填写认定日期" in r.content.decode()
    assert Visit.objects.count() == 0


def test_pick_household_finds_only_the_jurisdiction(client, users, tree, hh):
    other = household(tree.grids["鹤岭村1"], head="张德书")
    login(client, users.grid)
    r = client.get(reverse("visits:pick"), {"q": "张德书"})
    html = r.content.decode()
    assert reverse("visits:create", args=[hh.pk]) in html
    assert reverse("visits:create", args=[other.pk]) not in html


def test_home_shows_the_due_list(client, users, hh):
    VisitRule.objects.all().delete()
    VisitRule.objects.create(name="特困月访", tag_id=_tag_id("tekun"), interval_days=30)
    period(tag_code="tekun", resident=hh.members.first(), start=date(2024, 1, 1))
    login(client, users.grid)
    html = client.get(reverse("home")).content.decode()
    assert "待走访" in html and reverse("visits:create", args=[hh.pk]) in html
    assert "逾期" in html
    r = client.get(reverse("visits:due"))
    assert r.status_code == 200 and "特困月访" in r.content.decode()


def _tag_id(code):
    from minqing.registry.models import Tag

    return Tag.objects.get(code=code).pk


def test_visit_detail_edit_and_note(client, users, hh):
    v = services.visit_record(actor=users.grid, household=hh, situation="原始")
    login(client, users.grid)
    r = client.get(reverse("visits:visit", args=[v.pk]))
    assert r.status_code == 200 and "修改(登记后 24 小时内)" in r.content.decode()
    r = client.post(reverse("visits:edit", args=[v.pk]), {"text": "更正"})
    assert r.status_code == 302
    Visit.objects.filter(pk=v.pk).update(created_at=timezone.now() - timedelta(days=2))
    r = client.get(reverse("visits:visit", args=[v.pk]))
    assert "修改(登记后 24 小时内)" not in r.content.decode()
    r = client.post(reverse("visits:edit", args=[v.pk]), {"text": "再改"})
    assert r.status_code == 302
    v.refresh_from_db()
    assert v.situation == "更正"
    r = client.post(reverse("visits:note", args=[v.pk]), {"text": "补记一条"})
    assert r.status_code == 302 and v.notes.count() == 1
    r = client.post(reverse("visits:note", args=[v.pk]), {"text": ""})
    assert r.status_code == 400 and v.notes.count() == 1


def test_visit_log_print_and_xlsx(client, users, hh):
    services.visit_record(actor=users.grid, household=hh, situation="民情日志一条", needs=["修路"])
    login(client, users.grid)
    r = client.get(reverse("visits:log"))
    html = r.content.decode()
    assert r.status_code == 200 and "民情日志一条" in html and "@media print" not in html
    r = client.get(reverse("visits:log"), {"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "时间" and rows[1][5] == "民情日志一条" and "修路" in rows[1][6]
    # a supervisor reads the grid worker's log
    login(client, users.supervisor)
    r = client.get(reverse("visits:log"), {"cadre": users.grid.pk})
    assert "民情日志一条" in r.content.decode()


def test_rules_page_admin_only_changes(client, users):
    login(client, users.cadre)
    r = client.post(reverse("visits:rules"), {"name": "x", "tag": "dibao", "interval_days": "7"})
    assert r.status_code == 403
    login(client, users.admin)
    r = client.post(
        reverse("visits:rules"),
        {"name": "低保户每周访", "tag": "dibao", "interval_days": "7", "is_active": "on"},
    )
    assert r.status_code == 302
    assert VisitRule.objects.get(name="低保户每周访").interval_days == 7
    r = client.post(reverse("visits:rules"), {"name": "坏", "tag": "dibao", "interval_days": "0"})
    assert r.status_code == 400 and not VisitRule.objects.filter(name="坏").exists()


@pytest.mark.parametrize("name", ["visits:create", "visits:visit", "visits:edit", "visits:note"])
def test_outsider_gets_404(client, users, hh, name):
    v = services.visit_record(actor=users.grid, household=hh, situation="x")
    login(client, users.outsider)
    pk = hh.pk if name == "visits:create" else v.pk
    url = reverse(name, args=[pk])
    r = client.post(url, form_data(hh, text="x")) if name != "visits:visit" else client.get(url)
    assert r.status_code == 404
    assert Visit.objects.count() == 1 and v.notes.count() == 0
    r = client.get(reverse("visits:log"), {"cadre": users.grid.pk})
    assert r.status_code == 404


def test_outsider_does_not_see_visits_in_lists(client, users, tree, hh):
    services.visit_record(actor=users.grid, household=hh, situation="秘密内容")
    login(client, users.outsider)
    assert "秘密内容" not in client.get(reverse("visits:log")).content.decode()
    assert VisitFinding.objects.visible_to(users.outsider).count() == 0


def test_offline_page_manifest_and_worker(client, users):
    login(client, users.grid)
    r = client.get(reverse("visits:offline"))
    html = r.content.decode()
    assert r.status_code == 200 and 'rel="manifest"' in html and "offline.js" in html
    assert "<script>" not in html and "onclick" not in html
    assert html.count('rel="manifest"') == 1  # the site's one manifest, not a second
    r = client.get(reverse("visits:sw"))
    assert r["Content-Type"] == "application/javascript" and b"caches" in r.content
    assert r["Service-Worker-Allowed"] == "/"


def test_conflicts_page_lists_only_mine_and_resolves(client, users, tree):
    import uuid as _uuid

    outside = household(tree.grids["鹤岭村1"])
    services.visit_sync(
        actor=users.grid,
        items=[
            {"client_id": str(_uuid.uuid4()), "household_id": outside.pk, "situation": "迁出户"}
        ],
    )
    from minqing.visits.models import SyncConflict

    c = SyncConflict.objects.get()
    login(client, users.cadre)
    assert "迁出户" not in client.get(reverse("visits:conflicts")).content.decode()
    assert client.post(reverse("visits:conflict_dismiss", args=[c.pk])).status_code == 404
    login(client, users.grid)
    assert "迁出户" in client.get(reverse("visits:conflicts")).content.decode()
    r = client.post(reverse("visits:conflict_retry", args=[c.pk]))
    assert r.status_code == 302
    c.refresh_from_db()
    assert c.resolved_at is None  # still outside: kept
    client.post(reverse("visits:conflict_dismiss", args=[c.pk]))
    c.refresh_from_db()
    assert c.resolved_at is not None and c.visit is None


def test_visit_form_with_a_photo_and_a_bad_one(client, users, hh, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .test_services import _png_with_text_chunk

    settings.MEDIA_ROOT = tmp_path
    login(client, users.grid)
    url = reverse("visits:create", args=[hh.pk])
    bad = SimpleUploadedFile("x.png", b"not an image at all")
    r = client.post(url, form_data(hh, photos=[bad]))
    assert r.status_code == 400 and "只能上传图片" in r.content.decode()
    assert Visit.objects.count() == 0
    good = SimpleUploadedFile("door.png", _png_with_text_chunk())
    r = client.post(url, form_data(hh, photos=[good]))
    assert r.status_code == 302
    v = Visit.objects.get()
    photo_url = reverse("visits:photo", args=[v.pk, v.photos.get().pk])
    assert photo_url in client.get(reverse("visits:visit", args=[v.pk])).content.decode()
    r = client.get(photo_url)
    assert r.status_code == 200 and r["Content-Type"] == "image/png"


def test_rule_with_a_taken_name_is_a_conflict(client, users):
    login(client, users.admin)
    data = {"name": "特困人员每月必访", "tag": "dibao", "interval_days": "7", "is_active": "on"}
    r = client.post(reverse("visits:rules"), data)
    assert r.status_code == 409 and "同名规则" in r.content.decode()
    assert VisitRule.objects.get(name="特困人员每月必访").interval_days == 30


def test_household_section_shows_what_each_visit_carries_in_two_queries(
    client, users, hh, django_assert_num_queries
):
    from minqing.visits.models import VisitNote, VisitPhoto

    from .factories import visit_at

    users.grid.last_name, users.grid.first_name = "王", "网格"
    users.grid.save()
    child = hh.members.get(relation="child")
    head = hh.members.get(relation="head")
    now = timezone.now()
    old = visit_at(hh, now - timedelta(days=3), by=users.grid, situation="第一次<b>走访</b>")
    new = visit_at(hh, now - timedelta(days=1), by=users.grid, situation="第二次走访")
    new.visitors.add(users.cadre)
    new.met_members.add(child, head)
    new.met_others = "邻居"
    new.save()
    tp = period(tag_code="left_behind_child", resident=child, start=date(2024, 1, 1))
    VisitFinding.objects.create(visit=new, kind="tag", text="认定", tag_period=tp)
    VisitFinding.objects.create(visit=new, kind="need", text="申请临时救助")
    VisitNote.objects.create(visit=old, text="补记一", author=users.grid)
    VisitNote.objects.create(visit=old, text="补记二", author=users.cadre)
    for name in ("b.jpg", "a.jpg"):
        VisitPhoto.objects.create(
            visit=new,
            file="x.jpg",
            original_name=name,
            content_type="image/jpeg",
            size=1,
            sha256="",
        )
    login(client, users.grid)
    url = reverse("registry:household", args=[hh.pk])
    client.get(url)
    # 10: the members' current tags come from the household's tag history (perf5b)
    with django_assert_num_queries(10) as captured:
        html = client.get(url).content.decode()
    section = html[html.index('class="visit-items"') :]
    # newest first; whom they met in id order, then the others; findings with the resident
    assert section.index("第二次走访") < section.index("第一次&lt;b&gt;走访&lt;/b&gt;")
    assert f"见到:{head.name}、{child.name}、邻居" in section or (
        f"见到:{child.name}、{head.name}、邻居" in section and child.pk < head.pk
    )
    assert "重点人群认定:认定(张小燕)" in section and "诉求/困难:申请临时救助" in section
    # visitors as added, named as User.__str__; notes in time order with their author
    assert f"走访人:王网格、{users.cadre}" in section
    assert section.index("补记一") < section.index("补记二")
    assert f"{users.cadre}</small>:补记二" in section
    photos = [p.pk for p in VisitPhoto.objects.order_by("uploaded_at", "id")]
    assert section.index(f"/visits/{new.pk}/photos/{photos[0]}/") < section.index(
        f"/visits/{new.pk}/photos/{photos[1]}/"
    )
    assert 'alt="b.jpg"' in section
    union = [q["sql"] for q in captured.captured_queries if "UNION ALL" in q["sql"]]
    assert len(union) == 1
    # more visits, more of everything: the same number of queries
    for i in range(3):
        v = visit_at(hh, now - timedelta(days=5 + i), by=users.grid)
        VisitNote.objects.create(visit=v, text=f"再补{i}", author=users.grid)
        v.met_members.add(head)
    with django_assert_num_queries(10):
        html = client.get(url).content.decode()
    assert "再补2" in html


def test_household_section_unions_the_same_statement_whatever_the_number_of_visits(
    client, users, hh
):
    """The visit ids are padded to VISITS_SHOWN: one statement for 1 visit or 20 (the
    household page prepares its statements, core.dbcursor.prepared_reads)."""
    from django.test.utils import CaptureQueriesContext

    from .factories import visit_at

    login(client, users.grid)
    url = reverse("registry:household", args=[hh.pk])
    now = timezone.now()
    unions = []
    for n in (1, 4):
        while Visit.objects.filter(household=hh).count() < n:
            visit_at(hh, now - timedelta(days=Visit.objects.count() + 1), by=users.grid)
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url).content.decode()
        assert html.count('class="visit-item"') == n
        unions += [q["sql"] for q in captured.captured_queries if "UNION ALL" in q["sql"]]
    # the statements differ only in their values: the same text with the ids taken out
    shapes = {re.sub(r"\b\d+\b", "N", sql) for sql in unions}
    assert len(unions) == 2 and len(shapes) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared on the server")
def test_household_page_statements_are_prepared_on_the_server(client, users, hh):
    """The household page runs inside core.dbcursor.prepared_reads: its statements (all
    keyed by the household's id) are prepared on the server, not planned on every view."""
    from .factories import visit_at

    visit_at(hh, timezone.now() - timedelta(days=1), by=users.grid)
    login(client, users.grid)
    client.get(reverse("registry:household", args=[hh.pk]))
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cur.fetchall()]
    for table in ("registry_household", "registry_tagperiod", "registry_resident"):
        assert any(f'FROM "{table}"' in s and "$1" in s for s in statements), table
    assert any("UNION ALL" in s and "visits_visitnote" in s for s in statements)
    assert any('FROM "appeals_appeal"' in s for s in statements)
