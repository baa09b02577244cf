"""Every change to a tip. Keyword-only, actor first, one transaction each.

Public (tipster) services take no actor and write audit rows with no actor, no address and
no detail beyond the tip number; officer services check `TipQuerySet.visible_to` first, so a
tip outside the officer's area, or one they are excluded from, is a 404 like a missing one.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.areas.models import Area, Level
from minqing.core import clock
from minqing.core.audit import audit_record
from minqing.core.deadlines import add_working_days
from minqing.core.errors import Conflict, PermissionDeniedError, ValidationFailed
from minqing.core.workflow import workflow_apply, workflow_start

from . import receipts
from .models import (
    FINAL_STATES,
    IdentityRequest,
    Tip,
    TipCategory,
    TipChannel,
    TipConflict,
    TipCustodian,
    TipEvent,
    TipIdentity,
    TipMessage,
    TipNote,
    TipReminder,
    TipStat,
    is_tip_officer,
)
from .workflow import TIP_FLOW

STAFF_LEVELS_BELOW_TOWNSHIP = (Level.VILLAGE, Level.GRID)


def _today() -> date:
    return clock.today()


def _verify_deadline() -> date:
    return add_working_days(_today(), settings.TIPS_VERIFY_WORKING_DAYS)


def _text(value, *, label, required=False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("请填写%(label)s") % {"label": label})
    if len(value) > settings.TIPS_MAX_TEXT:
        raise ValidationFailed(
            _("%(label)s不能超过 %(n)d 字") % {"label": label, "n": settings.TIPS_MAX_TEXT}
        )
    return value


def _midnight():
    return timezone.make_aware(datetime.combine(_today(), time.min))


def require_officer(user) -> None:
    if not is_tip_officer(user):
        raise PermissionDeniedError()


def tip_get(*, user, pk) -> Tip:
    """The one way an outside id becomes a tip: 404 for missing, outside or excluded."""
    require_officer(user)
    try:
        return Tip.objects.visible_to(user).select_related("area", "handling_area").get(pk=pk)
    except (Tip.DoesNotExist, ValueError, TypeError):
        raise Http404


# --- statistics rows ---------------------------------------------------------------


def _stat_move(tip: Tip, *, old: str | None, new: str | None) -> None:
    """Keep TipStat in step with the tip, in the caller's transaction."""
    key = {"area_id": tip.area_id, "month": tip.month, "category_id": tip.category_id}
    if old:
        TipStat.objects.filter(**key, outcome=old).update(count=F("count") - 1)
    if new:
        row, _created = TipStat.objects.get_or_create(**key, outcome=new)
        TipStat.objects.filter(pk=row.pk).update(count=F("count") + 1)


# --- routing and conflicts ------------------------------------------------------------


def _named_staff(area: Area, text: str) -> list[User]:
    """Staff of this area's township (and of the areas above it) whose full name the tipster
    wrote anywhere in the tip."""
    ancestors = [*area.ancestors(), area]
    township = next((a for a in ancestors if a.level == Level.TOWNSHIP), None)

    q = Q(jurisdictions__area__path__in=[a.path for a in ancestors])
    if township is not None:
        q |= Q(jurisdictions__area__path__startswith=township.path)
    staff = (
        User.objects.filter(q, is_active=True)
        .exclude(last_name="", first_name="")
        .prefetch_related("jurisdictions__area")
        .distinct()
    )
    return [u for u in staff if len(u.get_full_name()) >= 2 and u.get_full_name() in text]


def _handling_area(area: Area, named: list[User]) -> Area:
    """A tip is handled above every named cadre's own area: a tip naming a cadre of the
    village goes to the township, one naming township staff to the county."""
    chain = {a.path: a for a in [*area.ancestors(), area]}
    handling = area
    for user in named:
        for j in user.jurisdictions.all():
            held = j.area
            while held.level > Level.VILLAGE and held.parent_id:  # a grid: its village
                held = held.parent
            if handling.path.startswith(held.path) and held.parent_id:
                parent_path = held.path[: -len(held.code) - 1]
                handling = chain.get(parent_path) or Area.objects.get(path=parent_path)
    return handling


# --- filing --------------------------------------------------------------------------


@dataclass
class Filed:
    tip: Tip
    receipt: str  # shown once, never stored


