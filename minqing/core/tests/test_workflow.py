"""The workflow kernel, tested against the real Appeal model: transitions are a table, the
state is a replay of the events, guards check role and object, anonymous actors are
recorded as such, final states are final, drift is found and fixed."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from minqing.appeals.models import Appeal, AppealEvent
from minqing.appeals.services import appeal_claim
from minqing.appeals.tests.factories import file_appeal
from minqing.appeals.workflow import APPEAL_FLOW
from minqing.core.errors import IllegalTransition, PermissionDeniedError
from minqing.core.models import AuditEvent
from minqing.core.workflow import (
    ActorKind,
    UnregisteredWorkflow,
    Workflow,
    registered_workflows,
    workflow_apply,
    workflow_check,
)

FLOW = Workflow(
    name="sample",
    initial="new",
    transitions={
        ("new", "claim"): "claimed",
        ("new", "assign"): "assigned",
        ("claimed", "resolve"): "resolved",
        ("assigned", "escalate"): "escalated",
        ("resolved", "rate"): "closed",
    },
    perms={"assign": "areas.manage"},
    final={"closed"},
)


def test_next_state_and_illegal_transition():
    assert FLOW.next_state("new", "claim") == "claimed"
    with pytest.raises(IllegalTransition) as exc:
        FLOW.next_state("closed", "claim")
    assert exc.value.status == 409
    assert exc.value.details == {"state": "closed", "action": "claim"}


def test_replay_derives_the_state_from_events():
    assert FLOW.replay([]) == "new"
    assert FLOW.replay(["claim", "resolve", "rate"]) == "closed"
    with pytest.raises(IllegalTransition):
        FLOW.replay(["claim", "rate"])


def test_actions_from_a_state_and_by_role(users):
    assert sorted(FLOW.actions_from("new")) == ["assign", "claim"]
    assert FLOW.allowed_actions("new", users.cadre) == ["claim"]
    assert sorted(FLOW.allowed_actions("new", users.admin)) == ["assign", "claim"]
    assert FLOW.states() >= {"new", "closed", "escalated"}


def test_a_final_state_with_an_exit_is_refused_at_declaration():
    with pytest.raises(ImproperlyConfigured):
        Workflow(
            name="x", initial="a", transitions={("a", "go"): "b", ("b", "back"): "a"}, final={"b"}
        )


def test_an_unregistered_workflow_raises_instead_of_writing_no_event(users, tree):
    case = tree.qixing
    case.state = "new"
    with pytest.raises(UnregisteredWorkflow):
        workflow_apply(workflow=FLOW, case=case, actor=users.cadre, action="claim")
    assert case.state == "new" and not AuditEvent.objects.filter(action="sample.claim").exists()


def test_a_registered_workflow_refuses_a_foreign_model(users, tree):
    tree.qixing.state = "accepted"
    with pytest.raises(UnregisteredWorkflow):
        workflow_apply(workflow=APPEAL_FLOW, case=tree.qixing, actor=users.cadre, action="claim")


def test_apply_writes_the_event_updates_the_cache_and_audits(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal = appeal_claim(actor=users.cadre, appeal=appeal, comment="我来办")
    event = appeal.events.order_by("-id").first()
    assert (event.action, event.from_state, event.to_state) == ("claim", "accepted", "claimed")
    assert event.actor == users.cadre and event.actor_kind == ActorKind.STAFF
    assert event.comment == "我来办"
    assert Appeal.objects.get(pk=appeal.pk).state == "claimed"
    audit = AuditEvent.objects.get(action="appeal.claim")
    assert audit.detail["from"] == "accepted" and audit.actor == users.cadre
    # the first event of every case is its CREATE event
    assert list(appeal.events.values_list("action", flat=True)) == ["create", "claim"]


def test_role_guard_refuses_and_writes_nothing(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    before = AppealEvent.objects.count()
    with pytest.raises(PermissionDeniedError):
        workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=users.supervisor, action="claim")
    assert AppealEvent.objects.count() == before and appeal.state == "accepted"


def test_object_guard_refuses_an_actor_with_the_role_but_not_the_object(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal_claim(actor=users.cadre, appeal=appeal)
    appeal.refresh_from_db()
    # grid worker has the role to start work, but is neither the owner nor in the unit
    with pytest.raises(PermissionDeniedError):
        workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=users.grid, action="start")
    assert appeal.state == "claimed"
    assert "start" not in APPEAL_FLOW.allowed_actions("claimed", users.grid, appeal)
    assert "start" in APPEAL_FLOW.allowed_actions("claimed", users.cadre, appeal)


def test_anonymous_actor_only_for_anonymous_actions_and_recorded_with_channel(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    with pytest.raises(PermissionDeniedError):
        workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=None, action="claim")
    appeal.state = "resolved"  # pretend, to test the anonymous rating alone
    event = workflow_apply(
        workflow=APPEAL_FLOW,
        case=appeal,
        actor=None,
        action="rate",
        anonymous_label="诉求人",
        channel="web",
    )
    assert event.actor is None and event.actor_kind == ActorKind.ANONYMOUS
    assert (event.actor_label, event.channel) == ("诉求人", "web")


def test_on_enter_hook_runs_after_the_state_is_entered(users, tree, monkeypatch):
    seen = []
    monkeypatch.setitem(
        APPEAL_FLOW.on_enter, "claimed", lambda case, ev: seen.append((case.state, ev.action))
    )
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal_claim(actor=users.cadre, appeal=appeal)
    assert seen == [("claimed", "claim")]


def test_final_state_has_no_exit():
    assert APPEAL_FLOW.is_final("archived")
    assert APPEAL_FLOW.actions_from("archived") == []


def test_a_note_records_an_event_in_any_state_and_changes_nothing(users, tree, monkeypatch):
    """Workflow notes: an event with actor and time, from = to = the current state, final
    states too; no on_enter hook, no button, skipped by the replay; a note that is also a
    transition is refused at declaration."""
    with pytest.raises(ImproperlyConfigured):
        Workflow(name="x", initial="a", transitions={("a", "go"): "b"}, notes={"go"})
    flow = Workflow(name="x", initial="a", transitions={("a", "go"): "b"}, final={"b"}, notes={"n"})
    assert flow.next_state("b", "n") == "b"
    assert flow.replay(["n", "go", "n"]) == "b"
    assert flow.actions_from("a") == ["go"]
    seen = []
    monkeypatch.setitem(APPEAL_FLOW.on_enter, "accepted", lambda case, ev: seen.append(ev))
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    seen.clear()
    changed = appeal.state_changed_at
    event = workflow_apply(
        workflow=APPEAL_FLOW, case=appeal, actor=users.cadre, action="duplicate", comment="x"
    )
    assert (event.from_state, event.to_state, event.actor) == ("accepted", "accepted", users.cadre)
    assert appeal.state_changed_at == changed and seen == []
    assert "duplicate" not in APPEAL_FLOW.allowed_actions("accepted", users.admin, appeal)
    # the role still applies
    with pytest.raises(PermissionDeniedError):
        workflow_apply(
            workflow=APPEAL_FLOW, case=appeal, actor=users.supervisor, action="duplicate"
        )
    assert workflow_check(registered_workflows()["appeal"]) == []


def test_check_workflows_reports_and_fixes_drift(users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal_claim(actor=users.cadre, appeal=appeal)
    reg = registered_workflows()["appeal"]
    assert workflow_check(reg) == []
    Appeal.objects.filter(pk=appeal.pk).update(state="archived")  # drift
    assert workflow_check(reg) == [(appeal.pk, "archived", "claimed")]
    with pytest.raises(SystemExit):
        call_command("check_workflows")
    call_command("check_workflows", "--fix")
    assert Appeal.objects.get(pk=appeal.pk).state == "claimed"
    assert workflow_check(reg) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement intake is PostgreSQL's"
)
def test_quick_field_values_are_what_djangos_insert_would_send(users, tree):
    """workflow_create says the common values of text, moment, integer and key fields itself;
    the SQL and every parameter (value and psycopg type) equal Django's own preparation."""
    from datetime import datetime as dt
    from zoneinfo import ZoneInfo

    from minqing.core import workflow
    from minqing.core.audit import audit_row

    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal.pk = None
    appeal.escalations, appeal.solved_level = 2, 3  # small integers: psycopg's Int2
    appeal.due_at = dt(2026, 12, 4, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
    appeal.created_by = users.cadre
    event = AppealEvent(appeal=appeal, actor=users.cadre, action="create", to_state="accepted")
    row = audit_row(actor=users.cadre, obj=appeal, action="appeal.file", detail={"n": 1})
    cases = [
        lambda: workflow._insert_sql(
            Appeal, appeal, exclude=Appeal._meta.pk, returning=Appeal._meta.pk
        ),
        lambda: workflow._insert_from_case(AppealEvent, event, {"appeal_id": None}),
        lambda: workflow._insert_from_case(AuditEvent, row, {"target_id": None}),
    ]
    for case in cases:
        quick = case()
        assert workflow._QUICK, "the quick values were learnt"
        saved = dict(workflow._QUICK)
        workflow._QUICK.clear()
        try:
            slow = case()
        finally:
            workflow._QUICK.update(saved)
        assert quick[0] == slow[0]
        assert [(type(v), repr(v)) for v in quick[1]] == [(type(v), repr(v)) for v in slow[1]]
