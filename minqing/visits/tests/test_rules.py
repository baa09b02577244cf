"""The rules engine: due dates from frequencies, the due list nearest first, follow-ups,
and only the user's jurisdiction."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from minqing.registry.tests.factories import period, tag
from minqing.visits import selectors
from minqing.visits.models import VisitRule
from minqing.visits.selectors import due_date, due_items, required_visits

from .factories import household, visit_at

TODAY = date(2025, 6, 30)


def at(day: date, hour=10):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


@pytest.mark.parametrize(
    "since, last, interval, expected",
    [
        (date(2025, 6, 1), None, 30, date(2025, 7, 1)),  # never visited: from the tag date
        (date(2025, 1, 1), date(2025, 6, 20), 14, date(2025, 7, 4)),  # from the last visit
        (date(2025, 6, 25), date(2025, 6, 1), 7, date(2025, 7, 2)),  # tag given after visit
        (date(2025, 2, 28), None, 1, date(2025, 3, 1)),
    ],
)
def test_due_date_from_frequency(since, last, interval, expected):
    assert due_date(since=since, last_visit=last, interval_days=interval) == expected


@pytest.mark.parametrize(
    "start, end, interval, expected",
    [
        (date(2025, 6, 1), date(2025, 6, 30), 30, 1),
        (date(2025, 6, 1), date(2025, 6, 30), 14, 3),
        (date(2025, 6, 1), date(2025, 6, 30), 60, 1),
        (date(2025, 6, 1), date(2025, 6, 7), 7, 1),
    ],
)
def test_required_visits_in_a_period(start, end, interval, expected):
    assert required_visits(start=start, end=end, interval_days=interval) == expected


@pytest.fixture
def rules(db):
    VisitRule.objects.all().delete()
    return {
        "tekun": VisitRule.objects.create(name="特困月访", tag=tag("tekun"), interval_days=30),
        "petitioner": VisitRule.objects.create(
            name="信访人半月访", tag=tag("petitioner"), interval_days=14
        ),
    }


def test_due_list_nearest_first_with_reasons(users, tree, rules):
    g1 = tree.grids["七星村1"]
    a = household(g1, head="甲")  # 特困 since 5-01, never visited: due 5-31, overdue
    b = household(g1, head="乙")  # 信访人, visited 6-20: due 7-04 (within 7 days)
    c = household(g1, head="丙")  # 特困, visited 6-25: due 7-25, not listed
    d = household(g1, head="丁")  # no tag: never due
    e = household(g1, head="戊")  # both tags; 信访 due first: 6-10+14 = 6-24
    period(tag_code="tekun", resident=a.members.first(), start=date(2025, 5, 1))
    period(tag_code="petitioner", resident=b.members.first(), start=date(2025, 1, 1))
    period(tag_code="tekun", resident=c.members.first(), start=date(2025, 1, 1))
    period(tag_code="tekun", resident=e.members.first(), start=date(2025, 1, 1))
    period(tag_code="petitioner", household=e, resident=None, start=date(2025, 1, 1))
    visit_at(b, at(date(2025, 6, 20)), by=users.grid)
    visit_at(c, at(date(2025, 6, 25)), by=users.grid)
    visit_at(e, at(date(2025, 6, 10)), by=users.grid)
    items = due_items(fetched_by=users.grid, today=TODAY)
    assert [(i.household_id, i.due) for i in items] == [
        (a.pk, date(2025, 5, 31)),
        (e.pk, date(2025, 6, 24)),
        (b.pk, date(2025, 7, 4)),
    ]
    assert items[1].reasons[0] == "信访人半月访"
    assert items[0].overdue_days(TODAY) == 30
    assert d.pk not in {i.household_id for i in items}


def test_ended_tag_no_longer_makes_a_household_due(users, tree, rules):
    a = household(tree.grids["七星村1"])
    period(
        tag_code="tekun", resident=a.members.first(), start=date(2025, 1, 1), end=date(2025, 3, 1)
    )
    assert due_items(fetched_by=users.grid, today=TODAY) == []


def test_follow_up_date_makes_a_household_due(users, tree, rules):
    a = household(tree.grids["七星村1"])
    visit_at(a, at(date(2025, 6, 20)), by=users.grid, follow_up=date(2025, 7, 2))
    items = due_items(fetched_by=users.grid, today=TODAY)
    assert [(i.household_id, i.due) for i in items] == [(a.pk, date(2025, 7, 2))]
    # a later visit without follow-up clears it
    visit_at(a, at(date(2025, 6, 28)), by=users.grid)
    assert due_items(fetched_by=users.grid, today=TODAY) == []


def test_due_list_stays_in_the_jurisdiction(users, tree, rules):
    mine = household(tree.grids["七星村1"])
    theirs = household(tree.grids["鹤岭村1"])
    for h in (mine, theirs):
        period(tag_code="tekun", resident=h.members.first(), start=date(2025, 1, 1))
    assert [i.household_id for i in due_items(fetched_by=users.grid, today=TODAY)] == [mine.pk]
    assert [i.household_id for i in due_items(fetched_by=users.outsider, today=TODAY)] == [
        theirs.pk
    ]


def test_inactive_rule_is_ignored(users, tree, rules):
    h = household(tree.grids["七星村1"])
    period(tag_code="tekun", resident=h.members.first(), start=date(2025, 1, 1))
    VisitRule.objects.update(is_active=False)
    assert due_items(fetched_by=users.grid, today=TODAY) == []


def test_due_list_query_count_does_not_grow_with_rows(
    users, tree, rules, django_assert_num_queries
):
    for n in range(6):
        h = household(tree.grids["七星村1"])
        period(tag_code="tekun", resident=h.members.first(), start=date(2025, 1, 1))
        visit_at(h, at(date(2025, 5, 1 + n)), by=users.grid)
    users.grid._jurisdiction_paths = None
    selectors.due_list(fetched_by=users.grid, today=TODAY)  # warm the jurisdiction cache
    # the kept next-due rows with the shown households' tag rules and last visits; their
    # households
    with django_assert_num_queries(2):
        items, total = selectors.due_list(fetched_by=users.grid, today=TODAY)
    assert total == 6 and all(i.household for i in items)
    assert items[0].due == date(2025, 5, 1) + timedelta(days=30)


def test_open_appeal_rule_makes_the_household_due_until_visited(users, tree, rules):
    """信访 within a week: a household with an open appeal is due 7 days after filing, or
    after the last visit; closing the appeal ends it."""
    from minqing.appeals.models import Appeal
    from minqing.visits import services

    VisitRule.objects.create(name="在办诉求一周内回访", kind="open_appeal", interval_days=7)
    h = household(tree.grids["七星村1"])
    v = services.visit_record(actor=users.grid, household=h, situation="反映修路", needs=["修路"])
    appeal = v.findings.get(kind="need").appeal
    filed = timezone.localdate(appeal.created_at)
    Appeal.objects.filter(pk=appeal.pk).update(created_at=appeal.created_at - timedelta(days=10))
    # the visit that raised it counts as the last visit
    items = due_items(fetched_by=users.grid, today=filed + timedelta(days=7))
    assert [(i.household_id, i.due, i.reasons) for i in items] == [
        (h.pk, filed + timedelta(days=7), ["在办诉求一周内回访"])
    ]
    Appeal.objects.filter(pk=appeal.pk).update(state="resolved")
    assert due_items(fetched_by=users.grid, today=filed + timedelta(days=7)) == []


def test_rule_compliance_for_open_appeals(users, tree, rules):
    from minqing.visits import services

    rule = VisitRule.objects.create(name="在办诉求周访", kind="open_appeal", interval_days=7)
    h = household(tree.grids["七星村1"])
    services.visit_record(actor=users.grid, household=h, situation="x", needs=["修路"])
    household(tree.grids["七星村1"])  # no appeal: not counted
    today = timezone.localdate()
    report = selectors.coverage(fetched_by=users.cadre, area=tree.qixing, start=today, end=today)
    row = next(r for r in report.by_rule if r["rule"] == rule)
    assert (row["total"], row["required"], row["compliant"]) == (1, 1, 1)