@transaction.atomic
def tip_file(
    *,
    actor=None,
    area_id,
    category_id,
    content: str,
    when_where: str = "",
    people_named: str = "",
    identity: dict | None = None,
    channel: str = TipChannel.WEB,
    files=(),
) -> Filed:
    """A tip from the public form (actor None) or entered by an officer (phone, letter, box).

    Nothing about the sender is kept: no address, agent or cookie, the day only."""
    if actor is not None:
        require_officer(actor)
    content = _text(content, label=_("举报内容"), required=True)
    when_where = _text(when_where, label=_("时间地点"))
    people_named = _text(people_named, label=_("被举报人"))
    identity = {
        k: _text((identity or {}).get(k), label=_("身份信息")) for k in ("name", "contact", "other")
    }
    try:
        area = Area.objects.get(pk=int(area_id), level__gte=Level.TOWNSHIP)
    except (Area.DoesNotExist, ValueError, TypeError):
        raise ValidationFailed(_("请选择有效的发生地"))
    try:
        category = TipCategory.objects.get(pk=int(category_id), is_active=True)
    except (TipCategory.DoesNotExist, ValueError, TypeError):
        raise ValidationFailed(_("请选择有效的线索类别"))
    if channel not in TipChannel.values or (actor is None and channel != TipChannel.WEB):
        raise ValidationFailed(_("来源不对"))
    from .attachments import attachments_check, attachments_store

    checked = attachments_check(files, existing=0)

    named = _named_staff(area, "\n".join([content, when_where, people_named]))
    today = _today()
    receipt = receipts.new_receipt()
    tip = Tip.objects.create(
        area=area,
        handling_area=_handling_area(area, named),
        category=category,
        channel=channel,
        created_at=_midnight(),
        state_changed_at=_midnight(),
        month=today.replace(day=1),
        content=content,
        when_where=when_where,
        people_named=people_named,
        receipt_hash=receipts.receipt_hash(receipt),
        entered_by=actor,
    )
    workflow_start(workflow=TIP_FLOW, case=tip, actor=actor, channel=channel)
    if any(identity.values()):
        TipIdentity.objects.create(tip=tip, **identity)
    TipConflict.objects.bulk_create(
        [TipConflict(tip=tip, officer=u) for u in named], ignore_conflicts=True
    )
    attachments_store(tip, checked, from_tipster=actor is None)
    _stat_move(tip, old=None, new=tip.state)
    audit_record(
        actor=actor, action="tips.file", obj=tip, at=_midnight() if actor is None else None
    )
    return Filed(tip=tip, receipt=receipt)


# --- the tipster with a receipt -------------------------------------------------------


class ReceiptRefused(ValidationFailed):
    message = _("回执码不对,或查询过于频繁,请稍后再试。")


def tip_by_receipt(*, code: str) -> Tip:
    """Same work, same answer for wrong, unknown and malformed codes (see receipts.py)."""
    allowed = receipts.lookup_allowed()
    digest = receipts.receipt_hash(code)  # always computed: no shortcut for bad input
    tip = Tip.objects.filter(receipt_hash=digest).first()
    if tip is None or not allowed:
        raise ReceiptRefused()
    return tip


@transaction.atomic
def tip_tipster_add(*, code: str, body: str, files=()) -> Tip:
    """The tipster adds information (text, files) with their receipt; returns the tip."""
    tip = tip_by_receipt(code=code)
    tip = Tip.objects.select_for_update().get(pk=tip.pk)
    body = _text(body, label=_("补充内容"))
    from .attachments import attachments_check, attachments_store

    checked = attachments_check(files, existing=tip.attachments.count())
    if not body and not checked:
        raise ValidationFailed(_("请填写补充内容或附上文件"))
    if tip.is_final:
        raise Conflict(_("该线索已办结,不能再补充。"))
    if body:
        TipMessage.objects.create(tip=tip, from_tipster=True, on=_today(), body=body)
    attachments_store(tip, checked, from_tipster=True)
    audit_record(actor=None, action="tips.tipster_add", obj=tip, at=_midnight())
    return tip


# --- officers: reading -------------------------------------------------------------------


def tip_read(*, actor, pk) -> Tip:
    """Open one tip: every read is an audit row."""
    tip = tip_get(user=actor, pk=pk)
    audit_record(actor=actor, action="tips.read", obj=tip)
    return tip


# --- officers: working the tip ------------------------------------------------------------


def _locked(actor, tip) -> Tip:
    tip = tip_get(user=actor, pk=tip.pk)
    return Tip.objects.select_for_update().get(pk=tip.pk)


@transaction.atomic
def tip_transition(*, actor, tip: Tip, action: str, comment: str = "") -> Tip:
    tip = _locked(actor, tip)
    comment = _text(comment, label=_("说明"))
    old = tip.state
    workflow_apply(workflow=TIP_FLOW, case=tip, actor=actor, action=action, comment=comment)
    fields = ["state", "state_changed_at"]
    if tip.state == "verifying" and tip.deadline is None:
        tip.deadline = _verify_deadline()
        fields.append("deadline")
    if tip.state in FINAL_STATES:
        tip.expires_on = _today() + timedelta(days=settings.TIPS_RETENTION_DAYS[tip.state])
        fields.append("expires_on")
    tip.save(update_fields=fields)
    _stat_move(tip, old=old, new=tip.state)
    return tip


