"""Registry API: scoped lists and lookups, writes through the services, errors as JSON,
masked output, audited reveal, pinned query counts."""

import json
from datetime import date

import pytest

from minqing.conftest import login
from minqing.core.idcard import make_id_number
from minqing.core.models import AuditEvent
from minqing.registry import services
from minqing.registry.models import (
    Household,
    Move,
    Organisation,
    Place,
    Relation,
    Resident,
    Tag,
    TagPeriod,
)
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period, tag

ZHANG_ID = make_id_number("430302", date(1962, 5, 8), 111)


@pytest.fixture
def data(tree):
    qx = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-1", address="七星村一组")
    zhang = ResidentFactory(
        household=qx, name="张德书", id_number=ZHANG_ID, phone="13812345678", relation=Relation.HEAD
    )
    zs = HouseholdFactory(grid=tree.grids["昭山村1"], number="ZS-1", address="昭山村一组")
    li = ResidentFactory(
        household=zs,
        name="李秀英",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1988, 3, 9), 122),
    )  # born after 张德书: he may move in as her parent
    hl = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-1", address="鹤岭村一组")
    chen = ResidentFactory(household=hl, name="陈国强", relation=Relation.HEAD)
    place = Place.objects.create(grid=tree.grids["鹤岭村1"], name="鹤岭市场", kind="market")
    org = Organisation.objects.create(
        grid=tree.grids["鹤岭村1"], name="鹤岭公司", kind="enterprise"
    )
    return type(
        "D",
        (),
        dict(qx=qx, zhang=zhang, zs=zs, li=li, hl=hl, chen=chen, place=place, org=org),
    )


def post(client, url, payload=None):
    return client.post(url, json.dumps(payload or {}), content_type="application/json")


def patch(client, url, payload):
    return client.patch(url, json.dumps(payload), content_type="application/json")


def counts():
    return tuple(
        m.objects.count()
        for m in (Household, Resident, Move, TagPeriod, Place, Organisation, AuditEvent)
    )


# ------------------------------------------------------------ scoping


def numbers(response):
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["items"]}


def test_lists_are_scoped(client, users, data):
    assert numbers(login(client, users.cadre).get("/api/registry/households")) == {"QX-1"}
    assert numbers(login(client, users.township).get("/api/registry/households")) == {
        "QX-1",
        "ZS-1",
    }
    assert numbers(login(client, users.outsider).get("/api/registry/households")) == {"HL-1"}
    names = {
        r["name"]
        for r in login(client, users.township).get("/api/registry/residents").json()["items"]
    }
    assert names == {"张德书", "李秀英"}


def test_anonymous_gets_401(client, data):
    assert client.get("/api/registry/households").status_code == 401


FOREIGN_GETS = [
    "/api/registry/households/{hl}",
    "/api/registry/residents/{chen}",
    "/api/registry/places/{place}",
    "/api/registry/organisations/{org}",
]


@pytest.mark.parametrize("url", FOREIGN_GETS)
def test_forged_ids_from_another_township_are_404_like_missing(client, users, data, url):
    login(client, users.township)
    ids = dict(hl=data.hl.pk, chen=data.chen.pk, place=data.place.pk, org=data.org.pk)
    forged = client.get(url.format(**ids))
    missing = client.get(url.format(**{k: 999999 for k in ids}))
    assert forged.status_code == missing.status_code == 404
    assert forged.json() == missing.json()
    assert "陈国强".encode() not in forged.content


