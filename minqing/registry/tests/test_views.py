"""Registry pages: scoping on every page, masked output, audited reveal, forms that change
nothing on bad input, pinned query counts, and the household-page sections."""

import copy
from datetime import date

import pytest
from django.urls import reverse

from minqing.conftest import login
from minqing.core import sections
from minqing.core.idcard import make_id_number
from minqing.core.models import AuditEvent
from minqing.registry import services
from minqing.registry.models import Household, Move, Relation, Resident, Tag, TagPeriod
from minqing.registry.selectors import household_search
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period, tag

ZHANG_ID = make_id_number("430302", date(1962, 5, 8), 111)
ZHANG_PHONE = "13812345678"


@pytest.fixture
def data(tree):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-1", address="七星村一组")
    zhang = ResidentFactory(
        household=qx, name="张德书", id_number=ZHANG_ID, phone=ZHANG_PHONE, relation=Relation.HEAD
    )
    child = ResidentFactory(household=qx, name="张小燕", relation=Relation.CHILD)
    zs = HouseholdFactory(grid=tree.grids["昭山村1"], number="ZS-1", address="昭山村一组")
    li = ResidentFactory(household=zs, name="李秀英", relation=Relation.HEAD)
    hl = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-1", address="鹤岭村一组")
    chen = ResidentFactory(household=hl, name="陈国强", relation=Relation.HEAD)
    chen_tag = period(tag_code="disabled", resident=chen, start=date(2020, 1, 1))
    return type(
        "D",
        (),
        dict(qx=qx, zhang=zhang, child=child, zs=zs, li=li, hl=hl, chen=chen, chen_tag=chen_tag),
    )


def rows():
    return tuple(m.objects.count() for m in (Household, Resident, Move, TagPeriod, Tag))


def registry_events():
    return AuditEvent.objects.filter(action__startswith="registry.")


# ------------------------------------------------------------ lists and scoping


def test_household_list_is_scoped(client, users, data):
    page = login(client, users.cadre).get("/registry/households/").content.decode()
    assert "QX-1" in page and "ZS-1" not in page and "HL-1" not in page
    page = login(client, users.township).get("/registry/households/").content.decode()
    assert "QX-1" in page and "ZS-1" in page and "HL-1" not in page
    page = login(client, users.outsider).get("/registry/households/").content.decode()
    assert "HL-1" in page and "QX-1" not in page


def test_resident_search_page_is_scoped_and_masked(client, users, data):
    page = login(client, users.township).get("/registry/residents/", {"q": "zds"}).content.decode()
    assert "张德书" in page
    assert ZHANG_ID not in page and ZHANG_PHONE not in page
    assert ZHANG_ID[:6] + "*" * 12 in page
    page = login(client, users.outsider).get("/registry/residents/", {"q": "zds"}).content.decode()
    assert "张德书" not in page


def test_filter_by_foreign_area_shows_nothing(client, users, tree, data):
    login(client, users.township)
    page = client.get("/registry/households/", {"grid_id": tree.helingcun.pk}).content.decode()
    assert "HL-1" not in page and "QX-1" not in page


