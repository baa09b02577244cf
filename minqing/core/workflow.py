"""Workflows as data (appeal, tip, poverty case...): the case kernel's state machine.

Allowed transitions are a table; every transition is a dated event row with its actor (a
staff user, or an anonymous resident/tipster recorded as such with the channel they used);
the case's `state` column is a cache of the last event, rebuilt from the events by
`manage.py check_workflows`. A domain app declares its workflow once:

    APPEAL_FLOW = Workflow(
        name="appeal",
        initial="new",
        transitions={("new", "claim"): "claimed", ("claimed", "resolve"): "resolved", ...},
        perms={"claim": "appeals.claim", "assign": "appeals.assign"},
        guards={"resolve": only_owner_or_assigning_unit},   # (actor, case) -> None or raise
        on_enter={"resolved": start_rating_period},          # (case, event) -> None
        final={"archived"},
        anonymous={"rate"},                                  # actions a resident may do
    )

    class Appeal(CaseModel): ...
    class AppealEvent(WorkflowEvent):
        appeal = models.ForeignKey(Appeal, related_name="events", on_delete=models.PROTECT)

    register_workflow(APPEAL_FLOW, model=Appeal, event_model=AppealEvent, case_field="appeal")

and its services call `workflow_apply(...)` inside their transaction, after select_for_update.
A workflow that was never registered raises instead of silently writing no event.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audit import audit_record
from .errors import IllegalTransition, PermissionDeniedError
from .permissions import has_perm, require


class ActorKind(models.TextChoices):
    STAFF = "staff", _("工作人员")
    ANONYMOUS = "anonymous", _("群众(匿名)")
    SYSTEM = "system", _("系统")


CREATE = "create"  # the first event of every case: it enters the initial state


@dataclass(frozen=True)
class Workflow:
    name: str
    initial: str
    transitions: dict[tuple[str, str], str]
    perms: dict[str, str] = field(default_factory=dict)
    # action -> callable(actor, case) that raises a DomainError when this actor may not act
    # on this object (e.g. "only the owner or the assigning unit resolves").
    guards: dict[str, Callable] = field(default_factory=dict)
    # state -> callable(case, event) run after the state is entered, in the same transaction.
    on_enter: dict[str, Callable] = field(default_factory=dict)
    final: frozenset = frozenset()
    # actions that an anonymous actor (a resident, a tipster) may perform
    anonymous: frozenset = frozenset()
    # action -> label shown on buttons and timelines
    labels: dict[str, object] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "final", frozenset(self.final))
        object.__setattr__(self, "anonymous", frozenset(self.anonymous))
        leaks = sorted({s for (s, _a) in self.transitions if s in self.final})
        if leaks:
            raise ImproperlyConfigured(f"workflow {self.name}: final states {leaks} have exits")
        unknown = set(self.guards) - {a for (_s, a) in self.transitions}
        if unknown:
            raise ImproperlyConfigured(f"workflow {self.name}: guards for unknown {unknown}")

    def next_state(self, state: str, action: str) -> str:
        to_state = self.transitions.get((state, action))
        if to_state is None:
            raise IllegalTransition(state=state, action=action)
        return to_state

    def actions_from(self, state: str) -> list[str]:
        return [a for (s, a) in self.transitions if s == state]

    def allowed_actions(self, state: str, user, case=None) -> list[str]:
        """Actions this user may take now: by role, and by the object guards when a case is
        given (the buttons a page shows)."""
        allowed = []
        for a in self.actions_from(state):
            if a in self.perms and not has_perm(user, self.perms[a]):
                continue
            if case is not None and a in self.guards:
                try:
                    self.guards[a](user, case)
                except PermissionDeniedError:
                    continue
            allowed.append(a)
        return allowed

    def is_final(self, state: str) -> bool:
        return state in self.final

    def replay(self, actions: Iterable[str]) -> str:
        """The state reached from `initial` by these actions; IllegalTransition if broken.
        The CREATE event (written by workflow_start) puts the case in `initial`."""
        state = self.initial
        for action in actions:
            state = self.initial if action == CREATE else self.next_state(state, action)
        return state

    def states(self) -> set[str]:
        return {self.initial} | {s for s, _ in self.transitions} | set(self.transitions.values())


class CaseModel(models.Model):
    """Abstract case (appeal, tip, poverty case): the cached state and its timestamps.

    The events are the truth; `state` is written only by `workflow_apply`."""

    state = models.CharField(_("状态"), max_length=32)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    state_changed_at = models.DateTimeField(_("状态变更时间"), default=timezone.now)

    class Meta:
        abstract = True


class WorkflowEvent(models.Model):
    """Abstract event row; a concrete subclass adds the foreign key to its case."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_kind = models.CharField(
        _("操作人类型"), max_length=16, choices=ActorKind.choices, default=ActorKind.STAFF
    )
    actor_label = models.CharField(_("操作人"), max_length=150, blank=True)
    channel = models.CharField(_("渠道"), max_length=16, blank=True)
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