FOREIGN_POSTS = [
    ("patch", "/api/registry/households/{hl}", {"address": "x", "version": 1}),
    (
        "post",
        "/api/registry/households/{hl}/tag",
        {"tag": "dibao", "date": "2024-01-01", "reason": "x"},
    ),
    (
        "post",
        "/api/registry/households/{hl}/untag",
        {"tag": "dibao", "date": "2024-01-01", "reason": "x"},
    ),
    ("post", "/api/registry/households/{hl}/reveal-phone", {"reason": "核实"}),
    ("patch", "/api/registry/residents/{chen}", {"name": "x", "version": 1}),
    ("post", "/api/registry/residents/{chen}/move", {"kind": "out", "date": "2024-01-01"}),
    (
        "post",
        "/api/registry/residents/{chen}/tag",
        {"tag": "disabled", "date": "2024-01-01", "reason": "x"},
    ),
    (
        "post",
        "/api/registry/residents/{chen}/untag",
        {"tag": "disabled", "date": "2024-01-01", "reason": "x"},
    ),
    ("post", "/api/registry/residents/{chen}/reveal", {"reason": "核实"}),
    ("post", "/api/registry/residents/{chen}/reveal-phone", {"reason": "核实"}),
    ("post", "/api/registry/residents/{chen}/moves/1/correct", {"reason": "核实"}),
    ("post", "/api/registry/households", {"grid_id": "{grid}", "address": "x"}),
    (
        "post",
        "/api/registry/residents",
        {"household_id": "{hl}", "name": "x", "id_number": ZHANG_ID},
    ),
    ("post", "/api/registry/places", {"grid_id": "{grid}", "name": "x", "kind": "shop"}),
    (
        "post",
        "/api/registry/organisations",
        {"grid_id": "{grid}", "name": "x", "kind": "enterprise"},
    ),
    (
        "post",
        "/api/registry/residents/{zhang}/move",
        {"kind": "transfer", "date": "2024-01-01", "to_household_id": "{hl}"},
    ),
    ("patch", "/api/registry/places/{place}", {"name": "x"}),
    ("patch", "/api/registry/organisations/{org}", {"name": "x"}),
    # one's own place moved into a grid one does not hold
    ("patch", "/api/registry/places/{own_place}", {"grid_id": "{grid}"}),
]


