"""Places and organisations are changed after they are registered: one rule with creation,
the jurisdiction checked for the record and for the grid it moves to, every change audited
(the phone masked), bad input refused with nothing written."""

import json

import pytest

from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.registry.models import Organisation, Place


@pytest.fixture
def shop(tree):
    return Place.objects.create(
        grid=tree.grids["七星村1"],
        name="七星超市",
        kind="shop",
        contact_name="王老板",
        contact_phone="13812345678",
    )


@pytest.fixture
def firm(tree):
    return Organisation.objects.create(
        grid=tree.grids["七星村1"], name="七星农机", kind="enterprise"
    )


def form(obj, **changes):
    data = {
        "grid": obj.grid_id,
        "name": obj.name,
        "kind": obj.kind,
        "address": obj.address,
        "contact_name": obj.contact_name,
        "contact_phone": "",
        "notes": obj.notes,
    }
    if isinstance(obj, Organisation):
        data.update(credit_code=obj.credit_code)
    data.update(changes)
    return data


def test_the_list_links_to_the_filled_in_form_with_the_phone_masked(client, users, shop):
    login(client, users.grid)
    assert f"/registry/places/{shop.pk}/edit/" in client.get("/registry/places/").content.decode()
    page = client.get(f"/registry/places/{shop.pk}/edit/").content.decode()
    assert 'value="七星超市"' in page and "王老板" in page
    assert "138****5678" in page and "13812345678" not in page


def test_a_change_is_saved_and_audited_field_by_field(client, users, tree, shop):
    login(client, users.grid)
    response = client.post(
        f"/registry/places/{shop.pk}/edit/",
        form(shop, name="七星便民超市", kind="market", notes="周日闭店"),
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.name, shop.kind, shop.notes) == ("七星便民超市", "market", "周日闭店")
    assert shop.contact_phone == "13812345678"  # left empty: unchanged
    event = AuditEvent.objects.get(action="registry.place.update")
    assert event.actor == users.grid and event.target_id == str(shop.pk)
    assert event.detail == {
        "name": ["七星超市", "七星便民超市"],
        "kind": ["shop", "market"],
        "notes": True,  # free text is not copied into the log
    }


def test_a_new_phone_is_normalised_and_logged_masked(client, users, shop):
    login(client, users.grid)
    client.post(f"/registry/places/{shop.pk}/edit/", form(shop, contact_phone="+86 139-0731-0000"))
    shop.refresh_from_db()
    assert shop.contact_phone == "13907310000"
    detail = AuditEvent.objects.get(action="registry.place.update").detail
    assert detail == {"contact_phone": ["138****5678", "139****0000"]}
    assert "13907310000" not in json.dumps(detail)


def test_saving_without_a_change_writes_nothing(client, users, shop):
    login(client, users.grid)
    assert client.post(f"/registry/places/{shop.pk}/edit/", form(shop)).status_code == 302
    assert not AuditEvent.objects.filter(action="registry.place.update").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "名称"),
        ({"contact_phone": "12345"}, "联系电话"),
        ({"kind": "casino"}, "类型"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(client, users, shop, changes, message):
    login(client, users.grid)
    response = client.post(f"/registry/places/{shop.pk}/edit/", form(shop, **changes))
    assert response.status_code in (200, 400) and message in response.content.decode()
    shop.refresh_from_db()
    assert shop.name == "七星超市" and shop.contact_phone == "13812345678"
    assert not AuditEvent.objects.filter(action="registry.place.update").exists()


def test_a_bad_credit_code_is_refused(client, users, firm):
    login(client, users.cadre)
    url = f"/registry/organisations/{firm.pk}/edit/"
    response = client.post(url, form(firm, credit_code="91430300-bad"))
    assert "统一社会信用代码" in response.content.decode()
    response = client.post(url, form(firm, credit_code="91430300mA4L12345x", has_party_branch="on"))
    assert response.status_code == 302
    firm.refresh_from_db()
    assert firm.credit_code == "91430300MA4L12345X" and firm.has_party_branch


def test_another_jurisdictions_record_is_not_found_and_not_changed(client, users, shop, firm):
    login(client, users.outsider)
    for url, obj in [
        (f"/registry/places/{shop.pk}/edit/", shop),
        (f"/registry/organisations/{firm.pk}/edit/", firm),
    ]:
        assert client.get(url).status_code == 404
        assert client.post(url, form(obj, name="抢来的")).status_code == 404
    missing = client.get("/registry/places/999999/edit/")
    assert missing.status_code == 404
    shop.refresh_from_db()
    firm.refresh_from_db()
    assert (shop.name, firm.name) == ("七星超市", "七星农机")


def test_a_record_is_not_moved_into_a_grid_one_does_not_hold(client, users, tree, shop):
    login(client, users.cadre)
    outside = tree.grids["鹤岭村1"]
    response = client.post(f"/registry/places/{shop.pk}/edit/", form(shop, grid=outside.pk))
    assert response.status_code in (200, 400, 404)
    shop.refresh_from_db()
    assert shop.grid_id == tree.grids["七星村1"].pk
    # a grid of one's own village is fine
    other = tree.grids["七星村2"]
    assert (
        client.post(f"/registry/places/{shop.pk}/edit/", form(shop, grid=other.pk)).status_code
        == 302
    )
    shop.refresh_from_db()
    assert shop.grid_id == other.pk


def test_roles_that_only_read_may_not_edit(client, users, shop):
    login(client, users.supervisor)
    assert client.get(f"/registry/places/{shop.pk}/edit/").status_code == 403
    assert client.post(f"/registry/places/{shop.pk}/edit/", form(shop, name="x")).status_code == 403
    shop.refresh_from_db()
    assert shop.name == "七星超市"


def test_the_api_changes_only_the_fields_sent(client, users, shop, firm):
    login(client, users.grid)
    response = client.patch(
        f"/api/registry/places/{shop.pk}",
        json.dumps({"address": "七星村一组 12 号"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["address"] == "七星村一组 12 号" and body["name"] == "七星超市"
    assert body["contact_phone_masked"] == "138****5678"
    response = client.patch(
        f"/api/registry/organisations/{firm.pk}",
        json.dumps({"has_party_branch": True}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["has_party_branch"] is True
    response = client.patch(
        f"/api/registry/places/{shop.pk}",
        json.dumps({"contact_phone": "0731"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    shop.refresh_from_db()
    assert shop.contact_phone == "13812345678"
