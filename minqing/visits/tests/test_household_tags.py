"""The kept per-household tag summary (HouseholdTags) equals a recount from the tag
periods after every kind of registry change (creates, moves, deaths, imports, tag changes,
a household moved to another grid, raw writes), on PostgreSQL and SQLite alike; the check
command finds drift and the rebuild repairs it; coverage reads the summary for a period
after the last change and the periods for one before it."""

from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from minqing.registry import services
from minqing.registry.models import Move, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, tag
from minqing.registry.tests.test_import import GOOD, run
from minqing.visits import household_tags
from minqing.visits.models import HouseholdTags, VisitRule
from minqing.visits.selectors import coverage

pytestmark = pytest.mark.django_db


def assert_kept():
    assert household_tags.check() == []


def kept(household) -> tuple:
    row = HouseholdTags.objects.filter(household=household).first()
    return (row.grid_id, household_tags.parse(row.tags), row.since) if row else None


@pytest.fixture
def city(tree, users):
    h1 = HouseholdFactory(grid=tree.grids["七星村1"])
    h2 = HouseholdFactory(grid=tree.grids["七星村2"])
    a = ResidentFactory(household=h1, relation="head")
    b = ResidentFactory(household=h1)
    c = ResidentFactory(household=h2, relation="head")
    return h1, h2, a, b, c


def test_tag_changes_moves_and_deaths_keep_the_summary(city, tree, users):
    h1, h2, a, b, c = city
    assert kept(h1) is None
    dibao = services.tag_give(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        start_date=date(2025, 1, 1),
        reason="收入低",
    )
    assert kept(h1) == (h1.grid_id, {dibao.tag_id}, date(2025, 1, 1))
    services.tag_give(
        actor=users.township,
        tag=tag("disabled"),
        resident=b,
        start_date=date(2025, 1, 5),
        reason="残疾证",
    )
    assert kept(h1)[1] == {tag("dibao").pk, tag("disabled").pk}
    assert_kept()
    services.tag_remove(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        end_date=date(2025, 3, 1),
        reason="收入提高",
    )
    assert kept(h1) == (h1.grid_id, {tag("disabled").pk}, date(2025, 3, 1))
    assert_kept()
    # b moves to h2 and takes the personal tag along
    services.resident_move(
        actor=users.township,
        resident=b,
        kind=Move.Kind.TRANSFER,
        date=date(2025, 4, 2),
        to_household=h2,
        relation="other",
    )
    assert_kept()
    assert tag("disabled").pk in kept(h2)[1]
    assert tag("disabled").pk not in kept(h1)[1]
    # a death closes the person's tags
    services.resident_move(
        actor=users.township, resident=b, kind=Move.Kind.DEATH, date=date(2025, 5, 1)
    )
    assert_kept()
    assert tag("disabled").pk not in kept(h2)[1]
    # the household moves to another grid: its row follows
    services.household_update(
        actor=users.township,
        household=h1,
        grid=tree.grids["昭山村1"],
        number=h1.number,
        address=h1.address,
        phone=None,
        notes="",
    )
    assert kept(h1)[0] == tree.grids["昭山村1"].pk
    assert_kept()


def test_creates_imports_and_raw_writes_keep_the_summary(tree, users):
    h = services.household_create(actor=users.cadre, grid=tree.grids["七星村1"], address="一组")
    assert kept(h) is None
    job = run(users.township, GOOD)
    assert job.status == "done", job.result
    assert HouseholdTags.objects.exists()  # the import's tags
    assert_kept()
    # writes that bypass the services (bulk, update, delete) are kept by the triggers too
    h2 = HouseholdFactory(grid=tree.grids["七星村2"])
    TagPeriod.objects.bulk_create(
        [
            TagPeriod(
                tag=tag("dibao"), household=h2, start_date=date(2024, 1, 1), start_reason="x"
            ),
            TagPeriod(
                tag=tag("empty_nest"), household=h2, start_date=date(2024, 2, 1), start_reason="x"
            ),
        ]
    )
    assert kept(h2)[1] == {tag("dibao").pk, tag("empty_nest").pk}
    TagPeriod.objects.filter(household=h2, tag=tag("dibao")).update(end_date=date(2024, 6, 1))
    assert kept(h2) == (h2.grid_id, {tag("empty_nest").pk}, date(2024, 6, 1))
    TagPeriod.objects.filter(household=h2).delete()
    assert kept(h2) is None
    assert_kept()


def test_check_finds_drift_and_rebuild_repairs_it(city, users):
    h1 = city[0]
    services.tag_give(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        start_date=date(2025, 1, 1),
        reason="收入低",
    )
    HouseholdTags.objects.filter(household=h1).update(tags=",")
    with pytest.raises(CommandError):
        call_command("household_tags", "--check")
    HouseholdTags.objects.all().delete()
    assert household_tags.check()  # missing rows are drift too
    call_command("household_tags", "--rebuild")
    assert_kept()
    call_command("household_tags", "--check")


def test_coverage_reads_the_summary_after_the_last_change_and_the_periods_before(city, tree, users):
    """A household whose tag ended after the report's last day still counts under the rule
    for that period (from its periods), and not for a period after the end (the summary)."""
    h1 = city[0]
    VisitRule.objects.update(is_active=False)
    rule = VisitRule.objects.create(name="低保户每月", tag=tag("dibao"), interval_days=30)
    services.tag_give(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        start_date=date(2025, 1, 1),
        reason="收入低",
    )
    services.tag_remove(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        end_date=date(2025, 3, 10),
        reason="收入提高",
    )

    def covered(start, end):
        report = coverage(fetched_by=users.township, area=tree.zhaoshan, start=start, end=end)
        return next(r for r in report.by_rule if r["rule"].pk == rule.pk)["total"]

    assert covered(date(2025, 2, 1), date(2025, 2, 28)) == 1  # before the change: periods
    assert covered(date(2025, 3, 1), date(2025, 3, 31)) == 0  # after it: the summary
    services.tag_give(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        start_date=date(2025, 4, 1),
        reason="再次认定",
    )
    assert covered(date(2025, 4, 1), date(2025, 4, 30)) == 1
    assert covered(date(2025, 3, 1), date(2025, 3, 31)) == 0  # periods again: still none
