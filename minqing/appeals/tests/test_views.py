"""Appeal pages: list, duties on the home page, intake form, actions with errors on the
form, public form and tracking page without an account."""

import re

from django.test import Client

from minqing.appeals.models import Appeal
from minqing.appeals.services import appeal_claim, appeal_reply, appeal_resolve, appeal_start
from minqing.appeals.tests.factories import category, file_appeal
from minqing.conftest import login
from minqing.registry.tests.factories import HouseholdFactory


def test_home_shows_my_duties(client, users, tree):
    file_appeal(actor=users.cadre, area=tree.qixing, content="水渠堵了", title="水渠堵了")
    login(client, users.cadre)
    r = client.get("/")
    assert (
        r.status_code == 200
        and "履职清单" in r.content.decode()
        and "水渠堵了" in r.content.decode()
    )
    login(client, users.outsider)
    assert "水渠堵了" not in client.get("/").content.decode()


def test_list_filters_and_export(client, users, tree):
    file_appeal(actor=users.cadre, area=tree.qixing, title="路灯坏了", code="streetlight")
    file_appeal(actor=users.cadre, area=tree.qixing, title="没水喝", code="water")
    login(client, users.township)
    body = client.get("/appeals/?category=water").content.decode()
    assert "没水喝" in body and "路灯坏了" not in body
    r = client.get("/appeals/export.xlsx?category=water")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")


def test_intake_form_and_claim_on_the_page(client, users, tree):
    login(client, users.cadre)
    assert client.get("/appeals/new/").status_code == 200
    r = client.post(
        "/appeals/new/",
        {
            "channel": "walk_in",
            "kind": "appeal",
            "category_id": category().pk,
            "area_id": tree.qixing.pk,
            "content": "组里的路烂了",
        },
    )
    assert r.status_code == 302
    appeal = Appeal.objects.get()
    page = client.get(r["Location"]).content.decode()
    assert "请把查询码告诉群众" in page
    r = client.post(f"/appeals/{appeal.pk}/act/claim/", {"claim-comment": ""})
    assert r.status_code == 302 and Appeal.objects.get().state == "claimed"
    r = client.post(f"/appeals/{appeal.pk}/act/claim/", {"claim-comment": ""})
    assert r.status_code == 409 and "不允许" in r.content.decode()


def test_intake_form_refuses_an_area_outside_jurisdiction(client, users, tree):
    login(client, users.cadre)
    r = client.post(
        "/appeals/new/",
        {
            "channel": "walk_in",
            "kind": "appeal",
            "category_id": category().pk,
            "area_id": tree.helingcun.pk,
            "content": "x",
        },
    )
    assert r.status_code == 400 and not Appeal.objects.exists()


