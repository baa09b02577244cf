"""The kept per-household next-due date (HouseholdDue) equals the rules engine run over
every household after each kind of change (visits through the form and the offline sync,
follow-ups, tag changes, a household moved to another grid, appeals filed and closed,
pairings and their cadre's visits, rule edits, raw writes), on PostgreSQL and SQLite alike;
the due list read from it shows what the rules engine shows; the check command finds drift
and the rebuild repairs it."""

import uuid
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from minqing.appeals.models import Appeal
from minqing.registry import services as registry
from minqing.registry.models import TagPeriod
from minqing.registry.tests.factories import tag
from minqing.visits import household_due, selectors, services
from minqing.visits.models import HouseholdDue, LastVisit, Pairing, VisitRule

from .factories import household, visit_at

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def at(day: date, hour=10):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def assert_kept():
    assert household_due.check() == []


def kept(hh):
    row = HouseholdDue.objects.filter(household=hh).first()
    return (row.grid_id, row.due) if row else None


def assert_same_due_lists(*people, today=TODAY):
    """The due list (kept rows, then the rules for the shown households) shows exactly
    what the rules engine over the whole jurisdiction gives, for several limits."""
    for user in people:
        user._jurisdiction_paths = None
        full = selectors.due_items(fetched_by=user, today=today)
        for limit in (1, 2, 50, None):
            items, total = selectors.due_list(fetched_by=user, today=today, limit=limit)
            want = full[:limit] if limit else full
            got = [(i.household_id, i.due, i.reasons, i.last_visited_at) for i in items]
            assert got == [(i.household_id, i.due, i.reasons, i.last_visited_at) for i in want]
            assert total == len(full)


@pytest.fixture
def rules(db):
    VisitRule.objects.all().delete()
    return {
        "tekun": VisitRule.objects.create(name="特困月访", tag=tag("tekun"), interval_days=30),
        "petitioner": VisitRule.objects.create(
            name="信访人半月访", tag=tag("petitioner"), interval_days=14
        ),
        "appeal": VisitRule.objects.create(
            name="在办诉求一周内回访", kind="open_appeal", interval_days=7
        ),
        "pairing": VisitRule.objects.create(name="结对户月访", kind="pairing", interval_days=30),
    }


@pytest.fixture
def homes(tree):
    return {
        "a": household(tree.grids["七星村1"], head="甲"),
        "b": household(tree.grids["七星村1"], head="乙"),
        "c": household(tree.grids["七星村2"], head="丙"),
        "far": household(tree.grids["鹤岭村1"], head="丁"),
    }


def subject(hh, code) -> dict:
    t = tag(code)
    if t.scope == t.Scope.HOUSEHOLD:
        return {"tag": t, "household": hh}
    return {"tag": t, "resident": hh.members.first()}


def give(users, hh, code, start):
    return registry.tag_give(
        actor=users.admin, start_date=start, reason="认定", **subject(hh, code)
    )