@pytest.mark.parametrize(("method", "url", "payload"), FOREIGN_POSTS)
def test_writes_on_forged_ids_are_404_and_change_nothing(
    client, users, tree, data, method, url, payload
):
    login(client, users.township)
    own_place = Place.objects.create(grid=tree.grids["七星村1"], name="七星商店", kind="shop")
    ids = dict(hl=data.hl.pk, chen=data.chen.pk, zhang=data.zhang.pk, grid=tree.grids["鹤岭村1"].pk)
    ids.update(place=data.place.pk, org=data.org.pk, own_place=own_place.pk)
    body = {
        k: (int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v)
        for k, v in payload.items()
    }
    before = counts()
    response = getattr(client, method)(
        url.format(**ids), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 404, response.content
    assert counts() == before
    data.chen.refresh_from_db()
    assert data.chen.name == "陈国强"
    assert set(Place.objects.values_list("name", "grid_id")) == {
        ("鹤岭市场", tree.grids["鹤岭村1"].pk),
        ("七星商店", tree.grids["七星村1"].pk),
    }
    assert Organisation.objects.get().name == "鹤岭公司"


# ------------------------------------------------------------ reads


def test_output_is_masked(client, users, data):
    login(client, users.cadre)
    body = client.get(f"/api/registry/residents/{data.zhang.pk}").json()
    assert body["id_masked"] == ZHANG_ID[:6] + "*" * 12
    assert "birth_date" not in body and body["age"] >= 0
    assert body["phone_masked"] == "138****5678"
    raw = client.get(f"/api/registry/households/{data.qx.pk}").content.decode()
    assert ZHANG_ID not in raw and "13812345678" not in raw


def test_household_detail_has_members_tags_history_and_moves(client, users, data):
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
    services.tag_give(
        actor=users.cadre,
        tag=tag("party_member"),
        resident=data.zhang,
        start_date=date(1990, 7, 1),
        reason="入党",
    )
    login(client, users.cadre)
    body = client.get(f"/api/registry/households/{data.qx.pk}").json()
    assert body["head_name"] == "张德书"
    assert [m["name"] for m in body["members"]] == ["张德书"]
    assert body["members"][0]["tags"] == [{"code": "party_member", "name": "党员"}]
    assert {(h["tag"]["code"], h["end_reason"]) for h in body["tag_history"]} == {
        ("dibao", "脱贫"),
        ("party_member", ""),
    }
    assert body["tags"] == [{"code": "party_member", "name": "党员"}]


def test_search_parameters(client, users, data):
    login(client, users.township)
    assert numbers(client.get("/api/registry/households", {"q": "zds"})) == {"QX-1"}
    assert numbers(client.get("/api/registry/households", {"q": "張德書"})) == {"QX-1"}
    assert numbers(
        client.get(
            "/api/registry/households", {"grid_id": users.township.jurisdictions.get().area.pk}
        )
    ) == {"QX-1", "ZS-1"}
    period(tag_code="dibao", household=data.zs, start=date(2020, 1, 1))
    assert numbers(client.get("/api/registry/households", {"tag": "dibao"})) == {"ZS-1"}


def test_tag_carriers_endpoint(client, users, data):
    period(tag_code="dibao", household=data.qx, start=date(2020, 1, 1), end=date(2021, 1, 1))
    period(tag_code="dibao", household=data.hl, start=date(2020, 1, 1))
    login(client, users.township)
    items = client.get("/api/registry/tags/dibao/carriers", {"day": "2020-06-01"}).json()["items"]
    assert [i["household_number"] for i in items] == ["QX-1"]
    items = client.get("/api/registry/tags/dibao/carriers", {"day": "2021-06-01"}).json()["items"]
    assert items == []


def test_tags_list(client, users, data):
    login(client, users.cadre)
    codes = [t["code"] for t in client.get("/api/registry/tags").json()]
    assert codes[0] == "poverty_enrolled" and "retired_cadre" in codes


# ------------------------------------------------------------ query counts


def test_household_list_query_count_does_not_grow_with_rows(
    client, users, tree, data, django_assert_num_queries
):
    for _i in range(15):
        h = HouseholdFactory(grid=tree.grids["七星村2"])
        r = ResidentFactory(household=h, relation=Relation.HEAD)
        period(tag_code="disabled", resident=r, start=date(2020, 1, 1))
        period(tag_code="dibao", household=h, start=date(2020, 1, 1))
    login(client, users.township)
    client.get("/api/registry/households")  # the first request keeps the paths in the session
    # session, user, count, page, current tags of the page (jurisdiction paths: the session)
    with django_assert_num_queries(5):
        response = client.get("/api/registry/households", {"tag": "dibao"})
    assert response.json()["count"] == 15


def test_resident_list_query_count(client, users, tree, data, django_assert_num_queries):
    for _i in range(15):
        ResidentFactory(household=HouseholdFactory(grid=tree.grids["七星村2"]))
    login(client, users.township)
    client.get("/api/registry/residents")  # the first request keeps the paths in the session
    with django_assert_num_queries(5):
        response = client.get("/api/registry/residents", {"q": "li"})
    assert response.status_code == 200


def test_place_list_query_count(client, users, tree, django_assert_num_queries):
    for i in range(5):
        Place.objects.create(grid=tree.grids["七星村1"], name=f"店{i}", kind="shop")
    login(client, users.township)
    client.get("/api/registry/places")  # the first request keeps the paths in the session
    # session, user, count, page (jurisdiction paths: kept in the session)
    with django_assert_num_queries(4):
        response = client.get("/api/registry/places")
    assert response.json()["count"] == 5


# ------------------------------------------------------------ writes


def test_create_household_and_resident(client, users, tree):
    login(client, users.cadre)
    response = post(
        client,
        "/api/registry/households",
        {"grid_id": tree.grids["七星村1"].pk, "address": "七星村五组"},
    )
    assert response.status_code == 201, response.content
    hid = response.json()["id"]
    number = make_id_number("430302", date(1988, 8, 8), 17)
    response = post(
        client,
        "/api/registry/residents",
        {
            "household_id": hid,
            "name": "周建军",
            "id_number": number,
            "relation": "head",
            "phone": "13700001234",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["gender"] == "M" and "birth_date" not in body
    assert body["id_masked"] == number[:6] + "*" * 12 and number not in response.content.decode()
    assert Household.objects.get(pk=hid).head.name == "周建军"


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"name": "某人", "id_number": "430302198808081"}, 400, "18 位"),
        (
            {"name": "某人", "id_number": make_id_number("990302", date(1988, 8, 8), 1)},
            400,
            "地区码",
        ),
        ({"name": "", "id_number": make_id_number("430302", date(1988, 8, 8), 1)}, 400, "姓名"),
        ({"name": "某人", "id_number": ZHANG_ID}, 409, "已登记"),
        (
            {
                "name": "某人",
                "id_number": make_id_number("430302", date(1988, 8, 8), 1),
                "relation": "head",
            },
            409,
            "户主",
        ),
        (
            {
                "name": "某人",
                "id_number": make_id_number("430302", date(1988, 8, 8), 1),
                "relation": "boss",
            },
            400,
            "关系",
        ),
    ],
)
def test_bad_resident_input_is_400_or_409_and_changes_nothing(
    client, users, data, payload, status, fragment
):
    login(client, users.cadre)
    before = counts()
    response = post(client, "/api/registry/residents", {"household_id": data.qx.pk, **payload})
    assert response.status_code == status, response.content
    assert fragment in response.json()["detail"]
    assert counts() == before


