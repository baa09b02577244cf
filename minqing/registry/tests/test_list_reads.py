"""The list pages' reads of their rows' details (badges, matched members), written as fixed
statements: the same answers as the ORM's, one statement text for any page."""

from datetime import date

import pytest
from django.db import connection

from minqing.registry import selectors
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period

pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements")


@pytest.fixture
def two_houses(tree):
    a = HouseholdFactory(grid=tree.grids["七星村1"], number="LR-1")
    a_head = ResidentFactory(household=a, name="唐超德", relation="head")
    a_wife = ResidentFactory(household=a, name="易燕芳", relation="spouse")
    b = HouseholdFactory(grid=tree.grids["七星村1"], number="LR-2")
    b_head = ResidentFactory(household=b, name="易燕芳", relation="head")
    start = date(2020, 1, 1)
    period(tag_code="dibao", household=a, start=start)  # household tag
    period(tag_code="party_member", resident=a_wife, start=start)
    period(tag_code="disabled", resident=a_wife, start=start)
    period(tag_code="disabled", resident=a_head, start=start, end=date(2021, 1, 1))  # ended
    period(tag_code="party_member", resident=b_head, start=start)
    return type("H", (), {"a": a, "a_head": a_head, "a_wife": a_wife, "b": b, "b_head": b_head})


def _codes(badges):
    return {owner: [b.tag.code for b in rows] for owner, rows in badges.items()}


def test_badges_by_household_and_by_resident_open_periods_in_tag_order(two_houses):
    h = two_houses
    by_household = selectors.current_badges(household_ids=[h.a.pk, h.b.pk])
    assert _codes(by_household) == {
        h.a.pk: ["dibao", "disabled", "party_member"],
        h.b.pk: ["party_member"],
    }
    assert [b.resident_id for b in by_household[h.a.pk]] == [None, h.a_wife.pk, h.a_wife.pk]
    by_resident = selectors.current_badges(resident_ids=[h.a_head.pk, h.a_wife.pk, h.b_head.pk])
    assert _codes(by_resident) == {
        h.a_wife.pk: ["disabled", "party_member"],
        h.b_head.pk: ["party_member"],
    }
    assert selectors.current_badges(household_ids=[]) == {}


def _prepared_texts() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cur.fetchall()]


@pg_only
def test_badges_are_one_prepared_statement_for_any_page(two_houses, settings):
    settings.DB_PREPARED_WRITES = True
    h = two_houses
    before = _prepared_texts()
    selectors.current_badges(household_ids=[h.a.pk])
    selectors.current_badges(household_ids=[h.a.pk, h.b.pk])
    new = [s for s in _prepared_texts() if s not in before]
    assert len(new) == 1 and "registry_tagperiod" in new[0]