@transaction.atomic
def tip_assign(*, actor, tip: Tip, handler_id, deadline: date | None = None) -> Tip:
    """Make one officer answerable, by a deadline; they must be able to read the tip."""
    tip = _locked(actor, tip)
    if tip.is_final:
        raise Conflict(_("该线索已办结"))
    handler = User.objects.filter(pk=handler_id).first() if str(handler_id).isdigit() else None
    if handler is None or not Tip.objects.visible_to(handler).filter(pk=tip.pk).exists():
        raise ValidationFailed(_("承办人须是能查看该线索的政法干部,且不在回避之列"))
    if deadline is not None and deadline < _today():
        raise ValidationFailed(_("期限不能早于今天"))
    tip.handler = handler
    tip.deadline = deadline or tip.deadline or _verify_deadline()
    tip.save(update_fields=["handler", "deadline"])
    audit_record(
        actor=actor,
        action="tips.assign",
        obj=tip,
        detail={"handler": handler.pk, "deadline": tip.deadline.isoformat()},
    )
    return tip


@transaction.atomic
def tip_note_add(*, actor, tip: Tip, body: str) -> TipNote:
    tip = _locked(actor, tip)
    body = _text(body, label=_("核查记录"), required=True)
    note = TipNote.objects.create(tip=tip, author=actor, body=body)
    audit_record(actor=actor, action="tips.note", obj=tip)
    return note


@transaction.atomic
def tip_reply(*, actor, tip: Tip, body: str) -> TipMessage:
    """A message the tipster reads with their receipt."""
    tip = _locked(actor, tip)
    body = _text(body, label=_("答复"), required=True)
    message = TipMessage.objects.create(tip=tip, author=actor, on=_today(), body=body)
    audit_record(actor=actor, action="tips.reply", obj=tip)
    return message


def _is_custodian_for(user, tip) -> bool:
    if not is_tip_officer(user):
        return False
    paths = TipCustodian.objects.filter(user=user).values_list("area__path", flat=True)
    return any(tip.handling_area.path.startswith(p) for p in paths)


@transaction.atomic
def tip_conflict_mark(*, actor, tip: Tip, officer_id, reason: str) -> TipConflict:
    """An officer (or the custodian) excludes an officer from the tip; from now on the tip
    is invisible to them. Only an officer who can read the tip may mark it."""
    tip = _locked(actor, tip)
    reason = _text(reason, label=_("回避理由"), required=True)
    officer = User.objects.filter(pk=officer_id).first() if str(officer_id).isdigit() else None
    if officer is None:
        raise ValidationFailed(_("请选择要回避的人员"))
    try:
        with transaction.atomic():
            conflict = TipConflict.objects.create(
                tip=tip, officer=officer, marked_by=actor, reason=reason
            )
    except IntegrityError:
        raise Conflict(_("该人员已在回避之列"))
    if tip.handler_id == officer.pk:
        tip.handler = None
        tip.save(update_fields=["handler"])
    audit_record(actor=actor, action="tips.conflict", obj=tip, detail={"officer": officer.pk})
    return conflict


# --- the tipster's identity -----------------------------------------------------------------


@transaction.atomic
def identity_request(*, actor, tip: Tip, reason: str) -> IdentityRequest:
    tip = _locked(actor, tip)
    reason = _text(reason, label=_("申请理由"), required=True)
    if not TipIdentity.objects.filter(tip=tip).exists():
        raise ValidationFailed(_("举报人未留下身份信息"))
    try:
        with transaction.atomic():
            req = IdentityRequest.objects.create(tip=tip, officer=actor, reason=reason)
    except IntegrityError:
        raise Conflict(_("已有待审批的申请"))
    audit_record(actor=actor, action="tips.identity_request", obj=tip, detail={"request": req.pk})
    return req


def identity_requests_for_custodian(*, user):
    """Pending requests the user, as custodian, may decide (never their own)."""
    if not is_tip_officer(user):
        return IdentityRequest.objects.none()
    paths = list(TipCustodian.objects.filter(user=user).values_list("area__path", flat=True))
    if not paths:
        return IdentityRequest.objects.none()
    from minqing.core.scoping import path_q

    return (
        IdentityRequest.objects.filter(path_q(paths, "tip__handling_area__path"))
        .exclude(officer=user)
        .exclude(tip__conflicts__officer=user)
        .select_related("tip", "officer", "tip__handling_area")
    )