def test_bad_household_input(client, users, tree, data):
    login(client, users.cadre)
    before = counts()
    r = post(
        client, "/api/registry/households", {"grid_id": tree.grids["七星村1"].pk, "address": " "}
    )
    assert r.status_code == 400
    r = post(
        client,
        "/api/registry/households",
        {"grid_id": tree.grids["七星村1"].pk, "address": "x", "number": "QX-1"},
    )
    assert r.status_code == 409
    r = post(client, "/api/registry/households", {"grid_id": tree.qixing.pk, "address": "x"})
    assert r.status_code == 400
    r = patch(client, f"/api/registry/households/{data.qx.pk}", {"phone": "call me", "version": 1})
    assert r.status_code == 400
    assert counts() == before


def test_update_endpoints(client, users, data):
    login(client, users.cadre)
    r = patch(
        client, f"/api/registry/households/{data.qx.pk}", {"address": "七星村新一组", "version": 1}
    )
    assert r.status_code == 200 and r.json()["address"] == "七星村新一组"
    r = patch(client, f"/api/registry/residents/{data.zhang.pk}", {"name": "张德树", "version": 1})
    assert r.status_code == 200 and r.json()["name"] == "张德树"
    assert Resident.objects.get(pk=data.zhang.pk).name_pinyin == "zhangdeshu"


def test_tag_and_untag(client, users, data):
    login(client, users.cadre)
    body = {"tag": "dibao", "date": "2023-05-01", "reason": "因病致贫"}
    r = post(client, f"/api/registry/households/{data.qx.pk}/tag", body)
    assert r.status_code == 201, r.content
    assert r.json()["started_by"] == str(users.cadre)
    assert post(client, f"/api/registry/households/{data.qx.pk}/tag", body).status_code == 409
    r = post(
        client,
        f"/api/registry/households/{data.qx.pk}/untag",
        {"tag": "dibao", "date": "2024-01-01", "reason": "收入达标"},
    )
    assert r.status_code == 200 and r.json()["end_date"] == "2024-01-01"
    r = post(
        client,
        f"/api/registry/residents/{data.zhang.pk}/tag",
        {"tag": "empty_nest", "date": "2023-01-01", "reason": "子女外出"},
    )
    assert r.status_code == 201
    r = post(
        client,
        f"/api/registry/residents/{data.zhang.pk}/tag",
        {"tag": "nope", "date": "2023-01-01", "reason": "x"},
    )
    assert r.status_code == 400
    r = post(
        client,
        f"/api/registry/residents/{data.zhang.pk}/tag",
        {"tag": "dibao", "date": "2023-01-01", "reason": "x"},
    )
    assert r.status_code == 400  # household tag on a person


