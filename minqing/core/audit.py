"""Writing the audit log. Services call `audit_record` inside their transaction."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import models
from django.utils import timezone

from .context import channel, credential, source_address
from .masking import scrub, scrub_text
from .models import AuditEvent
from .rows import unsaved


def target_of(obj) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    if isinstance(obj, tuple) and len(obj) == 3:  # (type, id, text) given by a bulk writer
        return obj[0], obj[1], scrub_text(obj[2])[:200]
    if isinstance(obj, models.Model):
        return obj._meta.label_lower, str(obj.pk), scrub_text(str(obj))[:200]
    return type(obj).__name__.lower(), "", scrub_text(str(obj))[:200]


def area_of(obj):
    """The area an object hangs on, for scoping the audit browser."""
    if not isinstance(obj, models.Model):
        return None
    if obj._meta.label_lower == "areas.area":
        return obj
    if obj._meta.label_lower == settings.AUTH_USER_MODEL.lower():
        return home_area_id(obj)
    # Records hang on an area (`area`) or on a grid (`grid`); the audit row keeps it.
    for attr in ("area_id", "grid_id"):
        if getattr(obj, attr, None):
            return getattr(obj, attr)
    return getattr(obj, "audit_area_id", None)


def home_area_id(user) -> int | None:
    """The area of a user's jurisdiction (the highest, first by code) that events about the
    user hang on (logins, failed logins, account changes), so supervisors above see them."""
    if user is None or not getattr(user, "pk", None):
        return None
    from minqing.accounts.models import Jurisdiction

    return (
        Jurisdiction.objects.filter(user_id=user.pk)
        .order_by("area__path")
        .values_list("area_id", flat=True)
        .first()
    )


def audit_record(*, actor, action: str, obj=None, area=None, detail: dict | None = None, at=None):
    """One append-only row: who did what to which object, when, from where. Any ID- or
    phone-shaped text in the detail is stored masked (core.masking.scrub). `at` lets an
    anonymous channel (tips) record the day only, not a time a server log could match."""
    event = audit_row(actor=actor, action=action, obj=obj, area=area, detail=detail, at=at)
    event.save()
    return event


def audit_row(*, actor, action: str, obj=None, area=None, detail: dict | None = None, at=None):
    """The row `audit_record` writes, unsaved (for a caller that writes it in one statement
    with others, e.g. core.workflow.workflow_create)."""
    target_type, target_id, target_repr = target_of(obj)
    area = area if area is not None else area_of(obj)
    fields = {}
    if isinstance(area, int):
        fields["area_id"] = area
    else:
        fields["area"] = area
    return unsaved(
        AuditEvent,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        source_address=source_address(),
        channel=channel(),
        detail=scrub(_with_credential(detail)),
        **({"at": at} if at is not None else {}),
        **fields,
    )


def audit_bulk(*, actor, action: str, rows: list[tuple], detail_key: str = "") -> int:
    """Many rows at once (imports, offline sync): rows are (obj, detail) pairs, or (obj,
    detail, area) to name the area; one INSERT per batch. On PostgreSQL the rows go as one
    JSON parameter (INSERT … SELECT FROM json_to_recordset): the driver quotes one string
    instead of ten parameters per row."""
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    label, address, chan = _actor_label(actor), source_address(), channel()
    events = []
    for obj, detail, *given in rows:
        target_type, target_id, target_repr = target_of(obj)
        area = given[0] if given else area_of(obj)
        events.append(
            (
                target_type,
                target_id,
                target_repr,
                area if isinstance(area, int) else getattr(area, "pk", None),
                scrub(_with_credential(detail)),
            )
        )
    if not events:
        return 0
    from django.db import connection

    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    actor_id=actor_id,
                    actor_label=label,
                    action=action,
                    target_type=tt,
                    target_id=tid,
                    target_repr=tr,
                    area_id=area_id,
                    source_address=address,
                    channel=chan,
                    detail=detail,
                )
                for tt, tid, tr, area_id, detail in events
            ],
            batch_size=2000,
        )
        return len(events)
    import json

    from .dbcursor import server_bound_cursor

    encoder = AuditEvent._meta.get_field("detail").encoder
    with server_bound_cursor() as cur:  # one big JSON parameter
        for i in range(0, len(events), 5000):
            batch = events[i : i + 5000]
            rows = json.dumps(
                [
                    {"tt": e[0], "tid": e[1], "tr": e[2], "area": e[3], "detail": e[4]}
                    for e in batch
                ],
                cls=encoder,
                ensure_ascii=False,
            )
            cur.execute(
                "INSERT INTO core_auditevent (at, actor_id, actor_label, action, target_type, "
                "target_id, target_repr, area_id, source_address, channel, detail) "
                "SELECT %s, %s, %s, %s, x.tt, x.tid, x.tr, x.area, %s, %s, x.detail "
                "FROM json_to_recordset(%s::json) "
                "AS x(tt text, tid text, tr text, area bigint, detail jsonb)",
                [timezone.now(), actor_id, label, action, address, chan, rows],
            )
    return len(events)


def _with_credential(detail: dict | None) -> dict:
    """Rows written under an API token name it, so every use is attributed."""
    detail = dict(detail or {})
    if (label := credential()) and "credential" not in detail:
        detail["credential"] = label
    return detail


def _actor_label(actor) -> str:
    if actor is None:
        return "system"
    full = getattr(actor, "get_full_name", lambda: "")()
    return f"{full}（{actor.get_username()}）" if full else actor.get_username()


# ---------------------------------------------------------------- reading the log
#
# The audit browser speaks words, not codes. Each app registers, in its `audit_actions.py`
# (discovered at start-up like `nav.py`):
# - `register_action(code, label)`: 查看身份证号 for registry.resident.reveal_id. The action
#   filter lists these (no SELECT DISTINCT over a million rows);
# - `register_target(target_type, resolve)`: resolve(user, ids) -> {id: (name, url or "")},
#   one query for a page of events, so the object shows as a link with its name;
# - `register_audit_filter(name, label, build)`: build(user, text) -> Q over AuditEvent, for
#   filters by things core does not know (a person, a household).


@dataclass(frozen=True)
class AuditFilter:
    name: str
    label: object
    build: Callable  # (user, text) -> Q
    placeholder: object = ""


_ACTIONS: dict[str, object] = {}
_DESCRIBE: dict[str, Callable] = {}
_TARGETS: dict[str, Callable] = {}
_FILTERS: dict[str, AuditFilter] = {}


def register_action(code: str, label, describe: Callable | None = None) -> None:
    """`describe(detail) -> str` puts an event's detail in words (the reason of a reveal,
    the kind and date of a move); without it the detail column stays empty."""
    _ACTIONS.setdefault(code, label)
    if describe is not None:
        _DESCRIBE.setdefault(code, describe)


def action_label(code: str) -> str:
    """The words for an action; an unregistered one shows its code rather than nothing."""
    label = _ACTIONS.get(code)
    return str(label) if label is not None else code


def registered_actions() -> list[tuple[str, str]]:
    """(code, label) of every registered action, ordered by label."""
    return sorted(((c, str(lbl)) for c, lbl in _ACTIONS.items()), key=lambda a: a[1])


def audit_action_codes():
    """The registered action codes (a view of the registry: it grows while apps import)."""
    return _ACTIONS.keys()


def register_target(target_type: str, resolve: Callable) -> None:
    _TARGETS.setdefault(target_type, resolve)


def register_audit_filter(*, name: str, label, build: Callable, placeholder="") -> None:
    _FILTERS.setdefault(
        name, AuditFilter(name=name, label=label, build=build, placeholder=placeholder)
    )


def audit_filters() -> list[AuditFilter]:
    return list(_FILTERS.values())


def describe_targets(user, events) -> None:
    """Set `target_name` and `target_url` on each event of a page: one query per object type."""
    ids: dict[str, set[str]] = {}
    for e in events:
        if e.target_type and e.target_id:
            ids.setdefault(e.target_type, set()).add(e.target_id)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for target_type, type_ids in ids.items():
        resolve = _TARGETS.get(target_type)
        if resolve is None:
            continue
        for key, value in resolve(user, sorted(type_ids)).items():
            found[(target_type, str(key))] = value
    labels: dict[str, str] = {}  # each action's words once per page, not once per row
    for e in events:
        name, url = found.get((e.target_type, e.target_id), (e.target_repr, ""))
        e.target_name = name
        e.target_url = url
        label = labels.get(e.action)
        if label is None:
            label = labels[e.action] = action_label(e.action)
        e.action_label = label
        describe = _DESCRIBE.get(e.action)
        e.detail_text = describe(e.detail or {}) if describe else ""


def _parse_date(value: str, end: bool = False):
    try:
        d = datetime.strptime(value, "%Y-%m-%d").date()
    except (TypeError, ValueError):
        return None
    return timezone.make_aware(datetime.combine(d, time.max if end else time.min))


def audit_filter(user, params):
    """The audit log a user may read, filtered: actor, action (a code or a prefix), area (a
    visible area and its subtree), the registered filters (person, household...), the
    object, dates. The page and the API both read through this."""
    from minqing.areas.models import Area

    from .permissions import require

    require(user, "core.view_audit")
    qs = AuditEvent.objects.visible_to(user).select_related("area")
    if actor := (params.get("actor") or "").strip():
        qs = qs.filter(actor_label__icontains=actor)
    if action := (params.get("action") or "").strip():
        qs = qs.filter(action__startswith=action)
    if area_id := (params.get("area") or "").strip():
        area = (
            Area.objects.visible_to(user).filter(pk=area_id).first() if area_id.isdigit() else None
        )
        qs = qs.filter(area__path__startswith=area.path) if area else qs.none()
    for f in audit_filters():
        if text := (params.get(f.name) or "").strip():
            cond = f.build(user, text)
            qs = qs.filter(cond) if cond is not None else qs.none()
    if target := (params.get("target_type") or "").strip():
        qs = qs.filter(target_type=target)
    if target_id := (params.get("target_id") or "").strip():
        qs = qs.filter(target_id=target_id)
    if start := _parse_date(params.get("date_from") or ""):
        qs = qs.filter(at__gte=start)
    if end := _parse_date(params.get("date_to") or "", end=True):
        qs = qs.filter(at__lte=end)
    return qs.order_by("-at", "-id")