@transaction.atomic
def identity_decide(*, actor, request_id, approve: bool, note: str) -> IdentityRequest:
    note = _text(note, label=_("审批意见"), required=True)
    try:
        req = (
            identity_requests_for_custodian(user=actor)
            .select_for_update(of=("self",))
            .get(pk=int(request_id))
        )
    except (IdentityRequest.DoesNotExist, ValueError, TypeError):
        raise Http404
    if req.status != IdentityRequest.Status.PENDING:
        raise Conflict(_("该申请已审批"))
    req.status = IdentityRequest.Status.APPROVED if approve else IdentityRequest.Status.DENIED
    req.custodian = actor
    req.decided_at = timezone.now()
    req.decision_note = note
    req.save(update_fields=["status", "custodian", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        action=f"tips.identity_{'approve' if approve else 'deny'}",
        obj=req.tip,
        detail={"request": req.pk, "officer": req.officer_id},
    )
    return req


def identity_reveal(*, actor, tip: Tip) -> TipIdentity:
    """The identity, for an officer whose request a custodian approved; audited each time."""
    tip = tip_get(user=actor, pk=tip.pk)
    approved = IdentityRequest.objects.filter(
        tip=tip, officer=actor, status=IdentityRequest.Status.APPROVED
    ).first()
    if approved is None:
        raise PermissionDeniedError(_("查看举报人身份须经保管人批准"))
    identity = TipIdentity.objects.get(tip=tip)
    audit_record(
        actor=actor, action="tips.identity_reveal", obj=tip, detail={"request": approved.pk}
    )
    return identity


# --- reminders and retention ------------------------------------------------------------------


def tips_remind(*, today: date | None = None) -> int:
    """Reminders for deadlines near or past and for expiry near; once per tip, kind and day."""
    today = today or _today()
    rows = []
    soon = today + timedelta(days=settings.TIPS_DEADLINE_REMINDER_DAYS)
    open_states = [s for s in ("received", "verifying", "substantiated")]
    for pk, deadline in Tip.objects.filter(
        state__in=open_states, deadline__isnull=False, deadline__lte=soon
    ).values_list("pk", "deadline"):
        kind = TipReminder.Kind.OVERDUE if deadline < today else TipReminder.Kind.DEADLINE
        rows.append(TipReminder(tip_id=pk, kind=kind, due_on=deadline))
    horizon = today + timedelta(days=settings.TIPS_EXPIRY_REMINDER_DAYS)
    for pk, expires in Tip.objects.filter(
        expires_on__isnull=False, expires_on__lte=horizon
    ).values_list("pk", "expires_on"):
        rows.append(TipReminder(tip_id=pk, kind=TipReminder.Kind.EXPIRY, due_on=expires))
    existing = set(
        TipReminder.objects.filter(tip_id__in={r.tip_id for r in rows}).values_list(
            "tip_id", "kind", "due_on"
        )
    )
    new = [r for r in rows if (r.tip_id, r.kind, r.due_on) not in existing]
    TipReminder.objects.bulk_create(new, ignore_conflicts=True)
    _notify_reminders(new)
    return len(new)


def _notify_reminders(reminders) -> None:
    """The handler gets an inbox message naming the tip number only, never its content."""
    from minqing.core.notifications import notify

    tips = Tip.objects.in_bulk({r.tip_id for r in reminders})
    handlers = User.objects.in_bulk({t.handler_id for t in tips.values() if t.handler_id})
    for r in reminders:
        tip = tips[r.tip_id]
        handler = handlers.get(tip.handler_id)
        if handler is None:
            continue
        notify(
            recipients=[handler],
            kind="tips.reminder",
            title=f"{tip.reference} {TipReminder.Kind(r.kind).label} {r.due_on:%Y-%m-%d}",
            url=f"/tips/{tip.pk}/",
        )


def tips_expire(*, today: date | None = None) -> int:
    """At expiry the tip is destroyed: content, identity, attachments, messages, notes and
    events; only its TipStat count remains."""
    from .attachments import blobs_delete

    today = today or _today()
    n = 0
    for pk in Tip.objects.filter(expires_on__lte=today).values_list("pk", flat=True):
        with transaction.atomic():
            tip = Tip.objects.select_for_update().filter(pk=pk, expires_on__lte=today).first()
            if tip is None:
                continue
            blobs = list(tip.attachments.values_list("blob", flat=True))
            IdentityRequest.objects.filter(tip=tip).delete()
            TipEvent.objects.filter(tip=tip).delete()
            ref = tip.reference
            area_id = tip.handling_area_id
            tip.delete()  # cascades: identity, conflicts, messages, notes, attachments, reminders
            audit_record(
                actor=None,
                action="tips.destroy",
                area=area_id,
                detail={"tip": ref, "outcome": tip.state},
            )
            transaction.on_commit(lambda blobs=blobs: blobs_delete(blobs))
            n += 1
    return n
