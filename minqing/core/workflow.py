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
        notes={"duplicate"},                                 # recorded, state unchanged
    )

    class Appeal(CaseModel): ...
    class AppealEvent(WorkflowEvent):
        appeal = models.ForeignKey(Appeal, related_name="events", on_delete=models.PROTECT)

    register_workflow(APPEAL_FLOW, model=Appeal, event_model=AppealEvent, case_field="appeal")

and its services call `workflow_apply(...)` inside their transaction, after select_for_update.
A workflow that was never registered raises instead of silently writing no event.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audit import audit_record, audit_row
from .dbcursor import prepared_cursor
from .errors import IllegalTransition, PermissionDeniedError
from .permissions import has_perm, require
from .rows import unsaved


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
    # actions recorded as events in any state, final ones too, that leave the state as it is
    # (a dispatcher's verdict on a proposed duplicate): in the staff timeline with actor and
    # time, never on the public one, skipped by the replay. Not transitions: no buttons.
    notes: frozenset = frozenset()

    def __post_init__(self):
        object.__setattr__(self, "final", frozenset(self.final))
        object.__setattr__(self, "anonymous", frozenset(self.anonymous))
        object.__setattr__(self, "notes", frozenset(self.notes))
        leaks = sorted({s for (s, _a) in self.transitions if s in self.final})
        if leaks:
            raise ImproperlyConfigured(f"workflow {self.name}: final states {leaks} have exits")
        unknown = set(self.guards) - {a for (_s, a) in self.transitions} - self.notes
        if unknown:
            raise ImproperlyConfigured(f"workflow {self.name}: guards for unknown {unknown}")
        both = sorted(self.notes & {a for (_s, a) in self.transitions} | self.notes & {CREATE})
        if both:
            raise ImproperlyConfigured(f"workflow {self.name}: notes {both} are also transitions")

    def next_state(self, state: str, action: str) -> str:
        if action in self.notes:
            return state
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
        return state  # a note leaves it as it was (next_state)

    def replay_from(self, state: str, actions: Iterable[str]) -> str:
        """As `replay`, from a given state (an adopted case's first event's from_state)."""
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
    # Cases that existed (or were imported in any state) before their workflow began: with
    # no events their cached state stands, and their history starts at the first event's
    # from_state (e.g. residents, whose status moved onto the kernel later).
    adopted: bool = False


_WORKFLOWS: dict[str, Registered] = {}


class UnregisteredWorkflow(ImproperlyConfigured):
    pass


