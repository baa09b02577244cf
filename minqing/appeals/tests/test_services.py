"""Appeal services: intake checks, every transition rule, claim/assign, rating, escalation
timing with a controllable clock and the holiday calendar."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from minqing.appeals.models import Appeal, AppealEvent, Rating, State
from minqing.appeals.services import (
    appeal_archive,
    appeal_assign,
    appeal_by_code,
    appeal_claim,
    appeal_escalate,
    appeal_escalate_overdue,
    appeal_file,
    appeal_rate,
    appeal_remind_due,
    appeal_reopen,
    appeal_resolve,
    appeal_return,
    appeal_start,
    appeal_supervise,
)
from minqing.appeals.tests.factories import category, file_appeal
from minqing.appeals.workflow import APPEAL_FLOW
from minqing.areas.models import Level
from minqing.core import clock
from minqing.core.errors import (
    DomainError,
    IllegalTransition,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from minqing.core.models import Notification
from minqing.registry.tests.factories import HouseholdFactory


def counts():
    return (Appeal.objects.count(), AppealEvent.objects.count())


# -- intake ------------------------------------------------------------------------------------


def test_filing_sets_level_deadline_and_the_create_event(users, tree):
    t = timezone.make_aware(datetime(2026, 2, 12, 10, 0))  # Thursday before 春节
    with clock.frozen(t):
        appeal = file_appeal(actor=users.grid, area=tree.grids["七星村1"], code="water")
    assert appeal.state == State.ACCEPTED and appeal.handling_area == tree.qixing
    # water: 3 working days at village level -> Fri 13, Sat 14 (调休), Tue 24 (after 春节)
    assert timezone.localtime(appeal.due_at).date().isoformat() == "2026-02-24"
    ev = appeal.events.get()
    assert (ev.action, ev.to_state, ev.channel) == ("create", "accepted", "officer")


def test_filing_with_a_household_in_the_area(users, tree):
    hh = HouseholdFactory(grid=tree.grids["七星村1"])
    appeal = file_appeal(actor=users.cadre, area=tree.qixing, household_id=hh.pk)
    assert appeal.household == hh
    other = HouseholdFactory(grid=tree.grids["鹤岭村1"])
    with pytest.raises(ValidationFailed):  # outside the cadre's jurisdiction: not found
        file_appeal(actor=users.cadre, area=tree.qixing, household_id=other.pk)
    with pytest.raises(ValidationFailed):  # visible to the township, but not in 昭山村
        file_appeal(actor=users.township, area=tree.zhaoshancun, household_id=hh.pk)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"content": ""}, "请填写"),
        ({"content": "   "}, "请填写"),
        ({"content": "字" * 20000}, "不能超过"),
        ({"category_id": 999999}, "类别"),
        ({"area": "county"}, "村(社区)或网格"),
        ({"area": "helingcun"}, "管辖范围"),
        ({"channel": "carrier_pigeon"}, "渠道"),
        ({"contact_phone": "call me"}, "电话"),
    ],
)
def test_bad_intake_is_refused_and_writes_nothing(users, tree, change, message):
    before = counts()
    kwargs = {
        "actor": users.cadre,
        "channel": "walk_in",
        "category_id": category("road").pk,
        "area_id": tree.qixing.pk,
        "content": "路烂了",
    }
    if "area" in change:
        kwargs["area_id"] = getattr(tree, change.pop("area")).pk
    kwargs.update(change)
    with pytest.raises(ValidationFailed) as exc:
        appeal_file(**kwargs)
    assert message in str(exc.value.message)
    assert counts() == before


def test_required_extra_questions_are_asked(users, tree):
    cat = category("water")
    cat.questions = [{"key": "since", "label": "停水多久了?", "required": True}]
    cat.save()
    with pytest.raises(ValidationFailed):
        file_appeal(actor=users.cadre, area=tree.qixing, code="water")
    a = file_appeal(actor=users.cadre, area=tree.qixing, code="water", answers={"since": "三天"})
    assert a.answers == {"since": "三天"}


def test_anonymous_filing_only_from_the_public_channels(tree):
    with pytest.raises(PermissionDeniedError):
        appeal_file(
            actor=None,
            channel="hotline",
            category_id=category().pk,
            area_id=tree.qixing.pk,
            content="x",
        )
    appeal, code = appeal_file(
        actor=None, channel="web", category_id=category().pk, area_id=tree.qixing.pk, content="x"
    )
    assert appeal_by_code(code) == appeal
    ev = appeal.events.get()
    assert ev.actor is None and ev.actor_kind == "anonymous" and ev.channel == "web"


def test_wrong_malformed_and_unknown_codes_get_the_same_error(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    wrong = appeal.tracking_code[:-1] + ("0" if appeal.tracking_code[-1] != "0" else "1")
    messages = set()
    for code in (wrong, "ZZZZZZZZZZZZZZZZ", "x", "", "' OR 1=1 --"):
        with pytest.raises(NotFoundError) as exc:
            appeal_by_code(code)
        messages.add(str(exc.value.message))
    assert len(messages) == 1


# -- every transition rule ---------------------------------------------------------------------


def drive(appeal, state, users):
    """Bring a fresh appeal (filed in 七星村) to `state` through the services."""
    steps = {
        State.ACCEPTED: [],
        State.CLAIMED: [lambda a: appeal_claim(actor=users.cadre, appeal=a)],
        State.ASSIGNED: [
            lambda a: appeal_assign(
                actor=users.township, appeal=a, unit_id=users.dept.unit_id, owner_id=users.dept.pk
            )
        ],
        State.IN_PROGRESS: ["claimed", lambda a: appeal_start(actor=users.cadre, appeal=a)],
        State.RESOLVED: [
            "in_progress",
            lambda a: appeal_resolve(actor=users.cadre, appeal=a, result="修好了"),
        ],
        State.REVISITED: [
            "resolved",
            lambda a: appeal_rate(actor=users.cadre, appeal=a, rating=Rating.SATISFIED),
        ],
        State.ARCHIVED: ["revisited", lambda a: appeal_archive(actor=users.cadre, appeal=a)],
    }
    for step in steps[state]:
        appeal = drive(appeal, step, users) if isinstance(step, str) else step(appeal)
    return appeal


def handler(a, u):
    """Whoever is answerable for the matter in its state (the dept when it was assigned)."""
    return u.dept if a.state == State.ASSIGNED else u.cadre


ACTIONS = {
    "claim": lambda a, u: appeal_claim(actor=u.cadre, appeal=a),
    "assign": lambda a, u: appeal_assign(actor=u.township, appeal=a, unit_id=u.dept.unit_id),
    "start": lambda a, u: appeal_start(actor=handler(a, u), appeal=a),
    "return": lambda a, u: appeal_return(actor=handler(a, u), appeal=a, reason="不归我们管"),
    "escalate": lambda a, u: appeal_escalate(actor=u.township, appeal=a, reason="超出权限"),
    "supervise": lambda a, u: appeal_supervise(actor=u.supervisor, appeal=a, comment="抓紧"),
    "resolve": lambda a, u: appeal_resolve(actor=handler(a, u), appeal=a, result="好了"),
    "rate": lambda a, u: appeal_rate(actor=None, appeal=a, rating="satisfied"),
    "reopen": lambda a, u: appeal_reopen(actor=u.township, appeal=a, reason="群众不认可"),
    "archive": lambda a, u: appeal_archive(actor=u.township, appeal=a),
}
ALL_ACTIONS = sorted({a for (_s, a) in APPEAL_FLOW.transitions})


def test_every_action_has_a_service_in_this_test():
    assert sorted(ACTIONS) == ALL_ACTIONS


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_transition_rule(users, tree, units, state, action, django_capture_on_commit_callbacks):
    """Each (state, action): allowed ones reach the table's state with one more event;
    all others answer 409 and change nothing."""
    appeal = drive(file_appeal(actor=users.cadre, area=tree.qixing), state, users)
    appeal.refresh_from_db()
    assert appeal.state == state
    before = (appeal.events.count(), Appeal.objects.values().get(pk=appeal.pk))
    expected = APPEAL_FLOW.transitions.get((state, action))
    if action in ("assign", "escalate", "reopen") and expected is not None:
        # these act at the level now answerable; a village matter: the township acts only
        # after it came up, so hand it up first for the township user to hold the level
        Appeal.objects.filter(pk=appeal.pk).update(handling_area=tree.zhaoshan)
        appeal.refresh_from_db()
        before = (appeal.events.count(), Appeal.objects.values().get(pk=appeal.pk))
    if expected is None:
        with pytest.raises(IllegalTransition) as exc:
            ACTIONS[action](appeal, users)
        assert exc.value.status == 409
        assert (appeal.events.count(), Appeal.objects.values().get(pk=appeal.pk)) == before
    else:
        result = ACTIONS[action](appeal, users)
        result.refresh_from_db()
        assert result.state == expected
        assert result.events.count() == before[0] + 1
        last = result.events.order_by("-id").first()
        assert (last.action, last.from_state, last.to_state) == (action, state, expected)


# -- claim, assign, guards ---------------------------------------------------------------------


def test_claim_makes_the_claimer_owner_and_a_second_claim_is_409(users, tree):
    appeal = file_appeal(actor=users.grid, area=tree.grids["七星村1"])
    appeal = appeal_claim(actor=users.grid, appeal=appeal)
    assert appeal.owner == users.grid
    with pytest.raises(IllegalTransition):
        appeal_claim(actor=users.cadre, appeal=appeal)
    assert Appeal.objects.get(pk=appeal.pk).owner == users.grid


def test_claim_outside_jurisdiction_is_refused(users, tree):
    appeal = file_appeal(actor=users.township, area=tree.zhaoshancun)
    with pytest.raises(PermissionDeniedError):
        appeal_claim(actor=users.cadre, appeal=appeal)  # 七星村 cadre, 昭山村 matter


def test_assign_to_a_county_department_with_a_responsible_person(users, tree, units):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    Appeal.objects.filter(pk=appeal.pk).update(handling_area=tree.zhaoshan)
    appeal.refresh_from_db()
    appeal = appeal_assign(
        actor=users.township, appeal=appeal, unit_id=units.bureau.pk, owner_id=users.dept.pk
    )
    assert (appeal.unit, appeal.owner, appeal.assigned_by) == (
        units.bureau,
        users.dept,
        users.township,
    )
    with pytest.raises(PermissionDeniedError):  # only the owner or the unit starts it
        appeal_start(actor=users.cadre, appeal=appeal)
    appeal_start(actor=users.dept, appeal=appeal)
    # the assigner may resolve too ("the owner or the assigning unit resolves")
    appeal = appeal_resolve(actor=users.township, appeal=appeal, result="已修复")
    assert appeal.solved_level == Level.TOWNSHIP


def test_assign_checks_unit_and_owner(users, tree, units):
    appeal = file_appeal(actor=users.township, area=tree.qixing)
    Appeal.objects.filter(pk=appeal.pk).update(handling_area=tree.zhaoshan)
    appeal.refresh_from_db()
    other = type(units.bureau).objects.create(area=tree.heling, name="鹤岭镇政府", kind="other")
    before = counts()
    with pytest.raises(ValidationFailed):  # a unit neither above nor in my jurisdiction
        appeal_assign(actor=users.township, appeal=appeal, unit_id=other.pk)
    with pytest.raises(ValidationFailed):  # the responsible person is not in the unit
        appeal_assign(
            actor=users.township, appeal=appeal, unit_id=units.bureau.pk, owner_id=users.grid.pk
        )
    assert counts() == before


def test_village_cadre_may_not_assign(users, tree, units):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    with pytest.raises(PermissionDeniedError):
        appeal_assign(actor=users.cadre, appeal=appeal, unit_id=units.committee.pk)


def test_return_needs_a_reason_and_clears_the_owner(users, tree):
    appeal = appeal_claim(
        actor=users.cadre, appeal=file_appeal(actor=users.cadre, area=tree.qixing)
    )
    with pytest.raises(ValidationFailed):
        appeal_return(actor=users.cadre, appeal=appeal, reason=" ")
    appeal = appeal_return(actor=users.cadre, appeal=appeal, reason="属于供电公司")
    assert appeal.state == State.ACCEPTED and appeal.owner is None


def test_supervision_keeps_the_state_and_counts(users, tree):
    appeal = appeal_claim(
        actor=users.cadre, appeal=file_appeal(actor=users.cadre, area=tree.qixing)
    )
    appeal = appeal_supervise(actor=users.supervisor, appeal=appeal, comment="请三日内办结")
    assert appeal.state == State.CLAIMED and appeal.supervisions == 1
    with pytest.raises(PermissionDeniedError):
        appeal_supervise(actor=users.cadre, appeal=appeal, comment="x")


# -- rating -----------------------------------------------------------------------------------


def test_unsatisfied_reopens_with_the_reason(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal = drive(appeal, State.RESOLVED, users)
    with pytest.raises(ValidationFailed):  # 不满意 needs a reason
        appeal_rate(actor=None, appeal=appeal, rating=Rating.UNSATISFIED)
    appeal = appeal_rate(
        actor=None, appeal=appeal, rating=Rating.UNSATISFIED, comment="路还是烂的", channel="web"
    )
    assert appeal.state == State.IN_PROGRESS and appeal.rating == Rating.UNSATISFIED
    actions = list(appeal.events.values_list("action", "actor_kind", "comment"))[-2:]
    assert actions == [
        ("rate", "anonymous", "路还是烂的"),
        ("reopen", "anonymous", "路还是烂的"),
    ]
    assert appeal.resolved_at is None


def test_rating_before_resolution_is_409(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    with pytest.raises(IllegalTransition):
        appeal_rate(actor=None, appeal=appeal, rating=Rating.SATISFIED)
    with pytest.raises(ValidationFailed):
        appeal_rate(actor=None, appeal=appeal, rating="five stars")


# -- deadlines, reminders, escalation with a controllable clock --------------------------------


def test_overdue_matters_escalate_village_township_county(
    users, tree, django_capture_on_commit_callbacks
):
    t0 = timezone.make_aware(datetime(2026, 2, 12, 10, 0))  # Thu, before 春节
    with clock.frozen(t0):
        appeal = file_appeal(actor=users.cadre, area=tree.qixing, code="water")  # 3/7/10 days
        appeal_claim(actor=users.cadre, appeal=appeal)
    due = timezone.localtime(Appeal.objects.get(pk=appeal.pk).due_at)
    assert due.date().isoformat() == "2026-02-24"
    # during the holiday nothing is overdue
    with clock.frozen(timezone.make_aware(datetime(2026, 2, 20, 12))):
        assert appeal_escalate_overdue() == 0
    with clock.frozen(timezone.make_aware(datetime(2026, 2, 24, 23, 0))):
        assert appeal_escalate_overdue() == 0  # the last day counts in full
    t1 = timezone.make_aware(datetime(2026, 2, 25, 0, 30))
    with clock.frozen(t1), django_capture_on_commit_callbacks(execute=True):
        assert appeal_escalate_overdue() == 1
    appeal.refresh_from_db()
    assert appeal.handling_area == tree.zhaoshan and appeal.state == State.ACCEPTED
    assert appeal.owner is None and appeal.escalations == 1
    # new deadline: 7 working days at township level from Wed 25 Feb, Sat 28 Feb is a
    # 调休 working day -> Thu 5 Mar 2026
    assert timezone.localtime(appeal.due_at).date().isoformat() == "2026-03-05"
    ev = appeal.events.order_by("-id").first()
    assert ev.action == "escalate" and ev.actor_kind == "system" and "超过办理期限" in ev.comment
    # the township staff are told
    assert Notification.objects.filter(recipient=users.township, kind="appeal.escalated").exists()
    with clock.frozen(timezone.make_aware(datetime(2026, 3, 7, 1))):
        assert appeal_escalate_overdue() == 1
    appeal.refresh_from_db()
    assert appeal.handling_area == tree.county
    with clock.frozen(timezone.make_aware(datetime(2027, 1, 1))):
        assert appeal_escalate_overdue() == 0  # the county is the last level
    assert Appeal.objects.get(pk=appeal.pk).handling_area == tree.county


def test_resolved_matters_do_not_escalate(users, tree):
    t0 = timezone.make_aware(datetime(2026, 11, 2, 10))
    with clock.frozen(t0):
        drive(file_appeal(actor=users.cadre, area=tree.qixing), State.RESOLVED, users)
    with clock.frozen(t0 + timedelta(days=60)):
        assert appeal_escalate_overdue() == 0


def test_one_reminder_before_the_deadline(users, tree, django_capture_on_commit_callbacks):
    t0 = timezone.make_aware(datetime(2026, 11, 2, 10))  # Monday; road: 5 days -> Mon 9th
    with clock.frozen(t0):
        appeal_claim(actor=users.cadre, appeal=file_appeal(actor=users.cadre, area=tree.qixing))
    with clock.frozen(t0 + timedelta(days=5)):
        assert appeal_remind_due() == 0  # more than a day left
    with clock.frozen(timezone.make_aware(datetime(2026, 11, 9, 8))):
        with django_capture_on_commit_callbacks(execute=True):
            assert appeal_remind_due() == 1
        assert appeal_remind_due() == 0  # once
    assert Notification.objects.filter(recipient=users.cadre, kind="appeal.due_soon").count() == 1


def test_escalating_at_county_is_refused(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    Appeal.objects.filter(pk=appeal.pk).update(handling_area=tree.county)
    appeal.refresh_from_db()
    with pytest.raises(DomainError):
        appeal_escalate(actor=users.leader, appeal=appeal, reason="x")
