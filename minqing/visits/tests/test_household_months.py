"""The kept per-household monthly visit counts (HouseholdMonth) equal a recount from the
visits after every kind of change (visits through the form and the offline sync, a
duplicate upload, a household moved to another grid, residents moved out or dead, an
import, tag changes, rule edits, raw inserts, updates and deletes), on PostgreSQL and
SQLite alike; a month is the local calendar month; coverage of whole months read from them
equals coverage counted from the visits; the check command finds drift and the rebuild
repairs it."""

import uuid
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from minqing.registry import services as registry
from minqing.registry.models import Move
from minqing.registry.tests.factories import tag
from minqing.registry.tests.test_import import GOOD, run
from minqing.visits import household_months, selectors, services
from minqing.visits.models import HouseholdMonth, Visit, VisitRule

from .factories import household, visit_at

pytestmark = pytest.mark.django_db


def at(y, m, d, h=10, mi=0):
    return timezone.make_aware(datetime(y, m, d, h, mi))


def recount() -> dict:
    """{(household, month): (grid, visits, latest time)} counted in Python from the
    visits' local time, independent of the SQL the triggers and the check run."""
    rows: dict[tuple, tuple] = {}
    for hid, gid, when in Visit.objects.values_list(
        "household_id", "household__grid_id", "visited_at"
    ):
        local = timezone.localtime(when)
        key = (hid, date(local.year, local.month, 1))
        _g, n, last = rows.get(key, (gid, 0, when))
        rows[key] = (gid, n + 1, max(last, when))
    return rows


def kept_rows(latest=False) -> dict:
    return {
        (h, m): (g, n, last) if latest else (g, n)
        for h, m, g, n, last in HouseholdMonth.objects.values_list(
            "household_id", "month", "grid_id", "visits", "last_at"
        )
    }


def assert_kept():
    assert household_months.check() == []
    assert kept_rows(latest=True) == recount()


def figures(report) -> tuple:
    return (
        report.total,
        report.visited,
        [(r["grid_id"], r["total"], r["visited"]) for r in report.by_grid],
        [(r["rule"].pk, r["required"], r["total"], r["compliant"]) for r in report.by_rule],
        [(str(r["user"]), r["total"], r["unvisited"]) for r in report.by_cadre],
    )


def assert_same_coverage(user, area, *periods):
    """Whole months read from the kept counts give the figures the visits give."""
    for start, end in periods:
        assert selectors.kept_month_span(start, end)
        kept = selectors.coverage(fetched_by=user, area=area, start=start, end=end)
        counted = selectors.coverage(
            fetched_by=user, area=area, start=start, end=end, kept_months=False
        )
        assert figures(kept) == figures(counted), (start, end)


def this_month() -> tuple[date, date]:
    today = timezone.localdate()
    first = today.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def last_month() -> tuple[date, date]:
    first, _ = this_month()
    end = first - timedelta(days=1)
    return end.replace(day=1), end


@pytest.fixture
def rules(db):
    VisitRule.objects.all().delete()
    return {
        "tekun": VisitRule.objects.create(name="特困月访", tag=tag("tekun"), interval_days=30),
        "appeal": VisitRule.objects.create(
            name="在办诉求一周内回访", kind="open_appeal", interval_days=7
        ),
    }


@pytest.fixture
def homes(tree):
    return {
        "a": household(tree.grids["七星村1"], head="甲", child="甲子"),
        "b": household(tree.grids["七星村1"], head="乙"),
        "c": household(tree.grids["七星村2"], head="丙"),
        "far": household(tree.grids["鹤岭村1"], head="丁"),
    }