def register_workflow(
    workflow: Workflow,
    *,
    model,
    event_model,
    case_field: str,
    state_field="state",
    adopted: bool = False,
):
    _WORKFLOWS[workflow.name] = Registered(
        workflow, model, event_model, case_field, state_field, adopted
    )


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
    audit: bool = True,
    **event_fields,
):
    """Check the transition, the role and the object guard, write the event and the audit
    row, update the cached state on `case` (the caller saves it in the same transaction),
    then run the target state's on_enter hook.

    `actor=None` is an anonymous actor (a resident rating, a tipster): allowed only for the
    workflow's `anonymous` actions, recorded with `anonymous_label` and `channel`.
    `system=True` (actor None) is the platform itself (deadline escalation): no role or
    object guard applies, the event says 系统.
    `audit=False` when the caller writes its own, richer audit row for the same change.
    A `notes` action writes its event in any state and changes neither the state nor
    `state_changed_at` (the caller need not save the case).
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
    if hasattr(case, "state_changed_at") and action not in workflow.notes:
        case.state_changed_at = at
    if audit:
        audit_record(
            actor=actor,
            action=f"{workflow.name}.{action}",
            obj=case,
            detail={"from": from_state, "to": to_state, "actor_kind": kind},
        )
    hook = None if action in workflow.notes else workflow.on_enter.get(to_state)
    if hook is not None:
        hook(case, event)
    return event


def _first_event(workflow, case, actor, comment, anonymous_label, channel) -> dict:
    """The fields of a case's first event: who filed it (staff, or an anonymous resident or
    tipster by label), how, and the initial state."""
    if actor is None:
        kind, label = ActorKind.ANONYMOUS, anonymous_label or str(_("群众"))
    else:
        kind, label = ActorKind.STAFF, _label(actor)
    return {
        "at": getattr(case, "created_at", None) or timezone.now(),
        "actor": actor,
        "actor_kind": kind,
        "actor_label": label,
        "channel": channel,
        "action": CREATE,
        "from_state": "",
        "to_state": workflow.initial,
        "comment": comment,
    }


def workflow_start(*, workflow: Workflow, case, actor, comment="", anonymous_label="", channel=""):
    """The first event of a new case (already saved): who filed it, how, in `initial`."""
    reg = _WORKFLOWS.get(workflow.name)
    if reg is None or reg.workflow is not workflow or not isinstance(case, reg.model):
        raise UnregisteredWorkflow(f"workflow {workflow.name!r} is not registered for this case")
    from .context import channel as current_channel

    setattr(case, reg.state_field, workflow.initial)
    event = reg.event_model.objects.create(
        **{reg.case_field: case},
        **_first_event(
            workflow, case, actor, comment, anonymous_label, channel or current_channel()
        ),
    )
    hook = workflow.on_enter.get(workflow.initial)
    if hook is not None:
        hook(case, event)
    return event


# A stand-in primary key while the statement that allocates the real one is built: text
# that names the case (an audit row's target, a notification's link) is cut around it and
# the real id is put in by the database.
_PK_SENTINEL = -7_310_427


def workflow_create(
    *,
    workflow: Workflow,
    case,
    actor,
    comment="",
    anonymous_label="",
    channel="",
    audit: dict | None = None,
    notify: dict | None = None,
):
    """Save a new case, write its CREATE event, its audit row (`audit`: action, detail) and
    the inbox rows of `notify` (recipients: a queryset of users, or a callable returning
    one; `recipients_sql`: the same users as an id subquery, which the one statement needs;
    kind, title; url: a callable of the case). On PostgreSQL all of it is ONE statement (INSERT ... RETURNING
    feeding the other INSERTs in a WITH), atomic on its own, so intake costs one round trip
    like a bare INSERT; elsewhere the same rows are written one by one (the caller holds the
    transaction). Returns the event."""
    reg = _WORKFLOWS.get(workflow.name)
    if reg is None or reg.workflow is not workflow or not isinstance(case, reg.model):
        raise UnregisteredWorkflow(f"workflow {workflow.name!r} is not registered for this case")
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy costs a lookup
    one_statement = (
        db.vendor == "postgresql"
        and case.pk is None
        and reg.model._meta.pk.column == "id"
        and (notify is None or "recipients_sql" in notify)
    )
    if notify and callable(notify.get("recipients")):  # built only when needed
        notify = {**notify, "recipients": notify["recipients"]() if not one_statement else None}
    if not one_statement:
        case.save()
        event = workflow_start(
            workflow=workflow,
            case=case,
            actor=actor,
            comment=comment,
            anonymous_label=anonymous_label,
            channel=channel,
        )
        if audit:
            audit_record(actor=actor, obj=case, **audit)
        if notify:
            from .notifications import notify as send

            spec = dict(notify)
            spec.pop("recipients_sql", None)
            spec["url"] = spec["url"](case)
            send(**spec)
        return event
    from .context import channel as current_channel

    setattr(case, reg.state_field, workflow.initial)
    em = reg.event_model
    event = unsaved(
        em,
        **_first_event(
            workflow, case, actor, comment, anonymous_label, channel or current_channel()
        ),
    )
    compiled = _compiled_create(reg, case, event, actor, audit, notify, db)
    if compiled is not None:
        sql, params = compiled
    else:
        sql, params = _create_sql(reg, case, event, actor, audit, notify, db)
    # prepared on the connection: its plan (inserts, the recipients by area) does not depend
    # on the values, and parsing and planning it cost as much as running it
    with prepared_cursor(db) as cur:
        cur.execute(sql, params)
        case_pk, event_pk = cur.fetchone()
    case.pk = case_pk
    case._state.adding, case._state.db = False, db.alias
    event.pk = event_pk
    setattr(event, reg.case_field, case)
    event._state.adding, event._state.db = False, db.alias
    hook = workflow.on_enter.get(workflow.initial)
    if hook is not None:
        hook(case, event)
    return event


# workflow_create's one statement, compiled once per process and shape (the workflow, with or
# without audit row and inbox rows, the recipients' subquery): the text (placeholders already
# PostgreSQL's $n, every value a parameter, NULL too) is kept as one bytes object and only the
# values are gathered per request. Building and converting the text was ~9 % of intake.
_COMPILED: dict = {}
_MAX_COMPILED = 64


class RawStatement(bytes):
    """A statement whose placeholders are PostgreSQL's own ($1, $2 ...): prepared_cursor
    sends it as is, with no conversion of %s placeholders by the driver."""


def _to_dollars(sql: str) -> RawStatement:
    n = iter(range(1, 10_000))
    out = re.sub(r"%%|%s", lambda m: "%" if m.group() == "%%" else f"${next(n)}", sql)
    return RawStatement(out.encode())


def _values(model, obj, db, skip=()) -> list | None:
    """The row's values as the INSERT sends them, in _insert_shape's field order, without
    the columns in `skip`; None when one is an expression (only the compiler says those)."""
    fields = _insert_shape(model, db)[0]
    out = []
    for f in fields:
        if f.column in skip:
            continue
        value = _db_value(f, obj, db)
        if value is _EXPRESSION:
            return None
        out.append(value)
    return out


def _compiled_create(reg, case, event, actor, audit, notify, db) -> tuple | None:
    """(statement, params) from the kept text of this shape; None when a value needs
    Django's compiler (an expression) or the models need placeholders of their own."""
    if not getattr(settings, "DB_PREPARED_WRITES", True):
        return None  # the plain cursor (pgbouncer in transaction mode) takes %s placeholders
    model, em = reg.model, reg.event_model
    plain = _insert_shape(model, db)[3]
    if not plain or not _insert_shape(em, db)[3]:
        return None
    fk = em._meta.get_field(reg.case_field)
    params = _values(model, case, db)
    more = _values(em, event, db, skip=(fk.column,))
    if params is None or more is None:
        return None
    params += more
    row = None
    if audit:
        from .models import AuditEvent

        if not _insert_shape(AuditEvent, db)[3]:
            return None
        case.pk = _PK_SENTINEL
        try:
            row = audit_row(actor=actor, obj=case, **audit)
        finally:
            case.pk = None
        more = _values(AuditEvent, row, db, skip=("target_id",))
        if more is None:
            return None
        params += more
    recipients = None
    if notify:
        recipients, sub_params = notify["recipients_sql"]
        params += _notify_values(case, db, notify)
        params += sub_params
    key = (reg.workflow.name, model, em, bool(audit), recipients)
    sql = _COMPILED.get(key)
    if sql is None:
        sql = _to_dollars(_create_text(reg, db, bool(audit), recipients))
        if len(_COMPILED) < _MAX_COMPILED:
            _COMPILED[key] = sql
    return sql, params