def test_tags_visits_follow_ups_and_moves_keep_the_due_date(users, tree, rules, homes):
    a, b, c = homes["a"], homes["b"], homes["c"]
    assert kept(a) is None
    give(users, a, "tekun", TODAY - timedelta(days=40))
    assert kept(a) == (a.grid_id, TODAY - timedelta(days=10))
    give(users, a, "petitioner", TODAY - timedelta(days=30))  # due earlier: 14 days
    assert kept(a) == (a.grid_id, TODAY - timedelta(days=16))
    assert_kept()
    give(users, b, "tekun", TODAY - timedelta(days=3))
    assert_same_due_lists(users.grid, users.cadre, users.township)
    # a visit through the form restarts every clock
    services.visit_record(actor=users.grid, household=a, situation="身体尚好")
    assert kept(a) == (a.grid_id, TODAY + timedelta(days=14))
    # a follow-up promised by the latest visit comes first
    services.visit_record(
        actor=users.grid, household=a, situation="约定回访", follow_up_date=TODAY + timedelta(2)
    )
    assert kept(a)[1] == TODAY + timedelta(days=2)
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre)
    # the tag ends: only the other one and the follow-up are left
    registry.tag_remove(
        actor=users.township, end_date=TODAY, reason="息诉", **subject(a, "petitioner")
    )
    assert_kept()
    # the household moves to another grid of the village: its row follows
    registry.household_update(
        actor=users.township,
        household=a,
        grid=tree.grids["七星村2"],
        number=a.number,
        address=a.address,
        phone=None,
        notes="",
    )
    assert kept(a)[0] == tree.grids["七星村2"].pk
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre, users.township)
    # offline sync: 2 queued visits to c (one with a follow-up) in one request
    give(users, c, "tekun", TODAY - timedelta(days=60))
    when = timezone.localtime() - timedelta(hours=1)
    services.visit_sync(
        actor=users.cadre,
        items=[
            {
                "client_id": str(uuid.uuid4()),
                "household_id": c.pk,
                "situation": "离线走访",
                "visited_at": when - timedelta(days=1),
                "follow_up_date": TODAY + timedelta(days=3),
            },
            {
                "client_id": str(uuid.uuid4()),
                "household_id": c.pk,
                "situation": "离线走访",
                "visited_at": when,
            },
        ],
    )
    # the later visit set no follow-up (an hour ago may be yesterday just after midnight)
    assert kept(c)[1] == timezone.localdate(when) + timedelta(days=30)
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre, users.township)


def test_appeals_pairings_and_rule_edits_keep_the_due_date(users, tree, rules, homes):
    a, b, far = homes["a"], homes["b"], homes["far"]
    # an appeal raised by a visit: due a week after the visit
    v = services.visit_record(actor=users.grid, household=a, situation="反映修路", needs=["修路"])
    appeal = v.findings.get(kind="need").appeal
    assert kept(a)[1] == timezone.localdate(v.visited_at) + timedelta(days=7)
    Appeal.objects.filter(pk=appeal.pk).update(created_at=appeal.created_at - timedelta(days=30))
    LastVisit.objects.filter(household=a).delete()  # as if never visited
    assert kept(a)[1] == timezone.localdate(appeal.created_at) - timedelta(days=23)
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre)
    Appeal.objects.filter(pk=appeal.pk).update(state="resolved")
    assert kept(a) is None
    assert_kept()
    # a pairing: due 30 days after its start, then after its own cadre's visit only
    p = services.pairing_create(
        actor=users.township, cadre=users.cadre, household=b, start_date=TODAY - timedelta(40)
    )
    assert kept(b)[1] == TODAY - timedelta(days=10)
    visit_at(b, at(TODAY - timedelta(days=5)), by=users.grid)  # another cadre's visit
    assert kept(b)[1] == TODAY - timedelta(days=10)
    visit_at(b, at(TODAY - timedelta(days=4)), by=users.cadre)
    assert kept(b)[1] == TODAY + timedelta(days=26)
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre, users.township)
    services.pairing_end(actor=users.township, pairing=p, end_date=TODAY)
    assert kept(b) is None
    # a cadre's own pairing outside their jurisdiction (their area changed since): the due
    # list still shows it
    Pairing.objects.create(
        cadre=users.grid, household=far, start_date=TODAY - timedelta(31), created_by=users.admin
    )
    assert kept(far)[1] == TODAY - timedelta(days=1)
    assert_same_due_lists(users.grid, users.outsider)
    assert far.pk in {i.household_id for i in selectors.due_list(fetched_by=users.grid)[0]}
    # rule edits recount every household in the same transaction
    give(users, a, "tekun", TODAY - timedelta(days=40))
    assert kept(a)[1] == TODAY - timedelta(days=10)
    services.visit_rule_save(
        actor=users.admin,
        name="特困月访",
        tag=tag("tekun"),
        interval_days=60,
        rule=rules["tekun"],
    )
    assert kept(a)[1] == TODAY + timedelta(days=20)
    assert_kept()
    VisitRule.objects.filter(pk=rules["tekun"].pk).update(is_active=False)
    assert kept(a) is None
    rules["tekun"].delete()
    VisitRule.objects.create(name="特困周访", tag=tag("tekun"), interval_days=7)
    assert kept(a)[1] == TODAY - timedelta(days=33)
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre, users.township, users.outsider)