def test_household_page_lists_its_appeals(client, users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村1"])
    file_appeal(
        actor=users.cadre, area=tree.qixing, household_id=hh.pk, title="危房求助", code="housing"
    )
    login(client, users.cadre)
    assert "危房求助" in client.get(f"/registry/households/{hh.pk}/").content.decode()


def test_public_form_and_tracking_page_without_an_account(users, tree, db):
    anon = Client(enforce_csrf_checks=False)
    assert anon.get("/appeals/public/new/").status_code == 200
    r = anon.post(
        "/appeals/public/new/",
        {
            "category_id": category("water").pk,
            "area_id": tree.qixing.pk,
            "content": "我屋里冇得水喝了",
            "contact_name": "李四",
        },
    )
    assert r.status_code == 200
    code = re.search(r'id="tracking-code">([0-9A-Z-]+)<', r.content.decode()).group(1)
    appeal = Appeal.objects.get()
    appeal_claim(actor=users.cadre, appeal=appeal, comment="内部意见")
    appeal_start(actor=users.cadre, appeal=appeal)
    appeal_reply(actor=users.cadre, appeal=appeal, text="内部备注", is_public=False)
    appeal_resolve(actor=users.cadre, appeal=appeal, result="内部结果", public_reply="水管修好了")
    page = anon.post("/appeals/track/", {"code": code}).content.decode()
    assert "水管修好了" in page and "已办结" in page
    for secret in ("内部", "李四", "七星村", str(users.cadre)):
        assert secret not in page.split("<main")[1], secret
    page = anon.post("/appeals/track/", {"code": code, "rating": "satisfied"}).content.decode()
    assert Appeal.objects.get().state == "revisited" and "已回访" in page
    r = anon.post("/appeals/track/", {"code": "0000-0000-0000-0000"})
    assert r.status_code == 404


def test_intake_suggestions_partial(client, users, tree):
    file_appeal(
        actor=users.cadre, area=tree.qixing, code="water", content="自来水停了三天了,冇得水煮饭"
    )
    login(client, users.cadre)
    r = client.post(
        "/appeals/suggest/",
        {"content": "屋里自来水停了好几天,冇得水煮饭", "area_id": tree.qixing.pk},
    )
    body = r.content.decode()
    assert "饮水供水" in body and "可能重复" in body


def test_stats_count_levels_and_leader_claims(client, users, tree):
    from minqing.appeals.selectors import leader_claims, solved_by_level

    a = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal_claim(actor=users.cadre, appeal=a)
    appeal_start(actor=users.cadre, appeal=a)
    appeal_resolve(actor=users.cadre, appeal=a, result="好了")
    b = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal_claim(actor=users.leader, appeal=b)
    levels = solved_by_level(fetched_by=users.township)
    assert (levels["village"], levels["total"], levels["village_rate"]) == (1, 1, 100.0)
    (row,) = leader_claims(fetched_by=users.township)
    assert (row["owner__username"], row["claimed"], row["done"]) == ("leader", 1, 0)
    assert solved_by_level(fetched_by=users.outsider)["total"] == 0
    login(client, users.township)
    assert "领导认领微实事" in client.get("/appeals/stats/").content.decode()


def test_dispute_mediation_on_the_page(client, users, tree):
    from minqing.appeals.tests.factories import file_appeal as f

    d = f(
        actor=users.cadre,
        area=tree.qixing,
        code="neighbour",
        kind="dispute",
        content="两家为滴水吵架",
        parties="刘某、彭某",
    )
    appeal_claim(actor=users.cadre, appeal=d)
    login(client, users.cadre)
    assert "调解记录" in client.get(f"/appeals/{d.pk}/").content.decode()
    r = client.post(
        f"/appeals/{d.pk}/mediate/", {"mediate-record": "", "mediate-outcome": "success"}
    )
    assert r.status_code == 400
    r = client.post(
        f"/appeals/{d.pk}/mediate/",
        {"mediate-record": "双方同意改檐沟", "mediate-outcome": "success"},
    )
    assert r.status_code == 302
    d.refresh_from_db()
    assert (d.mediation_outcome, d.mediator) == ("success", users.cadre)
    login(client, users.grid)  # sees it (grid in 七星村? no: matter at village level) -> 404
    assert (
        client.post(
            f"/appeals/{d.pk}/mediate/", {"mediate-record": "x", "mediate-outcome": "failed"}
        ).status_code
        == 404
    )


def test_intake_form_uses_the_household_picker(client, users, tree):
    login(client, users.cadre)
    body = client.get("/appeals/new/").content.decode()
    assert "data-picker" in body and "/registry/" in body
    assert 'type="hidden" name="household_id"' in body
    mine = HouseholdFactory(grid=tree.grids["七星村1"])
    r = client.post(
        "/appeals/new/",
        {
            "channel": "walk_in",
            "kind": "appeal",
            "category_id": category().pk,
            "area_id": tree.qixing.pk,
            "content": "房子漏雨",
            "household_id": mine.pk,
        },
    )
    assert r.status_code == 302 and Appeal.objects.get().household_id == mine.pk


def test_intake_form_refuses_a_household_outside_jurisdiction(client, users, tree):
    theirs = HouseholdFactory(grid=tree.grids["鹤岭村1"])
    login(client, users.cadre)
    r = client.post(
        "/appeals/new/",
        {
            "channel": "walk_in",
            "kind": "appeal",
            "category_id": category().pk,
            "area_id": tree.qixing.pk,
            "content": "房子漏雨",
            "household_id": theirs.pk,
        },
    )
    assert r.status_code == 400 and not Appeal.objects.exists()
    body = r.content.decode()
    assert "data-picker" in body and theirs.label not in body
