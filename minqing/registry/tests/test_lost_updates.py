"""No lost updates: an edit carries the version it was made from; a save made from an older
version answers 409, names what changed and who changed it, and overwrites nothing. Two
sessions (pages) and two API clients edit the same household and resident."""

import re
from datetime import date

import pytest
from django.test import Client

from minqing.conftest import login
from minqing.core.errors import StaleEdit
from minqing.core.idcard import make_id_number
from minqing.registry import services
from minqing.registry.models import Household, Relation, Resident
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory


@pytest.fixture
def hh(tree):
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-V1", address="七星村一组")
    head = ResidentFactory(
        household=household,
        name="张德书",
        relation=Relation.HEAD,
        id_number=make_id_number("430302", date(1962, 5, 8), 111),
    )
    return type("HH", (), {"household": household, "head": head})


def test_stale_household_edit_is_refused_and_names_the_change(users, hh):
    read = Household.objects.get(pk=hh.household.pk)  # both editors read version 1
    assert read.version == 1
    services.household_update(
        actor=users.cadre, household=read, address="七星村新址", version=read.version
    )
    with pytest.raises(StaleEdit) as err:
        services.household_update(
            actor=users.township, household=read, notes="低保复核", version=read.version
        )
    assert err.value.status == 409
    assert err.value.details["version"] == 2
    assert err.value.details["changed"] == [{"field": "address", "label": "住址"}]
    assert "cadre" in str(err.value.message) and "住址" in str(err.value.message)
    fresh = Household.objects.get(pk=hh.household.pk)
    assert (fresh.address, fresh.notes, fresh.version) == ("七星村新址", "", 2)
    # From the current version the second edit goes through.
    services.household_update(actor=users.township, household=read, notes="低保复核", version=2)
    assert Household.objects.get(pk=hh.household.pk).version == 3


def test_a_move_makes_an_open_resident_edit_stale(users, hh):
    services.resident_move(
        actor=users.cadre, resident=hh.head, kind="out", date=date(2024, 3, 1), reason="外出"
    )
    with pytest.raises(StaleEdit) as err:
        services.resident_update(actor=users.township, resident=hh.head, name="张德树", version=1)
    assert [c["field"] for c in err.value.details["changed"]] == ["kind"]
    assert Resident.objects.get(pk=hh.head.pk).name == "张德书"


def version_in(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def test_two_sessions_editing_one_household_page(users, hh):
    url = f"/registry/households/{hh.household.pk}/edit/"
    first, second = login(Client(), users.cadre), login(Client(), users.township)
    forms = {}
    for name, client in (("first", first), ("second", second)):
        page = client.get(url).content.decode()
        forms[name] = {
            "grid": str(hh.household.grid_id),
            "number": hh.household.number,
            "address": hh.household.address,
            "phone": "",
            "notes": "",
            "version": version_in(page),
        }
    assert first.post(url, {**forms["first"], "address": "七星村新址"}).status_code == 302
    response = second.post(url, {**forms["second"], "notes": "低保复核"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "保存未成功" in page and "住址" in page
    assert version_in(page) == "2"  # saving again is a decision taken with the news
    household = Household.objects.get(pk=hh.household.pk)
    assert (household.address, household.notes) == ("七星村新址", "")
    # Saving the re-rendered form again is deliberate: it goes through.
    assert (
        second.post(url, {**forms["second"], "notes": "低保复核", "version": "2"}).status_code
        == 302
    )


def test_two_sessions_editing_one_resident_page(users, hh):
    url = f"/registry/residents/{hh.head.pk}/edit/"
    first, second = login(Client(), users.cadre), login(Client(), users.township)
    v1, v2 = (
        version_in(first.get(url).content.decode()),
        version_in(second.get(url).content.decode()),
    )
    base = {"relation": "head", "id_number": "", "phone": ""}
    assert first.post(url, {**base, "name": "张德树", "version": v1}).status_code == 302
    response = second.post(url, {**base, "name": "张得书", "version": v2})
    assert response.status_code == 409 and "姓名" in response.content.decode()
    assert Resident.objects.get(pk=hh.head.pk).name == "张德树"


def test_two_api_clients(users, hh):
    first, second = login(Client(), users.cadre), login(Client(), users.township)
    url = f"/api/registry/households/{hh.household.pk}"
    read = [c.get(url).json()["version"] for c in (first, second)]
    assert read == [1, 1]
    r = first.patch(
        url, {"address": "七星村新址", "version": read[0]}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = second.patch(
        url, {"notes": "低保复核", "version": read[1]}, content_type="application/json"
    )
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "stale"
    assert body["errors"] == {"version": 2, "changed": [{"field": "address", "label": "住址"}]}
    assert Household.objects.get(pk=hh.household.pk).notes == ""

    url = f"/api/registry/residents/{hh.head.pk}"
    read = [c.get(url).json()["version"] for c in (first, second)]
    r = first.patch(
        url, {"phone": "13900001111", "version": read[0]}, content_type="application/json"
    )
    assert r.status_code == 200
    r = second.patch(url, {"name": "张得书", "version": read[1]}, content_type="application/json")
    assert r.status_code == 409 and r.json()["errors"]["changed"][0]["field"] == "phone"
    assert "13900001111" not in r.content.decode()
    assert Resident.objects.get(pk=hh.head.pk).name == "张德书"


def test_an_api_edit_without_a_version_is_refused(users, hh):
    client = login(Client(), users.cadre)
    url = f"/api/registry/households/{hh.household.pk}"
    r = client.patch(url, {"address": "x"}, content_type="application/json")
    assert r.status_code == 422
    assert Household.objects.get(pk=hh.household.pk).address == "七星村一组"