def test_raw_writes_and_a_late_start_fall_back_to_the_rules(users, tree, rules, homes):
    a, b = homes["a"], homes["b"]
    TagPeriod.objects.bulk_create(
        [
            TagPeriod(
                tag=tag("tekun"), household=a, start_date=TODAY - timedelta(50), start_reason="x"
            ),
            TagPeriod(
                tag=tag("petitioner"),
                household=b,
                start_date=TODAY - timedelta(10),
                start_reason="x",
            ),
        ]
    )
    assert kept(a)[1] == TODAY - timedelta(days=20)
    assert kept(b)[1] == TODAY + timedelta(days=4)
    assert_kept()
    # on a day before b's tag started, the kept row does not hold: the rules decide
    before = TODAY - timedelta(days=12)
    assert_same_due_lists(users.grid, users.cadre, today=before)
    assert [i.household_id for i in selectors.due_list(fetched_by=users.grid, today=before)[0]] == [
        a.pk
    ]
    TagPeriod.objects.filter(household=a).update(end_date=TODAY)
    assert kept(a) is None
    TagPeriod.objects.filter(household=b).delete()
    assert kept(b) is None
    assert_kept()
    assert selectors.due_list(fetched_by=users.grid) == ([], 0)


def test_check_finds_drift_and_rebuild_repairs_it(users, rules, homes):
    give(users, homes["a"], "tekun", TODAY - timedelta(days=40))
    give(users, homes["c"], "petitioner", TODAY - timedelta(days=40))
    HouseholdDue.objects.filter(household=homes["a"]).update(due=TODAY)
    with pytest.raises(CommandError):
        call_command("household_due", "--check")
    HouseholdDue.objects.filter(household=homes["c"]).delete()
    assert len(household_due.check()) == 2  # a missing row is drift too
    call_command("household_due", "--rebuild")
    assert_kept()
    call_command("household_due", "--check")
    assert kept(homes["a"])[1] == TODAY - timedelta(days=10)


def test_tag_rules_only_the_due_list_builds_reasons_from_the_kept_read(
    users, tree, rules, homes, django_assert_num_queries
):
    """With tag rules only, the reasons come from the same statement as the kept rows:
    several tags and a follow-up per household, ties included, as the rules engine gives."""
    VisitRule.objects.filter(kind__in=["open_appeal", "pairing"]).delete()
    a, b, c, far = homes["a"], homes["b"], homes["c"], homes["far"]
    give(users, a, "tekun", TODAY - timedelta(days=40))  # due -10
    give(users, a, "petitioner", TODAY - timedelta(days=24))  # due -10 too: a tie
    give(users, b, "petitioner", TODAY - timedelta(days=10))  # due +4
    give(users, c, "tekun", TODAY - timedelta(days=29))  # due +1
    give(users, far, "tekun", TODAY - timedelta(days=35))
    visit_at(b, at(TODAY - timedelta(days=3)), by=users.grid, follow_up=TODAY + timedelta(2))
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre, users.township, users.outsider, users.admin)
    items, total = selectors.due_list(fetched_by=users.cadre)
    assert [(i.household_id, i.reasons) for i in items] == [
        (a.pk, ["信访人半月访", "特困月访"]),  # a tie: the rules' order (then name)
        (c.pk, ["特困月访"]),
        (b.pk, ["约定回访"]),  # 信访 due 11 days after the visit: beyond the week
    ]
    assert items[2].last_visited_at == at(TODAY - timedelta(days=3))
    users.cadre._jurisdiction_paths = None
    with django_assert_num_queries(3):  # the jurisdiction, the kept read, the households
        selectors.due_list(fetched_by=users.cadre, limit=8)