def test_htmx_search_returns_only_the_results(client, users, data):
    login(client, users.cadre)
    response = client.get("/registry/households/", {"q": "張德書"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "QX-1" in body


def test_household_list_query_count(client, users, tree, data, django_assert_num_queries):
    def more(n):
        for _i in range(n):
            h = HouseholdFactory(grid=tree.grids["七星村2"])
            r = ResidentFactory(household=h, relation=Relation.HEAD)
            ResidentFactory(household=h, relation=Relation.SPOUSE, name="张桂英")
            period(tag_code="empty_nest", resident=r, start=date(2020, 1, 1))
            period(tag_code="dibao", household=h, start=date(2021, 1, 1))

    login(client, users.township)
    client.get("/registry/households/")  # warm the caches; the session keeps the paths
    # session, user, count (kept summaries), page (living members counted per row in it),
    # current tags of the page: none grows with the rows (the jurisdiction paths and held
    # areas come from the session; the areas, the picker's children and the tags of the
    # filter from the process's copies)
    for added in (3, 30):  # less than a page, then more than one
        more(added)
        with django_assert_num_queries(5):
            response = client.get("/registry/households/")
        assert response.status_code == 200
        total = Household.objects.visible_to(users.township).count()  # the kept count is exact
        assert f"共 {total} 户" in response.content.decode()
        # a search: its page (one row more than shown) and the members that matched; its
        # count only when there is more than one page
        for q in ("zhang", "张桂英"):
            found = household_search(fetched_by=users.township, q=q).count()
            with django_assert_num_queries(5 if found <= 20 else 6):
                response = client.get("/registry/households/", {"q": q})
            assert f"共 {found} 户" in response.content.decode()


@pytest.mark.parametrize("n", [19, 20, 21, 45])
def test_search_total_and_pages_around_one_page(client, users, tree, data, n):
    for i in range(n):
        h = HouseholdFactory(grid=tree.grids["七星村2"], number=f"SX-{i:03d}")
        ResidentFactory(household=h, relation=Relation.HEAD, name=f"欧阳{'甲乙丙丁戊'[i % 5]}")
    login(client, users.township)
    page1 = client.get("/registry/households/", {"q": "欧阳"}).content.decode()
    assert f"共 {n} 户" in page1 and page1.count('class="hh-number"') == min(n, 20)
    assert ("page=2" in page1) == (n > 20)
    numbers = set()
    for number in range(1, (n - 1) // 20 + 2):
        html = client.get("/registry/households/", {"q": "欧阳", "page": number}).content.decode()
        assert f"共 {n} 户" in html
        numbers |= {f"SX-{i:03d}" for i in range(n) if f">SX-{i:03d}<" in html}
    assert len(numbers) == n  # every household on exactly one of the pages


def test_household_list_counts_living_members_per_row(client, users, data):
    login(client, users.township)
    body = client.get("/registry/households/", {"q": "QX-1"}).content.decode()
    row = body[body.index('hh-number">QX-1<') :]
    living = data.qx.members.filter(status="living").count()
    assert living and f"{living} 人" in row[: row.index("</tr>")]


def test_a_new_tag_is_offered_by_the_filter_at_once(client, users, data):
    from minqing.registry import services

    login(client, users.township)
    assert "返乡创业" not in client.get("/registry/households/").content.decode()
    users.admin.is_superuser = True
    services.tag_create(actor=users.admin, code="fanxiang", name="返乡创业", scope="household")
    assert "返乡创业" in client.get("/registry/households/").content.decode()


def test_grid_worker_list_asks_nothing_below_the_grid(
    client, users, data, django_assert_num_queries
):
    login(client, users.grid)
    client.get("/registry/households/")
    # as the township's list: nothing below a grid, nothing asked
    with django_assert_num_queries(5):
        response = client.get("/registry/households/")
    assert response.status_code == 200


def test_resident_list_query_count(client, users, tree, data, django_assert_num_queries):
    for _i in range(12):
        ResidentFactory(household=HouseholdFactory(grid=tree.grids["七星村2"]))
    login(client, users.township)
    client.get("/registry/residents/")  # the first request keeps the paths in the session
    # session, user, count (kept summaries), page, current tags of the page: the rows are
    # written in Python, none of it grows with them
    with django_assert_num_queries(5):
        response = client.get("/registry/residents/", {"status": "living"})
    assert response.status_code == 200


HOUSEHOLD_PAGES = [
    ("get", "registry:household"),
    ("get", "registry:household_edit"),
    ("post", "registry:member_add"),
    ("post", "registry:tag_give"),
    ("post", "registry:move"),
    ("post", "registry:household_reveal_phone"),
]


def test_forged_household_on_a_move_correction_is_404(client, users, data):
    """A move of a foreign household cannot be corrected through an own household's URL, nor
    through its own."""
    users.admin.is_superuser = True
    move = services.resident_move(
        actor=users.admin, resident=data.chen, kind="out", date=date(2024, 6, 1)
    )
    login(client, users.township)
    before = rows()
    for household in (data.qx, data.hl):
        url = reverse("registry:move_correct", args=[household.pk, move.pk])
        assert client.post(url, {"reason": "x"}).status_code == 404
    assert rows() == before


@pytest.mark.parametrize(("method", "name"), HOUSEHOLD_PAGES)
def test_forged_household_id_is_404(client, users, data, method, name):
    login(client, users.township)
    before = rows()
    forged = getattr(client, method)(reverse(name, args=[data.hl.pk]))
    missing = getattr(client, method)(reverse(name, args=[999999]))
    assert forged.status_code == missing.status_code == 404
    assert "陈国强" not in forged.content.decode()
    assert rows() == before
    assert not registry_events().exists()


@pytest.mark.parametrize(
    "url",
    [
        "/registry/residents/{chen}/edit/",
        "/registry/residents/{chen}/reveal/id/",
        "/registry/residents/{chen}/reveal/phone/",
    ],
)
def test_forged_resident_id_is_404(client, users, data, url):
    login(client, users.township)
    method = client.post if "reveal" in url else client.get
    response = method(url.format(chen=data.chen.pk))
    assert response.status_code == 404
    assert not registry_events().exists()


def test_ending_a_foreign_tag_period_is_404(client, users, data):
    login(client, users.township)
    url = reverse("registry:tag_remove", args=[data.qx.pk, data.chen_tag.pk])
    response = client.post(url, {"date": "2024-01-01", "reason": "x"})
    assert response.status_code == 404
    data.chen_tag.refresh_from_db()
    assert data.chen_tag.end_date is None


def test_own_pages_are_served(client, users, data):
    login(client, users.cadre)
    for url in [
        "/registry/",
        "/registry/households/",
        "/registry/households/new/",
        f"/registry/households/{data.qx.pk}/",
        f"/registry/households/{data.qx.pk}/edit/",
        "/registry/residents/",
        f"/registry/residents/{data.zhang.pk}/edit/",
        "/registry/places/",
        "/registry/places/new/",
        "/registry/organisations/",
        "/registry/organisations/new/",
        "/registry/tags/",
        "/registry/tags/disabled/",
    ]:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url


# ------------------------------------------------------------ household page


def test_household_page_masks_and_offers_reveal_only_to_allowed_roles(client, users, data):
    page = login(client, users.cadre).get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert ZHANG_ID not in page and ZHANG_PHONE not in page
    assert "138****5678" in page
    assert "reveal-form" in page and "查看原因" in page
    page = login(client, users.grid).get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert "张德书" in page
    assert "reveal-form" not in page
    assert ZHANG_ID not in page


def test_reveal_on_the_page_is_audited(client, users, data):
    login(client, users.cadre)
    response = client.post(
        f"/registry/residents/{data.zhang.pk}/reveal/id/",
        {"reason": "核实身份"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert ZHANG_ID in response.content.decode()
    client.post(
        f"/registry/residents/{data.zhang.pk}/reveal/phone/",
        {"reason": "", "reason_other": "通知开会"},
        HTTP_HX_REQUEST="true",
    )
    events = registry_events().order_by("id")
    assert [e.action for e in events] == [
        "registry.resident.reveal_id",
        "registry.resident.reveal_phone",
    ]
    assert [e.detail["reason"] for e in events] == ["核实身份", "通知开会"]
    assert events[0].actor == users.cadre and events[0].channel == "web"


def test_reveal_on_the_page_without_a_reason_asks_again(client, users, data):
    login(client, users.cadre)
    response = client.post(
        f"/registry/residents/{data.zhang.pk}/reveal/id/",
        {"reason": "", "reason_other": "  "},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert ZHANG_ID not in body and "请说明查看原因" in body
    assert not registry_events().exists()


@pytest.mark.parametrize("who", ["grid", "leader", "dept"])
def test_reveal_denied_role_gets_403_and_no_event(client, users, data, who):
    login(client, getattr(users, who))
    response = client.post(
        f"/registry/residents/{data.zhang.pk}/reveal/id/",
        {"reason": "核实身份"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 403
    assert ZHANG_ID not in response.content.decode()
    assert not registry_events().exists()


def test_household_page_shows_tag_history_and_registered_sections(client, users, data):
    services.tag_give(
        actor=users.cadre,
        tag=tag("dibao"),
        household=data.qx,
        start_date=date(2020, 1, 1),
        reason="低收入",
    )
    services.tag_remove(
        actor=users.cadre,
        tag=tag("dibao"),
        household=data.qx,
        end_date=date(2022, 1, 1),
        reason="脱贫",
    )
    services.resident_move(
        actor=users.cadre, resident=data.child, kind="out", date=date(2023, 5, 1), reason="外出落户"
    )
    page = login(client, users.cadre).get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert "低收入" in page and "脱贫" in page and "2022-01-01" in page
    assert "迁入迁出记录" in page and "外出落户" in page


def test_other_apps_add_sections_without_editing_the_registry(
    client, users, data, monkeypatch, settings
):
    sections.registered_sections("registry.household")  # the apps' own, discovered first
    monkeypatch.setattr(sections, "_SECTIONS", {k: list(v) for k, v in sections._SECTIONS.items()})
    seen = []

    def visits(request, household):
        seen.append(household.pk)
        return {"title_extra": "走访 3 次"}

    sections.register_section(
        "registry.household",
        title="走访记录",
        template="visits/_section.html",
        context=visits,
        order=5,
    )
    sections.register_section(
        "registry.household",
        title="隐藏的",
        template="registry/_hidden.html",
        context=lambda r, h: None,
        order=6,
    )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["APP_DIRS"] = False
    templates[0]["OPTIONS"]["loaders"] = [
        (
            "django.template.loaders.locmem.Loader",
            {"visits/_section.html": "<p>{{ title_extra }} · {{ household.number }}</p>"},
        ),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    settings.TEMPLATES = templates
    page = login(client, users.cadre).get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert seen == [data.qx.pk]
    assert "走访记录" in page and "走访 3 次 · QX-1" in page
    assert "隐藏的" not in page
    assert page.index("走访记录") < page.index("迁入迁出记录")  # order 5 before 10


# ------------------------------------------------------------ forms


def test_create_household_then_add_the_head(client, users, tree):
    login(client, users.cadre)
    response = client.post(
        "/registry/households/new/", {"grid": tree.grids["七星村1"].pk, "address": "七星村九组"}
    )
    household = Household.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/registry/households/{household.pk}/"
    response = client.post(
        f"/registry/households/{household.pk}/members/",
        {
            "name": "周建军",
            "id_number": make_id_number("430302", date(1988, 8, 8), 17),
            "relation": "head",
        },
    )
    assert response.status_code == 302
    household.refresh_from_db()
    assert household.head.name == "周建军"


def test_household_in_a_foreign_grid_cannot_be_created(client, users, tree):
    login(client, users.cadre)
    before = rows()
    response = client.post(
        "/registry/households/new/", {"grid": tree.grids["鹤岭村1"].pk, "address": "x"}
    )
    assert response.status_code == 400
    assert rows() == before


@pytest.mark.parametrize(
    ("id_number", "status", "fragment"),
    [
        ("4303021988080812", 400, "18 位"),
        (make_id_number("990302", date(1988, 8, 8), 1), 400, "地区码"),
        ("430302198813011234", 400, "出生日期"),
        (ZHANG_ID[:17] + ("0" if ZHANG_ID[-1] != "0" else "1"), 400, "校验位"),
        (ZHANG_ID, 409, "已登记"),
    ],
)
def test_add_member_bad_id_shows_why_and_changes_nothing(
    client, users, data, id_number, status, fragment
):
    login(client, users.cadre)
    before = rows()
    response = client.post(
        f"/registry/households/{data.qx.pk}/members/",
        {"name": "某人", "id_number": id_number, "relation": "child"},
    )
    assert response.status_code == status
    assert fragment in response.content.decode()
    assert rows() == before
    assert not registry_events().exists()


def test_give_and_end_a_tag_on_the_page(client, users, data):
    login(client, users.cadre)
    response = client.post(
        f"/registry/households/{data.qx.pk}/tags/",
        {
            "tag": "left_behind_child",
            "subject": data.child.pk,
            "date": "2024-03-01",
            "reason": "父母外出",
        },
    )
    assert response.status_code == 302
    p = TagPeriod.objects.get(resident=data.child)
    response = client.post(
        f"/registry/households/{data.qx.pk}/tags/{p.pk}/end/",
        {"date": "2025-03-01", "reason": "父母返乡"},
    )
    assert response.status_code == 302
    p.refresh_from_db()
    assert (p.end_date, p.end_reason, p.ended_by) == (date(2025, 3, 1), "父母返乡", users.cadre)


def test_tag_conflict_on_the_page_is_409(client, users, data):
    login(client, users.cadre)
    body = {"tag": "dibao", "subject": "household", "date": "2024-03-01", "reason": "x"}
    client.post(f"/registry/households/{data.qx.pk}/tags/", body)
    before = rows()
    response = client.post(f"/registry/households/{data.qx.pk}/tags/", body)
    assert response.status_code == 409
    assert "无需重复认定" in response.content.decode()
    assert rows() == before


def test_tagging_a_foreign_resident_through_an_own_household_is_404(client, users, data):
    login(client, users.township)
    response = client.post(
        f"/registry/households/{data.qx.pk}/tags/",
        {"tag": "disabled", "subject": data.chen.pk, "date": "2024-03-01", "reason": "x"},
    )
    assert response.status_code == 400  # not one of this household's members: form refuses it
    assert (
        not TagPeriod.objects.filter(resident=data.chen, tag__code="disabled")
        .exclude(pk=data.chen_tag.pk)
        .exists()
    )


def test_move_on_the_page_asks_for_confirmation_first(client, users, data):
    login(client, users.township)
    body = {
        "resident": data.child.pk,
        "kind": "transfer",
        "date": "2024-06-01",
        "to_household": data.zs.pk,
        "relation": "other",
    }
    before = rows()
    response = client.post(f"/registry/households/{data.qx.pk}/moves/", body)
    assert response.status_code == 200
    page = response.content.decode()
    child, source, target = data.child.name, data.qx.name, data.zs.name
    assert f"将 {child} 从 {source} 迁入 {target}，确认？" in page
    assert 'name="confirmed" value="1"' in page
    assert rows() == before  # nothing written before the confirmation
    response = client.post(f"/registry/households/{data.qx.pk}/moves/", {**body, "confirmed": "1"})
    assert response.status_code == 302
    data.child.refresh_from_db()
    assert data.child.household == data.zs


def test_move_to_a_foreign_household_is_refused_even_confirmed(client, users, data):
    login(client, users.township)
    before = rows()
    response = client.post(
        f"/registry/households/{data.qx.pk}/moves/",
        {
            "resident": data.child.pk,
            "kind": "transfer",
            "date": "2024-07-01",
            "to_household": data.hl.pk,
            "confirmed": "1",
        },
    )
    assert response.status_code == 400
    assert "不在您的管辖范围内" in response.content.decode()
    assert rows() == before


def test_transfer_without_a_picked_household_is_refused(client, users, data):
    login(client, users.township)
    before = rows()
    response = client.post(
        f"/registry/households/{data.qx.pk}/moves/",
        {"resident": data.child.pk, "kind": "transfer", "date": "2024-07-01", "confirmed": "1"},
    )
    assert response.status_code == 400
    assert "请搜索并选择迁入的户" in response.content.decode()
    assert rows() == before


def test_death_needs_the_stronger_confirmation(client, users, data):
    login(client, users.cadre)
    body = {"resident": data.child.pk, "kind": "death", "date": "2024-07-01"}
    url = f"/registry/households/{data.qx.pk}/moves/"
    page = client.post(url, body).content.decode()
    assert "已死亡，确认？" in page and 'name="verified"' in page
    before = rows()
    page = client.post(url, {**body, "confirmed": "1"}).content.decode()
    assert "请先勾选已核实" in page
    assert rows() == before
    response = client.post(url, {**body, "confirmed": "1", "verified": "1"})
    assert response.status_code == 302
    data.child.refresh_from_db()
    assert data.child.status == "deceased"


def test_an_htmx_move_ends_with_a_full_page_redirect(client, users, data):
    login(client, users.township)
    response = client.post(
        f"/registry/households/{data.qx.pk}/moves/",
        {
            "resident": data.child.pk,
            "kind": "out",
            "date": "2024-06-01",
            "confirmed": "1",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(f"/registry/households/{data.qx.pk}/")


def test_correcting_a_move_from_the_household_page(client, users, data):
    login(client, users.cadre)
    url = f"/registry/households/{data.qx.pk}/moves/"
    client.post(
        url, {"resident": data.child.pk, "kind": "out", "date": "2024-06-01", "confirmed": "1"}
    )
    move = data.child.moves.get()
    page = client.get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert f"/moves/{move.pk}/correct/" in page
    response = client.post(
        f"/registry/households/{data.qx.pk}/moves/{move.pk}/correct/", {"reason": "误点迁出"}
    )
    assert response.status_code == 302
    data.child.refresh_from_db()
    assert data.child.status == "living"
    page = client.get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert "已更正" in page and "误点迁出" in page
    assert f"/moves/{move.pk}/correct/" not in page  # corrected once


def test_household_picker_answers_within_the_jurisdiction(client, users, data):
    login(client, users.cadre)
    r = client.get("/registry/households/pick/", {"q": data.qx.address[:4]})
    assert r.status_code == 200
    items = r.json()["items"]
    assert data.qx.pk in [i["id"] for i in items]
    assert all(i["id"] != data.hl.pk for i in items)
    r = client.get("/registry/households/pick/", {"q": data.hl.number})
    assert r.json()["items"] == []
    head = data.qx.head.name_pinyin
    r = client.get("/registry/households/pick/", {"q": head})
    assert r.json()["items"][0]["label"].startswith(f"{data.qx.head.name}户 · ")


def test_resident_edit_does_not_prefill_the_full_number(client, users, data):
    login(client, users.cadre)
    page = client.get(f"/registry/residents/{data.zhang.pk}/edit/").content.decode()
    assert ZHANG_ID not in page and ZHANG_PHONE not in page
    response = client.post(
        f"/registry/residents/{data.zhang.pk}/edit/",
        {"name": "张德树", "relation": "head", "id_number": "", "phone": "", "version": 1},
    )
    assert response.status_code == 302
    data.zhang.refresh_from_db()
    assert (data.zhang.name, data.zhang.id_number, data.zhang.phone) == (
        "张德树",
        ZHANG_ID,
        ZHANG_PHONE,
    )


def test_view_only_role_cannot_use_the_forms(client, users, data):
    login(client, users.leader)
    page = client.get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert "添加成员" not in page
    before = rows()
    response = client.post(
        f"/registry/households/{data.qx.pk}/members/",
        {
            "name": "某人",
            "id_number": make_id_number("430302", date(1988, 8, 8), 1),
            "relation": "child",
        },
    )
    assert response.status_code == 403
    assert client.get("/registry/households/new/").status_code == 403
    assert rows() == before


# ------------------------------------------------------------ places, organisations, tags


def test_places_and_organisations(client, users, tree):
    login(client, users.grid)
    response = client.post(
        "/registry/places/new/",
        {"grid": tree.grids["七星村1"].pk, "name": "七星超市", "kind": "shop"},
    )
    assert response.status_code == 302
    assert "七星超市" in client.get("/registry/places/").content.decode()
    assert "七星超市" not in login(client, users.outsider).get("/registry/places/").content.decode()
    login(client, users.cadre)
    response = client.post(
        "/registry/organisations/new/",
        {
            "grid": tree.grids["七星村1"].pk,
            "name": "合作社",
            "kind": "cooperative",
            "credit_code": "12",
        },
    )
    assert response.status_code == 400
    assert "统一社会信用代码" in response.content.decode()


def test_tag_administration(client, users):
    login(client, users.admin)
    page = client.get("/registry/tags/").content.decode()
    assert "新增标签" in page and "建档立卡贫困户" in page
    response = client.post(
        "/registry/tags/", {"name": "退役军人", "code": "veteran", "scope": "resident"}
    )
    assert response.status_code == 302
    assert Tag.objects.filter(code="veteran", is_system=False).exists()
    response = client.post(
        "/registry/tags/", {"name": "退役军人", "code": "veteran2", "scope": "resident"}
    )
    assert response.status_code == 409
    login(client, users.township)
    assert "新增标签" not in client.get("/registry/tags/").content.decode()
    response = client.post("/registry/tags/", {"name": "某类", "code": "some", "scope": "resident"})
    assert response.status_code == 403
    assert not Tag.objects.filter(code="some").exists()


def test_tag_page_lists_carriers_on_a_day(client, users, data):
    period(tag_code="dibao", household=data.qx, start=date(2020, 1, 1), end=date(2021, 1, 1))
    period(tag_code="dibao", household=data.hl, start=date(2020, 1, 1))
    login(client, users.township)
    page = client.get("/registry/tags/dibao/", {"day": "2020-06-01"}).content.decode()
    assert "QX-1" in page and "HL-1" not in page
    page = client.get("/registry/tags/dibao/", {"day": "2021-06-01"}).content.decode()
    assert "QX-1" not in page


def test_home_panel_counts_the_jurisdiction(client, users, data):
    page = login(client, users.township).get("/").content.decode()
    assert "户籍台账" in page
    assert reverse("registry:households") in page


def test_admin_back_office_is_scoped_read_only_and_masked(client, users, data):
    login(client, users.admin)
    listing = client.get("/admin/registry/resident/")
    assert listing.status_code == 200
    assert ZHANG_ID not in listing.content.decode()
    detail = client.get(f"/admin/registry/resident/{data.zhang.pk}/change/")
    assert detail.status_code == 200
    assert ZHANG_ID not in detail.content.decode() and ZHANG_PHONE not in detail.content.decode()
    assert client.get("/admin/registry/resident/add/").status_code == 403
    # A cadre-level admin sees their own jurisdiction only.
    from minqing.accounts.tests.factories import UserFactory
    from minqing.core.roles import Role

    local = UserFactory(
        username="local-admin", role=Role.ADMIN, is_staff=True, areas=[data.hl.grid]
    )
    login(client, local)
    page = client.get("/admin/registry/household/").content.decode()
    assert "HL-1" in page and "QX-1" not in page


def test_household_page_query_count_does_not_grow_with_members(
    client, users, data, django_assert_num_queries
):
    login(client, users.cadre)
    url = f"/registry/households/{data.qx.pk}/"
    client.get(url)
    for _i in range(6):
        r = ResidentFactory(household=data.qx)
        period(tag_code="disabled", resident=r, start=date(2020, 1, 1))
        services.resident_move(actor=users.cadre, resident=r, kind="out", date=date(2021, 1, 1))
    living = ResidentFactory(household=data.qx, name="赵有才")
    period(tag_code="empty_nest", resident=living, start=date(2022, 1, 1))
    # session, user, household (with its grid, village and township: the crumbs), tag
    # history, members (their open tags taken from the history), moves (the household was
    # looked up through the scope: no second check; a bare probe, then the moves with what
    # they show: this household has some), the appeals section, the visits section
    # (visits, open questionnaires); no form: each is fetched when its panel opens; the
    # jurisdiction paths come from the session
    with django_assert_num_queries(10):
        response = client.get(url)
    html = response.content.decode()
    assert "成员（9 人）" in html
    # each member's row shows its own open tags, and no ended one (the six moved out)
    rows = html[html.index('id="members"') : html.index('id="tags"')]
    row = rows[rows.index(f'id="r{living.pk}"') :]
    assert "空巢老人" in row[: row.index("</tr>")]
    assert ">残疾</span>" not in rows


def test_household_page_without_moves_probes_for_them_in_one_query(
    client, users, data, django_assert_num_queries
):
    """Most households never had a move: the page asks with one bare probe and leaves out
    the statement that joins what a move shows."""
    from minqing.registry.models import Move

    login(client, users.cadre)
    url = f"/registry/households/{data.qx.pk}/"
    assert not Move.objects.filter(from_household=data.qx).exists()
    assert not Move.objects.filter(to_household=data.qx).exists()
    client.get(url)
    with django_assert_num_queries(9):
        html = client.get(url).content.decode()
    assert "没有迁入迁出记录" in html


def test_move_history_does_not_name_a_household_outside_the_jurisdiction(client, users, data):
    # an administrator of the whole city moves 张小燕 from 七星村 to 鹤岭村 (another township)
    users.admin.is_superuser = True
    services.resident_move(
        actor=users.admin,
        resident=data.child,
        kind="transfer",
        date=date(2024, 6, 1),
        to_household=data.hl,
    )
    page = login(client, users.township).get(f"/registry/households/{data.qx.pk}/")
    html = page.content.decode()
    assert "张小燕" in html and "辖区外" in html
    assert "HL-1" not in html and f"/registry/households/{data.hl.pk}/" not in html
    assert data.hl.address not in html
    # the city administrator sees where she went
    html = login(client, users.admin).get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert data.hl.label in html


# ------------------------------------------------------------ form panels, fetched on opening


def test_household_page_renders_no_form_until_a_panel_is_opened(client, users, data):
    login(client, users.cadre)
    page = client.get(f"/registry/households/{data.qx.pk}/").content.decode()
    assert not any(f'name="{n}"' in page for n in ("id_number", "subject", "kind"))
    for name in ("member", "tag", "move"):
        assert f"/registry/households/{data.qx.pk}/forms/{name}/" in page
    member = client.get(f"/registry/households/{data.qx.pk}/forms/member/")
    assert member.status_code == 200 and 'name="id_number"' in member.content.decode()
    tag_panel = client.get(f"/registry/households/{data.qx.pk}/forms/tag/").content.decode()
    assert "低保" in tag_panel and 'name="subject"' in tag_panel
    move = client.get(f"/registry/households/{data.qx.pk}/forms/move/").content.decode()
    assert data.child.name in move and 'name="kind"' in move


def test_household_page_opens_a_panel_without_javascript(client, users, data):
    login(client, users.cadre)
    page = client.get(f"/registry/households/{data.qx.pk}/?open=tag").content.decode()
    assert 'id="panel-tag" open' in page and 'name="subject"' in page
    page = client.get(f"/registry/households/{data.qx.pk}/?open=nonsense").content.decode()
    assert " open>" not in page.split('id="panel-member"')[1][:5]


def test_household_form_panels_are_scoped_and_need_the_right(client, users, data):
    login(client, users.outsider)  # 鹤岭村: 七星村's household answers 404, form and page alike
    for name in ("member", "tag", "move"):
        assert client.get(f"/registry/households/{data.qx.pk}/forms/{name}/").status_code == 404
    assert client.get(f"/registry/households/{data.hl.pk}/forms/member/").status_code == 200
    login(client, users.leader)  # may view, may not edit or tag
    assert client.get(f"/registry/households/{data.qx.pk}/").status_code == 200
    for name in ("member", "tag", "move"):
        assert client.get(f"/registry/households/{data.qx.pk}/forms/{name}/").status_code == 403
    page = client.get(f"/registry/households/{data.qx.pk}/?open=member").content.decode()
    assert 'name="id_number"' not in page
    login(client, users.cadre)
    assert client.get(f"/registry/households/{data.qx.pk}/forms/other/").status_code == 404


def test_reveal_box_is_the_included_template(rf):
    """{% reveal_box %} (the household page) gives what the include gave, values escaped."""
    from django.template import Context, Template

    from minqing.registry.templatetags.households import reveal_box

    for masked in ("430***********1234", "", '<b>"x"</b>'):
        url = '/registry/residents/1/reveal/id/?a=1&b="2"'
        included = Template(
            '{% include "registry/_reveal.html" with url=url masked=masked %}'
        ).render(Context({"url": url, "masked": masked}))
        assert reveal_box(url, masked) == included
        assert reveal_box(url, masked) == included  # the second from the kept shell
    assert "&lt;b&gt;" in reveal_box("/u/", "<b>")


def test_a_move_the_ages_contradict_is_refused_on_the_page_writing_nothing(client, users, data):
    """The move form's 在新户中的关系 goes through the importer's age rule: moving a person
    born in 1962 into a household whose 户主 was born in 1990 as 子女 is refused, confirmed
    or not, with the years named; nothing is written."""
    young = HouseholdFactory(grid=data.qx.grid, number="QX-Y", address="七星村二组")
    ResidentFactory(
        household=young, name="张青", relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1990, 2, 2), 21),
    )  # fmt: skip
    login(client, users.cadre)
    before, events = rows(), registry_events().count()
    body = {
        "resident": data.zhang.pk,
        "kind": "transfer",
        "date": "2024-06-01",
        "to_household": young.pk,
        "relation": "child",
        "confirmed": "1",
    }
    response = client.post(f"/registry/households/{data.qx.pk}/moves/", body)
    assert response.status_code == 400
    page = response.content.decode()
    assert "与户主关系为“子女”" in page and "1962" in page and "不晚于户主(1990)" in page
    assert rows() == before and registry_events().count() == events
    data.zhang.refresh_from_db()
    assert data.zhang.household == data.qx and data.zhang.relation == Relation.HEAD
    response = client.post(
        f"/registry/households/{data.qx.pk}/moves/", {**body, "relation": "parent"}
    )
    assert response.status_code == 302
    data.zhang.refresh_from_db()
    assert data.zhang.household == young and data.zhang.relation == Relation.PARENT