def test_visits_moves_imports_and_tags_keep_the_counts(users, tree, rules, homes):
    a, b, c = homes["a"], homes["b"], homes["c"]
    periods = [this_month(), last_month(), (last_month()[0], this_month()[1])]
    assert kept_rows() == {}
    # a visit through the form
    services.visit_record(actor=users.grid, household=a, situation="身体尚好")
    month = this_month()[0]
    assert kept_rows() == {(a.pk, month): (a.grid_id, 1)}
    # one last month (the time is asked; never in the future)
    services.visit_record(
        actor=users.grid,
        household=a,
        situation="补记",
        visited_at=timezone.make_aware(datetime.combine(last_month()[1], datetime.min.time()))
        + timedelta(hours=10),
    )
    services.visit_record(actor=users.grid, household=a, situation="再访")
    assert kept_rows()[(a.pk, month)] == (a.grid_id, 2)
    assert_kept()
    # offline sync: 2 queued visits to c in one request, then the same upload again
    when = timezone.localtime() - timedelta(minutes=5)
    items = [
        {
            "client_id": str(uuid.uuid4()),
            "household_id": c.pk,
            "situation": "离线走访",
            "visited_at": when - timedelta(minutes=5),
        },
        {
            "client_id": str(uuid.uuid4()),
            "household_id": c.pk,
            "situation": "离线走访",
            "visited_at": when,
        },
    ]
    services.visit_sync(actor=users.cadre, items=items)
    assert sum(n for (h, _m), (_g, n) in kept_rows().items() if h == c.pk) == 2
    services.visit_sync(actor=users.cadre, items=items)  # a duplicate upload writes nothing
    assert sum(n for (h, _m), (_g, n) in kept_rows().items() if h == c.pk) == 2
    assert_kept()
    assert_same_coverage(users.township, tree.zhaoshan, *periods)
    # a household moved to another grid: its rows follow, its visits stay counted
    registry.household_update(
        actor=users.township,
        household=a,
        grid=tree.grids["七星村2"],
        number=a.number,
        address=a.address,
        phone=None,
        notes="",
    )
    assert {g for (h, _m), (g, _n) in kept_rows().items() if h == a.pk} == {
        tree.grids["七星村2"].pk
    }
    assert_kept()
    assert_same_coverage(users.township, tree.zhaoshan, *periods)
    assert_same_coverage(users.cadre, tree.qixing, *periods)
    # residents moving out and dying change no count
    child = a.members.get(relation="child")
    registry.resident_move(
        actor=users.township, resident=child, kind=Move.Kind.MOVE_OUT, date=timezone.localdate()
    )
    registry.resident_move(
        actor=users.township,
        resident=b.members.first(),
        kind=Move.Kind.DEATH,
        date=timezone.localdate(),
    )
    assert_kept()
    # tags and rule edits change the rules' figures, read the same both ways
    registry.tag_give(
        actor=users.township,
        tag=tag("tekun"),
        resident=a.members.get(relation="head"),
        start_date=date(2024, 1, 1),
        reason="认定",
    )
    assert_same_coverage(users.township, tree.zhaoshan, *periods)
    services.visit_rule_save(
        actor=users.admin,
        name="特困半月访",
        tag=tag("tekun"),
        interval_days=14,
        rule=rules["tekun"],
    )
    assert_same_coverage(users.township, tree.zhaoshan, *periods)
    # an import (new households, a household of an existing number updated)
    job = run(users.township, GOOD)
    assert job.status == "done", job.result
    assert_kept()
    assert_same_coverage(users.township, tree.zhaoshan, *periods)


def test_raw_inserts_updates_and_deletes_keep_the_counts(users, tree, homes):
    a, b = homes["a"], homes["b"]
    by = users.admin
    Visit.objects.bulk_create(
        [
            Visit(household=a, grid_id=a.grid_id, visited_at=t, situation="x", recorded_by=by)
            for t in (at(2025, 5, 3), at(2025, 5, 20), at(2025, 6, 2), at(2025, 6, 2, 11))
        ]
        + [
            Visit(
                household=b,
                grid_id=b.grid_id,
                visited_at=at(2025, 6, 9),
                situation="x",
                recorded_by=by,
            )
        ]
    )
    assert kept_rows() == {
        (a.pk, date(2025, 5, 1)): (a.grid_id, 2),
        (a.pk, date(2025, 6, 1)): (a.grid_id, 2),
        (b.pk, date(2025, 6, 1)): (b.grid_id, 1),
    }
    # a visit moved to another month, then to another household
    first = Visit.objects.filter(household=a).order_by("visited_at").first()
    Visit.objects.filter(pk=first.pk).update(visited_at=at(2025, 7, 1))
    assert kept_rows()[(a.pk, date(2025, 5, 1))] == (a.grid_id, 1)
    assert kept_rows()[(a.pk, date(2025, 7, 1))] == (a.grid_id, 1)
    Visit.objects.filter(pk=first.pk).update(household=b, grid_id=b.grid_id)
    assert (a.pk, date(2025, 7, 1)) not in kept_rows()
    assert kept_rows()[(b.pk, date(2025, 7, 1))] == (b.grid_id, 1)
    # an update that moves nothing changes nothing
    Visit.objects.filter(household=a).update(situation="改")
    assert_kept()
    # a delete of some, then of the rest of a month
    Visit.objects.filter(household=a, visited_at__gte=at(2025, 6, 2, 10, 30)).delete()
    assert kept_rows()[(a.pk, date(2025, 6, 1))] == (a.grid_id, 1)
    Visit.objects.filter(household=a, visited_at__gte=at(2025, 6, 1)).delete()
    assert (a.pk, date(2025, 6, 1)) not in kept_rows()
    assert_kept()
    # a raw grid change of several households in one statement
    type(a).objects.filter(pk__in=[a.pk, b.pk]).update(grid=tree.grids["七星村2"])
    assert {g for (_m), (g, _n) in kept_rows().items()} == {tree.grids["七星村2"].pk}
    assert_kept()
    Visit.objects.all().delete()
    assert kept_rows() == {}