def test_two_rules_on_one_tag_both_count(users, rules, homes):
    """Two active rules may name one tag (特困 monthly, and a stricter weekly one for the
    winter): the earlier due wins, in the kept date and in the rules engine alike, and
    the household lists both reasons."""
    VisitRule.objects.filter(kind__in=["open_appeal", "pairing"]).delete()
    a = homes["a"]
    give(users, a, "tekun", TODAY - timedelta(days=28))  # monthly: due in 2 days
    assert kept(a)[1] == TODAY + timedelta(days=2)
    VisitRule.objects.create(name="特困冬季周访", tag=tag("tekun"), interval_days=7)
    assert kept(a)[1] == TODAY - timedelta(days=21)
    assert_kept()
    assert_same_due_lists(users.grid, users.cadre, users.township)
    (item,) = selectors.due_items(fetched_by=users.cadre)
    assert (item.household_id, item.due) == (a.pk, TODAY - timedelta(days=21))
    assert item.reasons == ["特困冬季周访", "特困月访"]


@pytest.mark.postgres
@pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="concurrent transactions need PostgreSQL",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_transactions_changing_one_household_take_turns(users, tree):
    """A tag given and a follow-up promised at once, by writers that do not lock the
    household: no duplicate-key error, and the kept date counts both."""
    import threading
    import time as clock

    from django.db import transaction

    from minqing.registry.tests.test_races import together

    VisitRule.objects.all().delete()
    VisitRule.objects.create(name="特困月访", tag=tag("tekun"), interval_days=30)
    h = household(tree.grids["七星村1"])
    first_wrote = threading.Event()

    def tag_it():
        with transaction.atomic():
            TagPeriod.objects.create(
                tag=tag("tekun"),
                household=h,
                resident=h.members.first(),
                start_date=TODAY - timedelta(days=40),
                start_reason="认定",
            )
            first_wrote.set()
            clock.sleep(0.5)  # the other one writes meanwhile

    def follow_it():
        first_wrote.wait(timeout=10)
        with transaction.atomic():
            LastVisit.objects.create(
                household=h,
                visited_at=at(TODAY - timedelta(days=50)),
                follow_up_date=TODAY + timedelta(days=3),
            )

    results = together(tag_it, follow_it)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert kept(h)[1] == TODAY - timedelta(days=10)  # the tag's, counted by the second
    assert_kept()


def test_appeals_without_a_household_recount_nothing(users, tree, rules, homes):
    """Most appeals (every resident's web filing) name no household: they change no kept
    date, and on PostgreSQL the triggers do not even call the recount for them (its
    statements were planned on every such write); an appeal whose household is taken away
    still recounts that household."""
    from django.db import connection

    from minqing.appeals import services as appeals
    from minqing.appeals.tests.factories import category

    a = homes["a"]

    def recounts():
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cur:
            cur.execute(
                "SELECT coalesce(pg_stat_get_xact_function_calls("
                "'visits_householddue_recount(bigint[])'::regprocedure), 0)"
            )
            return cur.fetchone()[0]

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL track_functions = 'all'")
    before = recounts()
    public, _code = appeals.appeal_file(
        actor=None,
        channel="web",
        category_id=category().pk,
        area_id=tree.qixing.pk,
        content="路烂了",
    )
    Appeal.objects.filter(pk=public.pk).update(state="resolved")  # a state change, no household
    assert recounts() == before
    assert kept(a) is None
    owned, _code = appeals.appeal_file(
        actor=users.cadre,
        channel="walk_in",
        category_id=category().pk,
        area_id=tree.grids["七星村1"].pk,
        household_id=a.pk,
        content="路烂了",
    )
    assert recounts() == (None if before is None else before + 1)
    assert kept(a)[1] == timezone.localdate(owned.created_at) + timedelta(days=7)
    Appeal.objects.filter(pk=owned.pk).update(household=None)
    assert kept(a) is None
    assert recounts() == (None if before is None else before + 2)
    assert_kept()
