"""Duplicate races answer 409, never 500: two real transactions on PostgreSQL (one thread
and one connection each, started together at a barrier). The pattern for the case apps:
let the unique constraint decide, and map its IntegrityError with core.errors.conflict_on."""

import threading
from datetime import date

import pytest
from django.db import connection

from minqing.core.errors import Conflict
from minqing.core.idcard import make_id_number
from minqing.registry import services
from minqing.registry.models import Household, Relation, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, tag

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL"
    ),
    # Real commits; the system tags of migration 0002 are restored after each test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def together(*calls):
    """Run each call in its own thread (so its own connection and transaction), released
    at once; returns ("ok", value) or ("error", exception) per call."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = ("ok", call())
        except Exception as exc:  # noqa: BLE001 - the test looks at what each one got
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_households_created_at_once_get_two_numbers(users, tree, monkeypatch):
    """Both read the same highest number (held at a barrier until both have), both insert:
    the second hits the unique constraint and takes the next number instead of a 500."""
    grid = tree.grids["七星村1"]
    HouseholdFactory(grid=grid, number=f"{grid.code}0007")
    original = services._next_household_number
    both_read = threading.Barrier(2)
    waited = set()

    def next_number(g, **kwargs):
        number = original(g, **kwargs)
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_read.wait(timeout=10)
        return number

    monkeypatch.setattr(services, "_next_household_number", next_number)
    results = together(
        lambda: services.household_create(actor=users.cadre, grid=grid, address="一组").number,
        lambda: services.household_create(actor=users.township, grid=grid, address="二组").number,
    )
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert sorted(r[1] for r in results) == [f"{grid.code}0008", f"{grid.code}0009"]


def test_two_households_with_one_number_at_once(users, tree):
    grid = tree.grids["七星村1"]
    results = together(
        lambda: services.household_create(
            actor=users.cadre, grid=grid, address="一组", number="X-1"
        ),
        lambda: services.household_create(
            actor=users.township, grid=grid, address="二组", number="X-1"
        ),
    )
    outcomes = sorted(r[0] for r in results)
    assert outcomes == ["error", "ok"], results
    error = next(r[1] for r in results if r[0] == "error")
    assert isinstance(error, Conflict) and error.status == 409
    assert "户编号 X-1 已存在" in str(error.message)
    assert Household.objects.filter(number="X-1").count() == 1


def test_one_tag_given_twice_at_once(users, tree):
    household = HouseholdFactory(grid=tree.grids["七星村1"])
    person = ResidentFactory(household=household, relation=Relation.HEAD)
    disabled = tag("disabled")

    def give(actor):
        return lambda: services.tag_give(
            actor=actor, tag=disabled, resident=person, start_date=date(2024, 3, 1), reason="持证"
        )

    results = together(give(users.cadre), give(users.township))
    assert sorted(r[0] for r in results) == ["error", "ok"], results
    error = next(r[1] for r in results if r[0] == "error")
    assert isinstance(error, Conflict) and "无需重复认定" in str(error.message)
    assert TagPeriod.objects.filter(tag=disabled, resident=person).count() == 1


def test_one_id_registered_twice_at_once(users, tree, monkeypatch):
    """Two households, no shared row lock: both check the number (held at a barrier until
    both have), both insert; only the unique constraint can refuse one, with a 409."""
    number = make_id_number("430302", date(1990, 1, 1), 1)
    first = HouseholdFactory(grid=tree.grids["七星村1"])
    second = HouseholdFactory(grid=tree.grids["七星村2"])
    original = services._check_id_number
    both_checked = threading.Barrier(2)

    def check(*args, **kwargs):
        value = original(*args, **kwargs)
        both_checked.wait(timeout=10)
        return value

    monkeypatch.setattr(services, "_check_id_number", check)

    def register(actor, household):
        return lambda: services.resident_create(
            actor=actor, household=household, name="同一人", id_number=number
        )

    results = together(register(users.cadre, first), register(users.township, second))
    assert sorted(r[0] for r in results) == ["error", "ok"], results
    error = next(r[1] for r in results if r[0] == "error")
    assert isinstance(error, Conflict) and error.status == 409


def test_editing_a_place_locks_the_place_and_not_its_grid(users, tree):
    """While one edit of a place is open, the grid's area row stays free (another place in the
    same grid can be edited, the area renamed) and the same place waits its turn."""
    import psycopg
    from django.db import transaction

    from minqing.registry.models import Place

    grid = tree.grids["七星村1"]
    shop = Place.objects.create(grid=grid, name="七星超市", kind="shop")
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
    )
    try:
        with transaction.atomic():
            services.place_update(actor=users.grid, place=shop, name="七星便民超市")
            with other.transaction():
                other.execute("SET LOCAL lock_timeout = '200ms'")
                other.execute("SELECT 1 FROM areas_area WHERE id = %s FOR UPDATE", [grid.pk])
            with pytest.raises(psycopg.errors.LockNotAvailable):
                with other.transaction():
                    other.execute("SET LOCAL lock_timeout = '200ms'")
                    other.execute(
                        "SELECT 1 FROM registry_place WHERE id = %s FOR UPDATE", [shop.pk]
                    )
    finally:
        other.close()