def _case_ref(text_param: str) -> str:
    """SQL for a text naming the case, sent as one parameter: the stand-in id inside it
    becomes the new row's id."""
    return f"replace({text_param}, '{_PK_SENTINEL}', c.id::text)"


def _create_text(reg, db, audit: bool, recipients: str | None) -> str:
    """The text `_compiled_create` keeps: every value a %s, in the order it gathers them."""
    qn = db.ops.quote_name
    model, em = reg.model, reg.event_model
    pk = model._meta.pk
    fields, table, columns, _plain = _insert_shape(model, db)
    marks = ", ".join(["%s"] * len(fields))
    parts = [
        f"WITH c AS (INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"RETURNING {table}.{qn(pk.column)})"
    ]
    fk = em._meta.get_field(reg.case_field)
    fields, table, columns, _plain = _insert_shape(em, db)
    exprs = ", ".join("c.id" if f.column == fk.column else "%s" for f in fields)
    parts.append(
        f", e AS (INSERT INTO {table} ({columns}) SELECT {exprs} FROM c "
        f"RETURNING {qn(em._meta.pk.column)})"
    )
    if audit:
        from .models import AuditEvent

        fields, table, columns, _plain = _insert_shape(AuditEvent, db)
        exprs = ", ".join(
            "c.id::text"
            if f.column == "target_id"
            else _case_ref("%s")
            if f.column == "target_repr"
            else "%s"
            for f in fields
        )
        parts.append(f", a AS (INSERT INTO {table} ({columns}) SELECT {exprs} FROM c)")
    if recipients is not None:
        from django.contrib.auth import get_user_model

        from .case_models import Notification

        user = get_user_model()._meta
        parts.append(
            f", n AS (INSERT INTO {qn(Notification._meta.db_table)} "
            "(recipient_id, created_at, kind, title, body, url) "
            f"SELECT u.{qn(user.pk.column)}, %s, %s, %s, %s, {_case_ref('%s')} "
            f"FROM {qn(user.db_table)} u, c WHERE u.{qn(user.pk.column)} IN ({recipients}))"
        )
    parts.append(f" SELECT c.{qn(pk.column)}, (SELECT * FROM e) FROM c")
    return "".join(parts)