def test_move_endpoint(client, users, data):
    login(client, users.township)
    r = post(
        client,
        f"/api/registry/residents/{data.zhang.pk}/move",
        {
            "kind": "transfer",
            "date": "2024-02-01",
            "to_household_id": data.zs.pk,
            "relation": "parent",
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["kind_label"] == "户间迁移"
    assert Resident.objects.get(pk=data.zhang.pk).household == data.zs


def test_correct_move_endpoint(client, users, data):
    login(client, users.township)
    r = post(
        client,
        f"/api/registry/residents/{data.zhang.pk}/move",
        {"kind": "transfer", "date": "2024-02-01", "to_household_id": data.zs.pk},
    )
    move_id = r.json()["id"]
    url = f"/api/registry/residents/{data.zhang.pk}/moves/{move_id}/correct"
    r = post(client, url, {"reason": ""})
    assert r.status_code == 400
    assert Resident.objects.get(pk=data.zhang.pk).household == data.zs
    r = post(client, url, {"reason": "迁错了"})
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "correction" and r.json()["reason"] == "迁错了"
    assert Resident.objects.get(pk=data.zhang.pk).household == data.qx
    assert post(client, url, {"reason": "再来"}).status_code == 409
    # another resident's path cannot reach this move
    other = f"/api/registry/residents/{data.li.pk}/moves/{move_id}/correct"
    assert post(client, other, {"reason": "x"}).status_code == 404


def test_grid_worker_cannot_tag_or_edit_outside_their_grid(client, users, data):
    login(client, users.grid)
    r = post(
        client,
        f"/api/registry/households/{data.zs.pk}/tag",
        {"tag": "dibao", "date": "2023-05-01", "reason": "x"},
    )
    assert r.status_code == 404


def test_view_only_role_gets_403_on_writes(client, users, data):
    login(client, users.leader)
    before = counts()
    r = patch(client, f"/api/registry/households/{data.qx.pk}", {"address": "x", "version": 1})
    assert r.status_code == 403
    assert counts() == before


# ------------------------------------------------------------ reveal


def test_reveal_is_audited_once_per_call(client, users, data):
    login(client, users.cadre)
    why = {"reason": "核实身份"}
    r = post(client, f"/api/registry/residents/{data.zhang.pk}/reveal", why)
    assert r.status_code == 200 and r.json() == {"id_number": ZHANG_ID}
    post(client, f"/api/registry/residents/{data.zhang.pk}/reveal", {"reason": "办理业务"})
    r = post(client, f"/api/registry/residents/{data.zhang.pk}/reveal-phone", why)
    assert r.json() == {"phone": "13812345678"}
    events = AuditEvent.objects.filter(target_id=str(data.zhang.pk)).order_by("id")
    assert [e.detail["reason"] for e in events] == ["核实身份", "办理业务", "核实身份"]
    assert [e.action for e in events] == [
        "registry.resident.reveal_id",
        "registry.resident.reveal_id",
        "registry.resident.reveal_phone",
    ]
    assert {e.channel for e in events} == {"api"}


def test_reveal_denied_role_gets_403_and_no_event(client, users, data):
    login(client, users.grid)
    r = post(client, f"/api/registry/residents/{data.zhang.pk}/reveal", {"reason": "好奇"})
    assert r.status_code == 403
    assert ZHANG_ID not in r.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="registry.").exists()


def test_reveal_without_a_reason_is_refused_and_not_shown(client, users, data):
    login(client, users.cadre)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        r = post(client, f"/api/registry/residents/{data.zhang.pk}/reveal", body)
        assert r.status_code in (400, 422)
        assert ZHANG_ID not in r.content.decode()
    assert not AuditEvent.objects.filter(action="registry.resident.reveal_id").exists()


def test_openapi_lists_the_registry(client, users):
    login(client, users.cadre)
    paths = client.get("/api/openapi.json").json()["paths"]
    for p in [
        "/api/registry/households",
        "/api/registry/households/{pk}",
        "/api/registry/residents/{pk}/tag",
        "/api/registry/residents/{pk}/untag",
    ]:
        assert p in paths


def test_place_and_organisation_lists_are_scoped(client, users, data):
    login(client, users.township)
    assert client.get("/api/registry/places").json()["items"] == []
    assert client.get("/api/registry/organisations").json()["items"] == []
    login(client, users.outsider)
    assert [p["name"] for p in client.get("/api/registry/places").json()["items"]] == ["鹤岭市场"]
    names = [o["name"] for o in client.get("/api/registry/organisations").json()["items"]]
    assert names == ["鹤岭公司"]


def test_tag_creation_through_the_api(client, users):
    login(client, users.admin)
    r = post(client, "/api/registry/tags", {"code": "veteran", "name": "退役军人"})
    assert r.status_code == 201 and r.json()["is_system"] is False
    login(client, users.cadre)
    r = post(client, "/api/registry/tags", {"code": "other", "name": "其他"})
    assert r.status_code == 403


def test_move_history_in_the_api_does_not_name_a_household_outside_the_jurisdiction(
    client, users, data
):
    users.admin.is_superuser = True
    child = ResidentFactory(household=data.qx, name="张小燕", relation=Relation.CHILD)
    services.resident_move(
        actor=users.admin,
        resident=child,
        kind="transfer",
        date=date(2024, 6, 1),
        to_household=data.hl,
    )
    moves = login(client, users.township).get(f"/api/registry/households/{data.qx.pk}").json()
    (move,) = moves["moves"]
    assert move["to_household"] == "辖区外" and move["to_household_id"] is None
    assert move["from_household_id"] == data.qx.pk
    assert str(data.hl.pk) not in str(move["to_household_id"]) and "HL-1" not in str(moves)
    admin_view = login(client, users.admin).get(f"/api/registry/households/{data.qx.pk}").json()
    assert admin_view["moves"][0]["to_household_id"] == data.hl.pk
    assert admin_view["moves"][0]["to_household"] == "HL-1"


def test_household_list_carries_each_current_tag_once_in_tag_order(client, users, data):
    """The list's tags: the household's and its members' open periods, each tag once (two
    members in the 党员 tag: one entry), in tag order, none that has ended."""
    second = ResidentFactory(household=data.qx, name="张小燕", relation=Relation.CHILD)
    for who in (data.zhang, second):
        period(tag_code="party_member", resident=who, start=date(2001, 1, 1))
    period(tag_code="dibao", household=data.qx, start=date(2020, 1, 1))
    period(tag_code="disabled", resident=second, start=date(2019, 1, 1), end=date(2021, 1, 1))
    login(client, users.cadre)
    items = client.get("/api/registry/households").json()["items"]
    tags = {h["number"]: h["tags"] for h in items}
    order = {t.code: (t.order, t.name) for t in Tag.objects.all()}
    assert sorted(c["code"] for c in tags["QX-1"]) == ["dibao", "party_member"]
    assert [c["code"] for c in tags["QX-1"]] == sorted(
        ["dibao", "party_member"], key=order.__getitem__
    )
    assert {"code": "dibao", "name": "低保"} in tags["QX-1"]


def test_a_move_the_ages_contradict_is_refused_by_the_api_writing_nothing(client, users, data):
    young = HouseholdFactory(grid=data.qx.grid, number="QX-Y")
    ResidentFactory(
        household=young, relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1990, 2, 2), 21),
    )  # fmt: skip
    login(client, users.township)
    moves, events = Move.objects.count(), AuditEvent.objects.count()
    url = f"/api/registry/residents/{data.zhang.pk}/move"
    payload = {"kind": "transfer", "date": "2024-02-01", "to_household_id": young.pk}
    for relation in ("grandchild", "孙子"):
        r = post(client, url, {**payload, "relation": relation})
        assert r.status_code == 400, r.content
        assert "不晚于户主(1990)" in str(r.json()), r.json()
    assert Move.objects.count() == moves and AuditEvent.objects.count() == events
    assert Resident.objects.get(pk=data.zhang.pk).household == data.qx