class UnregisteredWorkflow(ImproperlyConfigured):
    pass


def register_workflow(
    workflow: Workflow, *, model, event_model, case_field: str, state_field="state"
):
    _WORKFLOWS[workflow.name] = Registered(workflow, model, event_model, case_field, state_field)


def registered_workflows() -> dict[str, Registered]:
    return dict(_WORKFLOWS)


def _label(actor) -> str:
    full = getattr(actor, "get_full_name", lambda: "")()
    return full or actor.get_username()


def workflow_apply(
    *,
    workflow: Workflow,
    case,
    actor,
    action: str,
    comment: str = "",
    anonymous_label: str = "",
    channel: str = "",
    at=None,
    system: bool = False,
    **event_fields,
):
    """Check the transition, the role and the object guard, write the event and the audit
    row, update the cached state on `case` (the caller saves it in the same transaction),
    then run the target state's on_enter hook.

    `actor=None` is an anonymous actor (a resident rating, a tipster): allowed only for the
    workflow's `anonymous` actions, recorded with `anonymous_label` and `channel`.
    `system=True` (actor None) is the platform itself (deadline escalation): no role or
    object guard applies, the event says 系统.
    """
    reg = _WORKFLOWS.get(workflow.name)
    if reg is None or reg.workflow is not workflow:
        raise UnregisteredWorkflow(f"workflow {workflow.name!r} is not registered")
    if not isinstance(case, reg.model):
        raise UnregisteredWorkflow(f"{type(case).__name__} is not a {workflow.name} case")
    from_state = getattr(case, reg.state_field)
    to_state = workflow.next_state(from_state, action)
    if system:
        if actor is not None:
            raise ValueError("a system transition has no actor")
        kind, label = ActorKind.SYSTEM, str(_("系统"))
    elif actor is None:
        if action not in workflow.anonymous:
            raise PermissionDeniedError()
        kind, label = ActorKind.ANONYMOUS, anonymous_label or str(_("群众"))
    else:
        if action in workflow.perms:
            require(actor, workflow.perms[action])
        kind, label = ActorKind.STAFF, _label(actor)
    if action in workflow.guards and actor is not None:
        workflow.guards[action](actor, case)
    from .context import channel as current_channel

    at = at or timezone.now()
    event = reg.event_model.objects.create(
        **{reg.case_field: case},
        at=at,
        actor=actor,
        actor_kind=kind,
        actor_label=label,
        channel=channel or current_channel(),
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        **event_fields,
    )
    setattr(case, reg.state_field, to_state)
    if hasattr(case, "state_changed_at"):
        case.state_changed_at = at
    audit_record(
        actor=actor,
        action=f"{workflow.name}.{action}",
        obj=case,
        detail={"from": from_state, "to": to_state, "actor_kind": kind},
    )
    hook = workflow.on_enter.get(to_state)
    if hook is not None:
        hook(case, event)
    return event


def workflow_start(*, workflow: Workflow, case, actor, comment="", anonymous_label="", channel=""):
    """The first event of a new case (already saved): who filed it, how, in `initial`."""
    reg = _WORKFLOWS.get(workflow.name)
    if reg is None or reg.workflow is not workflow or not isinstance(case, reg.model):
        raise UnregisteredWorkflow(f"workflow {workflow.name!r} is not registered for this case")
    from .context import channel as current_channel

    if actor is None:
        kind, label = ActorKind.ANONYMOUS, anonymous_label or str(_("群众"))
    else:
        kind, label = ActorKind.STAFF, _label(actor)
    setattr(case, reg.state_field, workflow.initial)
    event = reg.event_model.objects.create(
        **{reg.case_field: case},
        at=getattr(case, "created_at", None) or timezone.now(),
        actor=actor,
        actor_kind=kind,
        actor_label=label,
        channel=channel or current_channel(),
        action=CREATE,
        from_state="",
        to_state=workflow.initial,
        comment=comment,
    )
    hook = workflow.on_enter.get(workflow.initial)
    if hook is not None:
        hook(case, event)
    return event


def workflow_check(reg: Registered, *, fix: bool = False) -> list[tuple]:
    """Cases whose cached state differs from their events' replay: (pk, cached, derived).
    A broken event chain is reported with derived = '<broken: ...>' and never "fixed"."""
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
        try:
            derived = reg.workflow.replay(by_case.get(pk, []))
        except IllegalTransition as exc:
            wrong.append((pk, cached, f"<broken: {exc.details}>"))
            continue
        if derived != cached:
            wrong.append((pk, cached, derived))
            if fix:
                reg.model.objects.filter(pk=pk).update(**{reg.state_field: derived})
    return wrong