def _notify_values(case, db, notify: dict) -> list:
    from .case_models import Notification

    at = Notification._meta.get_field("created_at").get_db_prep_save(timezone.now(), db)
    case.pk = _PK_SENTINEL
    try:
        url = notify["url"](case)
    finally:
        case.pk = None
    return [at, notify["kind"], str(notify["title"])[:200], str(notify.get("body", "")), url]


def _create_sql(reg, case, event, actor, audit, notify, db) -> tuple[str, list]:
    """workflow_create's statement built for this call alone (a value that only Django's
    compiler can say): the same rows as the compiled text."""
    model, em = reg.model, reg.event_model
    qn = db.ops.quote_name
    pk_field = model._meta.pk
    case_sql, params = _insert_sql(model, case, exclude=pk_field, returning=pk_field, db=db)
    fk = em._meta.get_field(reg.case_field)
    parts = [f"WITH c AS ({case_sql})"]
    sql, more = _insert_from_case(em, event, {fk.column: None}, db)
    parts.append(f", e AS ({sql} RETURNING {qn(em._meta.pk.column)})")
    params += more
    if audit or notify:
        case.pk = _PK_SENTINEL
        try:
            if audit:
                from .models import AuditEvent

                row = audit_row(actor=actor, obj=case, **audit)
                sql, more = _insert_from_case(
                    AuditEvent,
                    row,
                    {"target_id": None, "target_repr": row.target_repr},
                    db,
                )
                parts.append(f", a AS ({sql})")
                params += more
            if notify:
                sql, more = _notify_from_case(case, db, **notify)
                parts.append(f", n AS ({sql})")
                params += more
        finally:
            case.pk = None
    parts.append(f" SELECT c.{qn(pk_field.column)}, (SELECT * FROM e) FROM c")
    return "".join(parts), params


def _case_text(value: str) -> tuple[str, list]:
    """SQL for a text naming the case: the sentinel id becomes the new row's id."""
    pieces = str(value).split(str(_PK_SENTINEL))
    if len(pieces) == 1:
        return "%s", pieces
    return " || c.id::text || ".join(["%s"] * len(pieces)), pieces


# Per model: the fields an INSERT writes (every concrete one but the primary key), their
# quoted column names, and whether all of them take a plain "%s" placeholder. Intake writes
# the same three or four tables on every request: this is said once per process instead of
# running Django's INSERT compiler (about a third of intake's Python) each time.
_INSERT_SHAPES: dict = {}


