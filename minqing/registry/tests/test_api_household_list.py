"""GET /api/registry/households writes its page from the list's compiled statement
(api._HouseholdRows) instead of validating Household models through HouseholdOut: the
bytes it sends are what ninja sent from the schema, for every query, filter, page and
viewer, in both languages and with hostile values; the OpenAPI document is the schema's."""

import json
from datetime import date

import pytest
from ninja.responses import NinjaJSONEncoder

from minqing.accounts.tests.factories import UserFactory
from minqing.conftest import login
from minqing.core import statements
from minqing.core.models import AuditEvent
from minqing.registry import selectors
from minqing.registry.models import Relation
from minqing.registry.schemas import HouseholdOut
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period

HOSTILE = '<script>alert("x")</script> & \'\\ \u2028 %_'


@pytest.fixture
def city(tree):
    made = {}
    specs = [
        ("七星村1", "QX-0001", "陕西省洋县七星路 12 号", "张德书", "13812345678"),
        ("七星村1", "QX-0002", HOSTILE, HOSTILE, "13900001234"),
        ("七星村2", "QX-0003", "七星村%组", "王%芳", ""),
        ("昭山村1", "ZS-0001", "湖南省湘潭縣昭山鎮 3 號", "李秀英", "13700005678"),
        ("鹤岭村1", "HL-0001", "鹤岭村 12 号", "张德书", "13812349999"),
    ]
    for grid, number, address, name, phone in specs:
        h = HouseholdFactory(grid=tree.grids[grid], number=number, address=address, phone=phone)
        head = ResidentFactory(household=h, name=name, relation=Relation.HEAD, phone=phone)
        h.head = head
        h.save()
        made[number] = h
    # a household without a head, and one whose head left (head_id kept, a name)
    made["QX-0009"] = HouseholdFactory(grid=tree.grids["七星村2"], number="QX-0009", address="空户")
    member = ResidentFactory(household=made["QX-0001"], name="张小明", relation=Relation.CHILD)
    period(tag_code="dibao", household=made["QX-0001"], start=date(2020, 1, 1))
    period(tag_code="disabled", resident=member, start=date(2020, 1, 1))
    period(tag_code="party_member", resident=made["QX-0001"].head, start=date(2020, 1, 1))
    period(tag_code="dibao", household=made["HL-0001"], start=date(2020, 1, 1))
    period(tag_code="disabled", resident=made["QX-0002"].head, start=date(2020, 1, 1))
    period(
        tag_code="disabled",
        resident=made["QX-0002"].head,
        start=date(2019, 1, 1),
        end=date(2019, 6, 1),
    )
    return made


def _expected(user, *, limit=100, offset=0, **params) -> bytes:
    """What the endpoint sent before: household_search's models, their current tags,
    HouseholdOut, ninja's renderer."""
    qs = selectors.household_search(fetched_by=user, **params)
    rows = list(qs[offset : offset + limit])
    badges = selectors.current_badges(household_ids=[h.pk for h in rows])
    for h in rows:
        h.current_tags = badges.get(h.pk, [])
    kept = selectors.kept_count(fetched_by=user, kind="households", **params)
    body = {
        "items": [HouseholdOut.model_validate(h).model_dump() for h in rows],
        "count": kept if kept is not None else qs.count(),
    }
    return json.dumps(body, cls=NinjaJSONEncoder).encode()


QUERIES = ["", "张德书", "zds", "洋縣", "QX-0001", "1234", "5678", "%", "_", "<script>", "\\"]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_written_page_is_what_the_schema_wrote(client, users, tree, city, language):
    from minqing.registry.summaries import summaries_rebuild

    summaries_rebuild()
    statements._compiled.clear()
    root = UserFactory(username="root", is_superuser=True, areas=[])
    for user in (users.grid, users.cadre, users.township, users.outsider, users.admin, root):
        client.force_login(user)
        for q in QUERIES:
            for extra in ({}, {"tag": "dibao"}, {"status": "empty"}, {"status": "living"}):
                params = {"q": q, **extra} if q else extra
                got = client.get("/api/registry/households", params, HTTP_ACCEPT_LANGUAGE=language)
                assert got.status_code == 200, got.content
                assert got["Content-Type"] == "application/json; charset=utf-8"
                assert got.content == _expected(user, **params), (user.username, params)
        for page in ({"limit": 2}, {"limit": 2, "offset": 2}, {"offset": 50}):
            got = client.get("/api/registry/households", page)
            assert got.content == _expected(user, **page), (user.username, page)
        grid = {"grid_id": tree.qixing.pk}
        got = client.get("/api/registry/households", grid)
        assert got.content == _expected(user, **grid), user.username


def test_refusals_and_bad_input_answer_as_before(client, users, city):
    before = AuditEvent.objects.filter(action="registry.identity_lookup").count()
    login(client, users.grid)
    # a full number by a role that may not reveal: 403, nothing listed
    got = client.get("/api/registry/households", {"q": "13812345678"})
    assert got.status_code == 403 and got.json()["code"] == "forbidden"
    for bad in ({"limit": 0}, {"offset": -1}, {"grid_id": "x"}, {"limit": 10**9}):
        got = client.get("/api/registry/households", bad)
        assert got.status_code == 400, (bad, got.content)
    # an unknown status or tag lists nothing, and an area of another township too
    assert client.get("/api/registry/households", {"status": "x"}).json() == {
        "items": [],
        "count": 0,
    }
    # the identity lookup by a role that may: audited, the number masked
    login(client, users.admin)
    got = client.get("/api/registry/households", {"q": "13812345678"})
    assert [h["number"] for h in got.json()["items"]] == ["QX-0001"]
    events = AuditEvent.objects.filter(action="registry.identity_lookup")
    assert events.count() == before + 1
    assert "13812345678" not in json.dumps(events.latest("pk").detail)


def test_forged_area_ids_and_masked_digits_do_not_reach_other_villages(client, users, tree, city):
    login(client, users.outsider)  # 鹤岭村
    for grid_id in (tree.qixing.pk, tree.grids["七星村1"].pk, tree.zhaoshan.pk, 10**9):
        got = client.get("/api/registry/households", {"grid_id": grid_id})
        assert got.json() == {"items": [], "count": 0}, grid_id
    # the masked tail of a phone in another village finds nothing here
    assert client.get("/api/registry/households", {"q": "5678"}).json()["items"] == []
    found = client.get("/api/registry/households", {"q": "9999"}).json()["items"]
    assert [h["number"] for h in found] == ["HL-0001"]
    assert found[0]["phone_masked"] == "138****9999"


def test_the_openapi_operation_is_the_paginated_schema(client, users):
    client.force_login(users.admin)
    doc = client.get("/api/openapi.json").json()
    operation = doc["paths"]["/api/registry/households"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["q", "grid_id", "tag", "status", "limit", "offset"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PagedHouseholdOut"}
    paged = doc["components"]["schemas"]["PagedHouseholdOut"]
    assert set(paged["properties"]) == {"items", "count"}
    fields = doc["components"]["schemas"]["HouseholdOut"]["properties"]
    assert list(fields) == list(HouseholdOut.model_fields)
