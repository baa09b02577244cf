"""Units are renamed, retyped and switched off after creation, by an administrator of their
area, audited; never switched off while an app still gives them open work."""

import pytest

from minqing.accounts.models import Unit, UnitKind
from minqing.accounts.services import unit_update
from minqing.accounts.tests.factories import UserFactory
from minqing.appeals.models import Category
from minqing.appeals.tests.factories import category, file_appeal
from minqing.core.errors import Conflict, NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.models import AuditEvent
from minqing.core.roles import Role


@pytest.fixture
def tadmin(tree):
    return UserFactory(username="tadmin", role=Role.ADMIN, is_staff=True, areas=[tree.zhaoshan])


@pytest.fixture
def office(tree):
    return Unit.objects.create(name="七星村委会", kind=UnitKind.VILLAGE_COMMITTEE, area=tree.qixing)


def test_rename_and_retype_are_audited(tadmin, office):
    unit_update(actor=tadmin, unit=office, name="七星村村民委员会", phone="0731-5551234")
    office.refresh_from_db()
    assert (office.name, office.phone) == ("七星村村民委员会", "0731-5551234")
    event = AuditEvent.objects.get(action="unit.update")
    assert event.detail == {
        "name": ["七星村委会", "七星村村民委员会"],
        "phone": ["", "0731-5551234"],
    }
    assert event.area_id == office.area_id


def test_nothing_changed_writes_nothing(tadmin, office):
    unit_update(actor=tadmin, unit=office, name=" 七星村委会 ", is_active=True)
    assert not AuditEvent.objects.filter(action="unit.update").exists()


@pytest.mark.parametrize(
    ("changes", "error"), [({"name": " "}, ValidationFailed), ({"kind": "x"}, ValidationFailed)]
)
def test_bad_input_changes_nothing(tadmin, office, changes, error):
    with pytest.raises(error):
        unit_update(actor=tadmin, unit=office, **changes)
    office.refresh_from_db()
    assert office.name == "七星村委会" and office.kind == UnitKind.VILLAGE_COMMITTEE


def test_a_name_taken_in_the_same_area_is_a_conflict(tadmin, office, tree):
    Unit.objects.create(name="七星村党支部", kind=UnitKind.VILLAGE_COMMITTEE, area=tree.qixing)
    with pytest.raises(Conflict):
        unit_update(actor=tadmin, unit=office, name="七星村党支部")
    office.refresh_from_db()
    assert office.name == "七星村委会"


def test_a_unit_outside_the_jurisdiction_is_not_found(tree, tadmin):
    foreign = Unit.objects.create(
        name="鹤岭村委会", kind=UnitKind.VILLAGE_COMMITTEE, area=tree.helingcun
    )
    with pytest.raises(NotFoundError):
        unit_update(actor=tadmin, unit=foreign, name="改名")
    foreign.refresh_from_db()
    assert foreign.name == "鹤岭村委会"


def test_only_administrators(users, office):
    with pytest.raises(PermissionDeniedError):
        unit_update(actor=users.township, unit=office, name="改名")


def test_not_switched_off_while_it_has_open_matters_or_is_a_categorys_default(
    tadmin, users, tree, office
):
    road = category("road")
    Category.objects.filter(pk=road.pk).update(default_unit=office)
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    type(appeal).objects.filter(pk=appeal.pk).update(unit=office)
    with pytest.raises(Conflict) as refused:
        unit_update(actor=tadmin, unit=office, is_active=False)
    message = str(refused.value.message)
    assert "未办结的诉求 1 项" in message and "默认交办到该单位的诉求类别 1 项" in message
    office.refresh_from_db()
    assert office.is_active
    # once the work is handed over, it may go
    Category.objects.filter(pk=road.pk).update(default_unit=None)
    type(appeal).objects.filter(pk=appeal.pk).update(unit=None)
    unit_update(actor=tadmin, unit=office, is_active=False)
    office.refresh_from_db()
    assert not office.is_active
    assert AuditEvent.objects.get(action="unit.update").detail == {"is_active": [True, False]}


def test_the_back_office_changes_through_the_service(client, tadmin, office, tree):
    client.force_login(tadmin)
    url = f"/admin/accounts/unit/{office.pk}/change/"
    data = {"name": "七星村村委会", "kind": office.kind, "phone": "", "is_active": "on"}
    assert client.post(url, data).status_code == 302
    office.refresh_from_db()
    assert office.name == "七星村村委会" and office.area == tree.qixing
    # the area is fixed once saved: a posted area is ignored
    client.post(url, {**data, "area": tree.helingcun.pk})
    office.refresh_from_db()
    assert office.area == tree.qixing