def _insert_shape(model, db) -> tuple[tuple, str, str, bool]:
    key = (db.vendor, model)
    hit = _INSERT_SHAPES.get(key)
    if hit is None:
        qn = db.ops.quote_name
        pk = model._meta.pk
        fields = tuple(f for f in model._meta.local_concrete_fields if f is not pk)
        plain = not any(hasattr(f, "get_placeholder") for f in fields)
        columns = ", ".join(qn(f.column) for f in fields)
        hit = _INSERT_SHAPES[key] = (fields, qn(model._meta.db_table), columns, plain)
        _learn_quick(model, db)
    return hit


def _db_value(field, obj, conn):
    """A field's value as Django's INSERT compiler prepares it (pre_save, then db prep);
    _EXPRESSION when it is an expression, which only the compiler can say."""
    quick = _QUICK.get(field)
    if quick is not None:
        value = obj.__dict__.get(field.attname, _MISSING)
        if value is None:
            return None
        if value is not _MISSING:
            done = quick(value)
            if done is not _MISSING:
                return done
    value = field.pre_save(obj, True)
    if hasattr(value, "resolve_expression"):
        return _EXPRESSION
    value = field.get_db_prep_save(value, conn)
    return _EXPRESSION if hasattr(value, "as_sql") else value


_EXPRESSION = object()
_MISSING = object()


def _quick_text(value):
    return value if isinstance(value, str) else _MISSING


def _quick_moment(value):
    return value if type(value) is datetime and value.tzinfo is not None else _MISSING


def _quick_int(wrap):
    def quick(value):
        return wrap(value) if type(value) is int else _MISSING

    return quick


# field -> what Django's pre_save + get_db_prep_save give on PostgreSQL for the common values,
# said without the dozen calls per field (intake writes ~55 fields a request): text as is, an
# aware moment as is, an integer (or a foreign key's id) in psycopg's wrapper of its column
# type, None as NULL. Any other value, and every other field, takes Django's own path.
_QUICK: dict = {}


_INTEGERS = (
    models.SmallIntegerField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
)


def _same(value):
    return value


def _learn_quick(model, conn) -> None:
    if conn.vendor != "postgresql":
        return
    wraps = getattr(conn.ops, "integerfield_type_map", {})
    for f in model._meta.local_concrete_fields:
        kind = type(f)
        if kind in (models.CharField, models.TextField):
            _QUICK[f] = _quick_text
        elif kind is models.DateTimeField and not (f.auto_now or f.auto_now_add):
            _QUICK[f] = _quick_moment
        elif kind is models.ForeignKey and isinstance(f.target_field, models.AutoField):
            _QUICK[f] = _quick_int(_same)  # an automatic key's value goes as the int it is
        elif kind in _INTEGERS and f.get_internal_type() in wraps:
            _QUICK[f] = _quick_int(wraps[f.get_internal_type()])


def _mark(value, params: list) -> str:
    """The SQL for one value: NULL and the empty text are said in the statement (the driver
    would write the same literals), every other value is a parameter. Fewer parameters keep
    the statement in psycopg's cache of converted queries (at most 50 parameters)."""
    if value is None:
        return "NULL"
    if type(value) is str and not value:
        return "''"
    params.append(value)
    return "%s"


def _insert_from_case(model, obj, from_case: dict, db=None) -> tuple[str, list]:
    """INSERT INTO model (...) SELECT ... FROM c: the columns in `from_case` come from the
    new case (None: its id; a text: that text with the sentinel replaced by the id)."""
    db = db or connections[DEFAULT_DB_ALIAS]
    fields, table, columns, _plain = _insert_shape(model, db)
    exprs, params = [], []
    for f in fields:
        if f.column in from_case:
            text = from_case[f.column]
            if text is None:  # the new case's id (a foreign key, or a text target_id)
                exprs.append("c.id" if f.is_relation else "c.id::text")
                continue
            sql, more = _case_text(text)
            exprs.append(f"({sql})")
            params += more
            continue
        value = _db_value(f, obj, db)
        if value is _EXPRESSION:
            value = f.get_db_prep_save(f.pre_save(obj, True), db)
        exprs.append(_mark(value, params))
    return f"INSERT INTO {table} ({columns}) SELECT {', '.join(exprs)} FROM c", params


