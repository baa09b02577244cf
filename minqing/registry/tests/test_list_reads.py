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


@pytest.fixture
def searched(tree):
    """Members of every kind a search matches on, and names with LIKE's special signs."""
    h = HouseholdFactory(grid=tree.grids["七星村1"], number="LR-9")
    ResidentFactory(household=h, name="张德书", relation="head", phone="13812345678")
    made = [
        ResidentFactory(household=h, name=name, relation="child", phone=phone)
        for name, phone in [
            ("易燕芳", "13900001234"),
            ("張德華", "13700005678"),
            ("王%芳", "13600002222"),
            ("王_芳", "13500003333"),
            ("李\\明", "13400004444"),
        ]
    ]
    other = HouseholdFactory(grid=tree.grids["七星村1"], number="LR-10")
    ResidentFactory(household=other, name="易燕", relation="spouse", phone="13300001234")
    return [h.pk, other.pk], made


@pytest.mark.parametrize(
    "q",
    [
        *("易燕芳", "易燕", "燕", "德", "張德", "张德华", "yiyanfang", "YYF", "yi", "zh", "zdh"),
        *("1234", "5678", "13900001234", "13812345678", "12345", "0000", "x"),
        *("%", "王%", "_", "王_芳", "\\", "李\\明", "芳"),
    ],
)
def test_matched_members_answer_what_the_resident_search_condition_answers(searched, q):
    """The SQL of the rows' matched members and the ORM condition of the searches
    (`_resident_q`) find the same members, LIKE's signs taken literally."""
    from minqing.registry.models import Resident
    from minqing.registry.search_keys import number_query

    ids, made = searched
    got = selectors.matched_members(q=q, household_ids=ids)
    orm = (
        Resident.objects.filter(selectors._resident_q(q, number_query(q)), household_id__in=ids)
        .exclude(relation="head")
        .order_by("household_id", "id")
    )
    expected: dict[int, list[tuple]] = {}
    for r in orm:
        expected.setdefault(r.household_id, []).append((r.pk, r.name, r.relation))
    assert {k: [(m.pk, m.name, m.relation) for m in v] for k, v in got.items()} == expected


def test_matched_members_take_like_signs_literally(searched):
    ids, made = searched
    found = selectors.matched_members(q="王%", household_ids=ids)
    assert [m.name for m in found[ids[0]]] == ["王%芳"]
    found = selectors.matched_members(q="_", household_ids=ids)
    assert [m.name for m in found[ids[0]]] == ["王_芳"]


@pg_only
def test_matched_members_are_one_prepared_statement_per_kind_of_query(searched, settings):
    settings.DB_PREPARED_WRITES = True
    ids, _made = searched
    before = _prepared_texts()
    for q in ("易燕", "德华", "yi", "zdh"):  # two names, two pinyin prefixes
        selectors.matched_members(q=q, household_ids=ids[:1])
        selectors.matched_members(q=q, household_ids=ids)
    new = [s for s in _prepared_texts() if s not in before]
    assert len(new) == 2 and all("registry_resident" in s for s in new)


def test_resident_list_rows_from_columns_write_what_the_models_wrote(tree, users):
    """The resident list builds its rows from a few columns (views.ResidentRow), not from
    Resident, household, head and grid models: the same markup, hostile values escaped,
    numbers masked, ages and household names alike, in both languages."""
    from django.utils import translation

    from minqing.registry.models import Resident
    from minqing.registry.templatetags.resident_rows import resident_rows
    from minqing.registry.views import ResidentRow

    grid = tree.grids["七星村1"]
    h = HouseholdFactory(grid=grid, number="<b>&1", address="x")
    ResidentFactory(household=h, name="唐<超>德", relation="head", phone="13800001234")
    ResidentFactory(household=h, name="易&燕", relation="spouse", gender="F", phone="")
    ResidentFactory(
        household=h,
        name="王\"五'",
        relation="child",
        status="deceased",
        status_date=date(2024, 5, 6),
    )
    headless = HouseholdFactory(grid=grid, number="H<2>")
    ResidentFactory(household=headless, name="李四", relation="other", status="moved_out")
    qs = selectors.resident_search(fetched_by=users.admin).filter(household__in=[h, headless])
    models = list(qs)
    rows = [ResidentRow(*row) for row in qs.values_list(*ResidentRow.COLUMNS)]
    assert len(rows) == len(models) == 4
    badges = selectors.current_badges(resident_ids=[r.pk for r in models])
    for r in [*models, *rows]:
        r.current_tags = badges.get(r.pk, [])
    for language in ("zh-hans", "en"):
        with translation.override(language):
            got = resident_rows(rows)
            assert got == resident_rows(models)
    assert "&lt;超&gt;" in got and "13800001234" not in got and "H&lt;2&gt;" in got
    assert isinstance(models[0], Resident)
