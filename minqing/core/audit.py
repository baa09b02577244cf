"""Writing the audit log. Services call `audit_record` inside their transaction."""

from django.conf import settings
from django.db import models

from .context import channel, source_address
from .masking import scrub, scrub_text
from .models import AuditEvent


def target_of(obj) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
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
    target_type, target_id, target_repr = target_of(obj)
    area = area if area is not None else area_of(obj)
    fields = {}
    if isinstance(area, int):
        fields["area_id"] = area
    else:
        fields["area"] = area
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_actor_label(actor),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        source_address=source_address(),
        channel=channel(),
        detail=scrub(detail or {}),
        **({"at": at} if at is not None else {}),
        **fields,
    )


def audit_bulk(*, actor, action: str, rows: list[tuple], detail_key: str = "") -> int:
    """Many rows at once (imports): rows are (obj, detail) pairs, or (obj, detail, area) to
    name the area; one INSERT per batch."""
    events = []
    for obj, detail, *given in rows:
        target_type, target_id, target_repr = target_of(obj)
        area = given[0] if given else area_of(obj)
        events.append(
            AuditEvent(
                actor=actor if getattr(actor, "pk", None) else None,
                actor_label=_actor_label(actor),
                action=action,
                target_type=target_type,
                target_id=target_id,
                target_repr=target_repr,
                area_id=area if isinstance(area, int) else getattr(area, "pk", None),
                source_address=source_address(),
                channel=channel(),
                detail=scrub(detail or {}),
            )
        )
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    return len(events)


def _actor_label(actor) -> str:
    if actor is None:
        return "system"
    full = getattr(actor, "get_full_name", lambda: "")()
    return f"{full} ({actor.get_username()})" if full else actor.get_username()
