"""Workflows as data (appeal, tip, poverty case...).

Allowed transitions are a table; every transition is a dated event row with its actor; the
case's `state` column is a cache of the last event, rebuilt from the events by
`manage.py check_workflows`. A domain app declares its workflow once:

    APPEAL_FLOW = Workflow(
        name="appeal",
        initial="new",
        transitions={("new", "claim"): "claimed", ("claimed", "resolve"): "resolved", ...},
        perms={"claim": "appeals.claim", "assign": "appeals.assign"},
    )

    class AppealEvent(WorkflowEvent):
        appeal = models.ForeignKey(Appeal, related_name="events", on_delete=models.PROTECT)

    register_workflow(APPEAL_FLOW, model=Appeal, event_model=AppealEvent, case_field="appeal")

and its services call `workflow_apply(...)` inside their transaction, after select_for_update.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audit import audit_record
from .errors import IllegalTransition
from .permissions import require


@dataclass(frozen=True)
class Workflow:
    name: str
    initial: str
    transitions: dict[tuple[str, str], str]
    perms: dict[str, str] = field(default_factory=dict)
    final: frozenset = frozenset()

    def next_state(self, state: str, action: str) -> str:
        to_state = self.transitions.get((state, action))
        if to_state is None:
            raise IllegalTransition(state=state, action=action)
        return to_state

    def actions_from(self, state: str) -> list[str]:
        return [a for (s, a) in self.transitions if s == state]

    def allowed_actions(self, state: str, user) -> list[str]:
        from .permissions import has_perm

        return [
            a
            for a in self.actions_from(state)
            if a not in self.perms or has_perm(user, self.perms[a])
        ]

    def replay(self, actions: Iterable[str]) -> str:
        """The state reached from `initial` by these actions; IllegalTransition if broken."""
        state = self.initial
        for action in actions:
            state = self.next_state(state, action)
        return state

    def states(self) -> set[str]:
        return {self.initial} | {s for s, _ in self.transitions} | set(self.transitions.values())


class WorkflowEvent(models.Model):
    """Abstract event row; a concrete subclass adds the foreign key to its case."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("动作"), max_length=32)
    from_state = models.CharField(_("原状态"), max_length=32)
    to_state = models.CharField(_("新状态"), max_length=32)
    comment = models.TextField(_("说明"), blank=True)

    class Meta:
        abstract = True
        ordering = ["at", "id"]


@dataclass(frozen=True)
class Registered:
    workflow: Workflow
    model: type
    event_model: type
    case_field: str
    state_field: str = "state"


_WORKFLOWS: dict[str, Registered] = {}


def register_workflow(
    workflow: Workflow, *, model, event_model, case_field: str, state_field="state"
):
    _WORKFLOWS[workflow.name] = Registered(workflow, model, event_model, case_field, state_field)


def registered_workflows() -> dict[str, Registered]:
    return dict(_WORKFLOWS)


def workflow_apply(
    *, workflow: Workflow, case, actor, action: str, comment: str = "", **event_fields
):
    """Check the transition and the actor's permission, write the event and the audit row,
    and update the cached state on `case` (the caller saves it in the same transaction)."""
    reg = _WORKFLOWS.get(workflow.name)
    state_field = reg.state_field if reg else "state"
    from_state = getattr(case, state_field)
    to_state = workflow.next_state(from_state, action)
    if action in workflow.perms:
        require(actor, workflow.perms[action])
    event = None
    if reg is not None:
        event = reg.event_model.objects.create(
            **{reg.case_field: case},
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            comment=comment,
            **event_fields,
        )
    setattr(case, state_field, to_state)
    audit_record(
        actor=actor,
        action=f"{workflow.name}.{action}",
        obj=case,
        detail={"from": from_state, "to": to_state},
    )
    return event


def workflow_check(reg: Registered, *, fix: bool = False) -> list[tuple]:
    """Cases whose cached state differs from their events' replay: (pk, cached, derived)."""
    wrong = []
    events = reg.event_model.objects.order_by(f"{reg.case_field}_id", "at", "id").values_list(
        f"{reg.case_field}_id", "action"
    )
    by_case: dict = {}
    for case_id, action in events.iterator(chunk_size=5000):
        by_case.setdefault(case_id, []).append(action)
    for pk, cached in reg.model.objects.values_list("pk", reg.state_field).iterator(
        chunk_size=5000
    ):
        derived = reg.workflow.replay(by_case.get(pk, []))
        if derived != cached:
            wrong.append((pk, cached, derived))
            if fix:
                reg.model.objects.filter(pk=pk).update(**{reg.state_field: derived})
    return wrong
