"""core.errors.conflict_on: the database decides uniqueness, and its IntegrityError becomes a
409 Conflict by constraint name, on SQLite and PostgreSQL alike (the races themselves are in
registry/tests/test_races.py, PostgreSQL only)."""

import pytest
from django.db import IntegrityError, transaction

from minqing.accounts.models import Unit
from minqing.accounts.services import unit_create, user_create
from minqing.areas.models import Area, Level
from minqing.areas.services import area_create
from minqing.core.errors import Conflict, conflict_on, violated_constraints
from minqing.core.roles import Role
from minqing.registry.models import Household
from minqing.registry.tests.factories import HouseholdFactory


def test_constraint_names_are_read_on_this_database(tree):
    HouseholdFactory(grid=tree.grids["七星村1"], number="N-1")
    with pytest.raises(IntegrityError) as err, transaction.atomic():
        Household.objects.create(grid=tree.grids["七星村1"], number="N-1", address="x")
    assert "registry_household_number_key" in violated_constraints(err.value)


def test_a_named_constraint_becomes_a_409_and_the_transaction_goes_on(tree):
    HouseholdFactory(grid=tree.grids["七星村1"], number="N-1")
    with transaction.atomic():
        with pytest.raises(Conflict) as err:
            with conflict_on({"registry_household_number_key": "户编号已存在"}):
                Household.objects.create(grid=tree.grids["七星村1"], number="N-1", address="x")
        assert err.value.status == 409 and str(err.value.message) == "户编号已存在"
        # The savepoint was rolled back, not the transaction: it can still be used.
        assert Household.objects.filter(number="N-1").count() == 1


def test_another_constraint_stays_an_error(tree):
    HouseholdFactory(grid=tree.grids["七星村1"], number="N-1")
    with pytest.raises(IntegrityError):
        with conflict_on({"resident_id_number_unique": "身份证号已登记"}):
            Household.objects.create(grid=tree.grids["七星村1"], number="N-1", address="x")


def test_services_let_the_constraint_decide(users, tree, monkeypatch):
    """With the old exists() checks out of the way, a duplicate still answers 409 (what a
    concurrent request meets when both passed any check)."""
    users.admin.is_superuser = True
    with pytest.raises(Conflict, match="已存在"):
        area_create(
            actor=users.admin,
            level=Level.VILLAGE,
            code=tree.qixing.code,
            name="重复村",
            parent=tree.zhaoshan,
        )
    assert Area.objects.filter(code=tree.qixing.code).count() == 1
    unit_create(actor=users.admin, name="民政办", kind="department", area=tree.zhaoshan)
    with pytest.raises(Conflict, match="同名单位"):
        unit_create(actor=users.admin, name="民政办", kind="department", area=tree.zhaoshan)
    assert Unit.objects.filter(name="民政办").count() == 1
    with pytest.raises(Conflict, match="已被使用"):
        user_create(
            actor=users.admin,
            username="cadre",
            password="a-long-pass-phrase-9",
            role=Role.GRID_WORKER,
            areas=[tree.qixing],
        )