def _notify_from_case(
    case, db, *, recipients, kind, title, url, body="", recipients_sql=None
) -> tuple[str, list]:
    from .case_models import Notification

    qn = db.ops.quote_name
    if recipients_sql is not None:  # the same users as an id subquery, compiled already
        sub_sql, sub_params = recipients_sql
    else:
        sub = recipients.order_by().values_list("pk", flat=True)
        sub_sql, sub_params = sub.query.get_compiler(using=sub.db).as_sql()
    from django.contrib.auth import get_user_model

    user = get_user_model()._meta
    at = Notification._meta.get_field("created_at").get_db_prep_save(timezone.now(), db)
    url_sql, url_params = _case_text(url(case))
    title_sql, title_params = _case_text(str(title)[:200])
    body_params = []
    sql = (
        f"INSERT INTO {qn(Notification._meta.db_table)} "
        "(recipient_id, created_at, kind, title, body, url) "
        f"SELECT u.{qn(user.pk.column)}, %s, %s, ({title_sql}), {_mark(str(body), body_params)}, "
        f"({url_sql}) FROM {qn(user.db_table)} u, c WHERE u.{qn(user.pk.column)} IN ({sub_sql})"
    )
    return sql, [at, kind, *title_params, *body_params, *url_params, *sub_params]


def _insert_sql(model, obj, *, exclude, returning, db=None) -> tuple[str, list]:
    """Django's own INSERT ... RETURNING for one object (field pre_save and db prep): the
    SQL said once per model, the values prepared as the compiler does; the compiler itself
    only when a field has its own placeholder or a value is an expression."""
    db = db or connections[DEFAULT_DB_ALIAS]
    fields, table, columns, plain = _insert_shape(model, db)
    if plain and exclude is model._meta.pk and returning is model._meta.pk:
        values = [_db_value(f, obj, db) for f in fields]
        if not any(v is _EXPRESSION for v in values):
            params = []
            marks = ", ".join([_mark(v, params) for v in values])
            qn = db.ops.quote_name
            return (
                f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
                f"RETURNING {table}.{qn(returning.column)}",
                params,
            )
    from django.db.models.sql import InsertQuery

    fields = [f for f in model._meta.local_concrete_fields if f is not exclude]
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(connection=db)
    compiler.returning_fields = [returning]
    (sql, params), *_rest = compiler.as_sql()
    return sql, list(params)


def workflow_check(reg: Registered, *, fix: bool = False) -> list[tuple]:
    """Cases whose cached state differs from their events' replay: (pk, cached, derived).
    A broken event chain is reported with derived = '<broken: ...>' and never "fixed"."""
    wrong = []
    events = reg.event_model.objects.order_by(f"{reg.case_field}_id", "at", "id").values_list(
        f"{reg.case_field}_id", "action", "from_state"
    )
    by_case: dict = {}
    starts: dict = {}
    for case_id, action, from_state in events.iterator(chunk_size=5000):
        by_case.setdefault(case_id, []).append(action)
        starts.setdefault(case_id, from_state)
    for pk, cached in reg.model.objects.values_list("pk", reg.state_field).iterator(
        chunk_size=5000
    ):
        actions = by_case.get(pk, [])
        if reg.adopted and not actions:
            continue  # no history yet: the cached state stands
        try:
            if reg.adopted and actions[0] != CREATE:
                derived = reg.workflow.replay_from(starts[pk], actions)
            else:
                derived = reg.workflow.replay(actions)
        except IllegalTransition as exc:
            wrong.append((pk, cached, f"<broken: {exc.details}>"))
            continue
        if derived != cached:
            wrong.append((pk, cached, derived))
            if fix:
                reg.model.objects.filter(pk=pk).update(**{reg.state_field: derived})
    return wrong
