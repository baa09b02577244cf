"""Search cannot be used to unmask: a number matches people only by exactly the tail the
mask shows (last four phone digits) or as a full number, which is an audited identity
lookup for the roles allowed to reveal. Attacked as a leader would, through the API."""

from datetime import date

import pytest

from minqing.conftest import login
from minqing.core.idcard import make_id_number
from minqing.core.models import AuditEvent
from minqing.registry.models import Relation
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

NUMBER = make_id_number("430302", date(1962, 5, 8), 111)
PHONE = "13812345678"


@pytest.fixture
def victim(tree):
    household = HouseholdFactory(
        grid=tree.grids["七星村1"], number="QX-S1", phone="0731-5550000", address="七星村一组"
    )
    return ResidentFactory(
        household=household, name="张德书", relation=Relation.HEAD, id_number=NUMBER, phone=PHONE
    )


def finds(client, q: str, victim) -> bool:
    """Does a search for q answer the victim (people or households list)?"""
    people = client.get("/api/registry/residents", {"q": q})
    households = client.get("/api/registry/households", {"q": q})
    assert people.status_code in (200, 403) and households.status_code in (200, 403)
    found = people.status_code == 200 and any(r["id"] == victim.pk for r in people.json()["items"])
    return found or (
        households.status_code == 200
        and any(h["id"] == victim.household_id for h in households.json()["items"])
    )


def test_hidden_phone_digits_do_not_come_back_by_search(client, users, victim):
    """The mask shows 138****5678: a fifth digit guessed in front of the tail, or any
    longer ending, matches nothing, right or wrong (it used to take at most 40 requests)."""
    login(client, users.leader)
    assert finds(client, "5678", victim)  # exactly what the mask shows
    for digit in "0123456789":
        assert not finds(client, digit + "5678", victim), digit
    for ending in (PHONE[-5:], PHONE[-6:], PHONE[-8:], PHONE[-10:], PHONE[3:7], "1234"):
        assert not finds(client, ending, victim), ending


def test_hidden_id_digits_do_not_come_back_by_search(client, users, victim):
    """The ID mask shows the region only: no ending, birth date or prefix matches."""
    login(client, users.leader)
    for part in (
        NUMBER[-1:],
        NUMBER[-4:],
        NUMBER[-5:],
        NUMBER[-6:],
        NUMBER[-10:],
        NUMBER[6:14],
        NUMBER[:10],
        NUMBER[:14],
        NUMBER[:17],
    ):
        assert not finds(client, part, victim), part


@pytest.mark.parametrize("q", [NUMBER, PHONE])
def test_full_number_lookup_is_refused_to_roles_that_may_not_reveal(client, users, victim, q):
    before = AuditEvent.objects.filter(action="registry.identity_lookup").count()
    for role in ("leader", "grid", "supervisor", "dept"):
        login(client, getattr(users, role))
        response = client.get("/api/registry/residents", {"q": q})
        assert response.status_code == 403, role
        assert "仅限有权查看完整号码的角色" in response.json()["detail"]
        page = client.get("/registry/residents/", {"q": q})
        assert page.status_code == 403 and "仅限有权查看完整号码的角色" in page.content.decode()
        assert "张德书" not in page.content.decode()
        export = client.get("/registry/export/residents.xlsx", {"q": q})
        assert export.status_code in (403,), role
    assert AuditEvent.objects.filter(action="registry.identity_lookup").count() == before


@pytest.mark.parametrize(
    "q,kind,masked", [(NUMBER, "id_number", "430302" + "*" * 12), (PHONE, "phone", "138****5678")]
)
def test_full_number_lookup_is_audited_for_roles_that_may_reveal(
    client, users, victim, q, kind, masked
):
    login(client, users.cadre)
    assert finds(client, q, victim)
    events = AuditEvent.objects.filter(action="registry.identity_lookup", actor=users.cadre)
    assert events.count() == 2  # the residents and the households search
    for event in events:
        assert event.detail == {"kind": kind, "value": masked}
        assert event.area == users.cadre.jurisdictions.get().area
    # Outside the jurisdiction a full number finds nothing, like any other search.
    login(client, users.outsider)
    assert not finds(client, q, victim)


def test_as_you_type_search_shows_the_refusal_in_place(client, users, victim):
    login(client, users.leader)
    response = client.get("/registry/residents/", {"q": NUMBER}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "仅限有权查看完整号码的角色" in response.content.decode()
    assert "张德书" not in response.content.decode()
