"""Workflows as data: transitions are a table, the state is a replay of the events."""

import pytest

from minqing.core.errors import IllegalTransition, PermissionDeniedError
from minqing.core.models import AuditEvent
from minqing.core.workflow import Workflow, workflow_apply

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


def test_apply_updates_the_cache_and_audits(users, tree):
    case = tree.qixing  # any model object works as a case for an unregistered workflow
    case.state = "new"
    workflow_apply(workflow=FLOW, case=case, actor=users.cadre, action="claim")
    assert case.state == "claimed"
    event = AuditEvent.objects.get(action="sample.claim")
    assert event.detail == {"from": "new", "to": "claimed"} and event.actor == users.cadre


def test_apply_refuses_without_permission_and_writes_nothing(users, tree):
    case = tree.qixing
    case.state = "new"
    with pytest.raises(PermissionDeniedError):
        workflow_apply(workflow=FLOW, case=case, actor=users.cadre, action="assign")
    with pytest.raises(IllegalTransition):
        workflow_apply(workflow=FLOW, case=case, actor=users.cadre, action="rate")
    assert case.state == "new"
    assert not AuditEvent.objects.exists()