def test_a_month_is_the_local_calendar_month(users, tree):
    """Asia/Shanghai: 05-31 23:50 is May and 07-01 00:05 is July, though both are June in
    UTC (15:50 on 05-31 is May in UTC too; 16:05 on 06-30 is June in UTC)."""
    h = household(tree.grids["七星村1"])
    for when in (
        at(2025, 5, 31, 23, 50),
        at(2025, 6, 1, 0, 10),
        at(2025, 6, 30, 23, 30),
        at(2025, 7, 1, 0, 5),
    ):
        visit_at(h, when, by=users.admin)
    assert kept_rows() == {
        (h.pk, date(2025, 5, 1)): (h.grid_id, 1),
        (h.pk, date(2025, 6, 1)): (h.grid_id, 2),
        (h.pk, date(2025, 7, 1)): (h.grid_id, 1),
    }
    assert_kept()


def test_kept_month_span():
    span = selectors.kept_month_span
    assert span(date(2025, 6, 1), date(2025, 6, 30)) == (date(2025, 6, 1), date(2025, 6, 1))
    assert span(date(2025, 6, 1), date(2025, 6, 12)) == (date(2025, 6, 1), date(2025, 6, 1))
    assert span(date(2024, 12, 1), date(2025, 2, 3)) == (date(2024, 12, 1), date(2025, 2, 1))
    assert span(date(2025, 6, 2), date(2025, 6, 30)) is None
    assert span(date(2025, 7, 1), date(2025, 6, 30)) is None


def test_a_month_to_a_day_counts_the_visits_after_it_by_household(users, tree):
    """June 1 to 15 from the kept counts: a household whose latest June visit is after
    the 15th is counted from its visits; the latest time follows deletes and moves."""
    VisitRule.objects.all().delete()
    g = tree.grids["七星村1"]
    early, late, both = household(g), household(g), household(g)
    for h, times in {
        early: [at(2025, 6, 3), at(2025, 6, 15, 23, 50)],
        late: [at(2025, 6, 16, 0, 10)],
        both: [at(2025, 6, 5), at(2025, 6, 20), at(2025, 6, 28)],
    }.items():
        for t in times:
            visit_at(h, t, by=users.admin)
    half = (date(2025, 6, 1), date(2025, 6, 15))

    def visited():
        report = selectors.coverage(
            fetched_by=users.township, area=tree.qixing, start=half[0], end=half[1]
        )
        return report.visited

    assert visited() == 2  # early and both
    assert_same_coverage(users.township, tree.qixing, half, (date(2025, 5, 1), date(2025, 6, 15)))
    # the late visits go: `both` has only its early one left, its latest time with it
    Visit.objects.filter(household=both, visited_at__gte=at(2025, 6, 16)).delete()
    assert kept_rows(latest=True)[(both.pk, date(2025, 6, 1))] == (g.pk, 1, at(2025, 6, 5))
    Visit.objects.filter(household=late).update(visited_at=at(2025, 6, 14))
    assert visited() == 3
    assert_same_coverage(users.township, tree.qixing, half)
    assert_kept()


def test_check_finds_drift_and_rebuild_repairs_it(users, tree, homes):
    a = homes["a"]
    visit_at(a, at(2025, 6, 3), by=users.admin)
    visit_at(a, at(2025, 6, 4), by=users.admin)
    HouseholdMonth.objects.filter(household=a).update(visits=5)
    with pytest.raises(CommandError):
        call_command("household_months", "--check")
    HouseholdMonth.objects.all().delete()
    assert household_months.check()  # missing rows are drift too
    call_command("household_months", "--rebuild")
    assert kept_rows() == {(a.pk, date(2025, 6, 1)): (a.grid_id, 2)}
    assert_kept()
    call_command("household_months", "--check")


@pytest.mark.postgres
@pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="concurrent transactions need PostgreSQL",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_visit_written_while_its_household_moves_gets_the_new_grid(users, tree):
    """The household moves (raw update, uncommitted for half a second) while a first
    visit of the month is written: the visit's trigger waits for the move and gives the
    new row the grid it moved to (without the lock it read the old one and kept it)."""
    import threading
    import time as clock

    from django.db import transaction

    from minqing.registry.models import Household
    from minqing.registry.tests.test_races import together

    h = household(tree.grids["七星村1"])
    moved = threading.Event()

    def move():
        with transaction.atomic():
            Household.objects.filter(pk=h.pk).update(grid=tree.grids["七星村2"])
            moved.set()
            clock.sleep(0.5)  # the visit is written meanwhile

    def visit():
        moved.wait(timeout=10)
        with transaction.atomic():
            Visit.objects.create(
                household_id=h.pk,
                grid_id=h.grid_id,
                visited_at=at(2025, 6, 3),
                situation="x",
                recorded_by=users.admin,
            )

    results = together(move, visit)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert kept_rows() == {(h.pk, date(2025, 6, 1)): (tree.grids["七星村2"].pk, 1)}
    assert_kept()
