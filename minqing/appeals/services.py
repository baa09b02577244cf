"""Every change to an appeal. Keyword-only, actor first, one transaction each; the
workflow table decides what may happen (core.workflow), the event rows are the history."""

import re

from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.accounts.models import Unit, User
from minqing.areas.models import Area, Level
from minqing.core import clock
from minqing.core.attachments import attachment_check, attachment_save
from minqing.core.audit import audit_record
from minqing.core.deadlines import deadline_after
from minqing.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.notifications import notify
from minqing.core.permissions import require
from minqing.core.proc_cache import process_cached
from minqing.core.public import new_tracking_code, plausible_code, tracking_hash
from minqing.core.roles import Role
from minqing.core.rows import unsaved
from minqing.core.scoping import covers
from minqing.core.workflow import workflow_apply, workflow_create

from .models import (
    OPEN_STATES,
    Appeal,
    AppealAttachment,
    AppealReply,
    Category,
    Channel,
    DuplicateVerdict,
    Kind,
    Rating,
    State,
)
from .workflow import APPEAL_FLOW

MAX_CONTENT = 5000
MAX_TITLE = 100
_PHONE = re.compile(r"^[0-9+\- ]{7,20}$")
# Enum .values builds a new list on every access; intake checks these on every request.
_CHANNELS = frozenset(Channel.values)
_KINDS = frozenset(Kind.values)

# Who is told about a matter waiting at a level (by the level of the area they hold).
LEVEL_ROLES = {
    Level.VILLAGE: {Role.VILLAGE_CADRE, Role.GRID_WORKER},
    Level.TOWNSHIP: {Role.TOWNSHIP_STAFF},
    Level.COUNTY: {Role.DEPARTMENT_STAFF, Role.LEADER},
}


def _url(appeal) -> str:
    return f"/appeals/{appeal.pk}/"


def village_of(area: Area) -> Area:
    """The first level answerable for a matter: its village (a grid's parent)."""
    if area.level == Level.GRID:
        return area.parent
    return area


def level_staff(area: Area):
    """Active staff holding exactly this area in a role that acts at its level."""
    roles = LEVEL_ROLES.get(area.level, set())
    return User.objects.filter(is_active=True, role__in=roles, jurisdictions__area=area).distinct()


_LEVEL_STAFF_SQL: dict[int, tuple[str, list, int]] = {}


def level_staff_ids_sql(area: Area) -> tuple[str, list]:
    """`level_staff(area)` as an id subquery (sql, params), compiled once per level and
    process: intake names its recipients without building a queryset each time."""
    hit = _LEVEL_STAFF_SQL.get(area.level)
    if hit is None:
        marker = -424242
        qs = level_staff(Area(pk=marker, level=area.level)).order_by().values_list("pk", flat=True)
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
        params = list(params)
        hit = _LEVEL_STAFF_SQL[area.level] = (sql, params, params.index(marker))
    sql, params, at = hit
    params = list(params)
    params[at] = area.pk
    return sql, params


def active_category(pk) -> Category | None:
    """An active category by id, from the process's copy of the (small) category list."""
    cats = process_cached(
        "appeal-categories",
        lambda: {c.pk: c for c in Category.objects.filter(is_active=True)},
    )
    try:
        return cats.get(int(pk))
    except (TypeError, ValueError):
        return None


def cached_area(pk) -> Area | None:
    """An area (with its parent) by id; looked up once per process, then kept."""
    areas = process_cached("appeal-areas", dict)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    area = areas.get(pk)
    if area is None:
        area = Area.objects.filter(pk=pk).select_related("parent").first()
        if area is not None and len(areas) < 100_000:
            areas[pk] = area
    return area


def cached_areas(ids) -> dict[int, Area]:
    """Areas by id from the same per-process copy, the missing ones fetched in one query."""
    areas = process_cached("appeal-areas", dict)
    found = {pk: areas[pk] for pk in ids if pk in areas}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        for area in Area.objects.filter(pk__in=missing).select_related("parent"):
            found[area.pk] = area
            if len(areas) < 100_000:
                areas[area.pk] = area
    return found


def categories_by_id() -> dict[int, Category]:
    """Every category (active or not: old matters keep theirs), from the process's copy."""
    return process_cached("appeal-categories-all", lambda: Category.objects.in_bulk())


def _locked(appeal: Appeal) -> Appeal:
    return (
        Appeal.objects.select_for_update(of=("self",))
        .select_related("area", "handling_area", "category")
        .get(pk=appeal.pk)
    )


def _clean_text(value: str, *, field: str, required=True, limit=MAX_CONTENT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("请填写%(field)s") % {"field": field})
    if len(value) > limit:
        raise ValidationFailed(_("%(field)s不能超过 %(n)d 个字") % {"field": field, "n": limit})
    return value


def _check_answers(category: Category, answers: dict | None) -> dict:
    answers = answers or {}
    if not isinstance(answers, dict):
        raise ValidationFailed(_("补充问题的回答格式有误"))
    clean = {}
    for q in category.questions or []:
        value = str(answers.get(q["key"], "") or "").strip()[:500]
        if q.get("required") and not value:
            raise ValidationFailed(_("请回答:%(q)s") % {"q": q.get("label", q["key"])})
        if value:
            clean[q["key"]] = value
    return clean


def _check_position(latitude, longitude):
    if latitude in (None, "") and longitude in (None, ""):
        return None, None
    try:
        lat, lon = round(float(latitude), 6), round(float(longitude), 6)
    except (TypeError, ValueError):
        raise ValidationFailed(_("位置坐标格式有误"))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed(_("位置坐标超出范围"))
    return lat, lon


def appeal_file(**kwargs) -> tuple[Appeal, str]:
    """Intake from every channel (`_appeal_file`). On PostgreSQL its only write is one
    statement (core.workflow.workflow_create), atomic by itself: no BEGIN/COMMIT round trips
    unless a hook on the initial state writes too, or the caller holds a transaction."""
    if (
        connection.vendor == "postgresql"
        and APPEAL_FLOW.initial not in APPEAL_FLOW.on_enter
        and not kwargs.get("attachments")
    ):
        return _appeal_file(**kwargs)
    with transaction.atomic():
        return _appeal_file(**kwargs)


def _appeal_file(
    *,
    actor,
    channel: str,
    category_id: int,
    area_id: int,
    content: str,
    title: str = "",
    household_id: int | None = None,
    location: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    answers: dict | None = None,
    kind: str = Kind.APPEAL,
    parties: str = "",
    latitude=None,
    longitude=None,
    attachments=(),
) -> tuple[Appeal, str]:
    """Intake from every channel; the resident gets the tracking code (returned once, only
    its hash is kept). `actor=None` is the public web form / anonymous Open311."""
    if actor is not None:
        require(actor, "appeals.file")
    if channel not in _CHANNELS:
        raise ValidationFailed(_("未知的来源渠道"))
    if actor is None and channel not in (Channel.WEB, Channel.OPEN311):
        raise PermissionDeniedError()
    if kind not in _KINDS:
        raise ValidationFailed(_("未知的事项类型"))
    content = _clean_text(content, field=gettext_lazy("诉求内容"))
    title = _clean_text(title, field=gettext_lazy("标题"), required=False, limit=MAX_TITLE)
    title = title or content.splitlines()[0][:30]
    category = active_category(category_id)
    if category is None:
        raise ValidationFailed(_("请选择有效的诉求类别"))
    area = cached_area(area_id)
    if area is None or area.level < Level.VILLAGE:
        raise ValidationFailed(_("请选择诉求所在的村(社区)或网格"))
    if actor is not None and not covers(actor, area.path):
        raise ValidationFailed(_("该区域不在您的管辖范围内"))
    household = None
    if household_id:
        if actor is None:
            raise ValidationFailed(_("群众提交时不能指定户"))
        from minqing.registry.models import Household

        household = Household.objects.visible_to(actor).filter(pk=household_id).first()
        if household is None:
            raise ValidationFailed(_("户不存在或不在您的管辖范围内"))
        if not household.grid.path.startswith(village_of(area).path):
            raise ValidationFailed(_("该户不在所选区域内"))
    contact_phone = (contact_phone or "").strip()
    if contact_phone and not _PHONE.match(contact_phone):
        raise ValidationFailed(_("联系电话格式有误"))
    clean_answers = _check_answers(category, answers)
    latitude, longitude = _check_position(latitude, longitude)
    files = _check_intake_files(attachments, public=actor is None)
    now = clock.now()
    handling = village_of(area)
    code = new_tracking_code()
    appeal = unsaved(  # Appeal(...), built the cheaper way (core.rows)
        Appeal,
        kind=kind,
        channel=channel,
        category=category,
        area=area,
        handling_area=handling,
        household=household,
        title=title,
        content=content,
        location=_clean_text(location, field=gettext_lazy("地点"), required=False, limit=200),
        contact_name=_clean_text(
            contact_name, field=gettext_lazy("联系人"), required=False, limit=50
        ),
        contact_phone=contact_phone,
        answers=clean_answers,
        latitude=latitude,
        longitude=longitude,
        parties=_clean_text(parties, field=gettext_lazy("当事人"), required=False, limit=1000),
        created_by=actor,
        created_at=now,
        state_changed_at=now,
        state=APPEAL_FLOW.initial,
        due_at=deadline_after(now, category.days_at(handling.level)),
        tracking_hash=tracking_hash(code),
    )
    workflow_create(
        workflow=APPEAL_FLOW,
        case=appeal,
        actor=actor,
        channel=channel,
        audit={"action": "appeal.file", "detail": {"channel": channel, "category": category.code}},
        notify={
            "recipients": lambda: level_staff(handling),
            "recipients_sql": level_staff_ids_sql(handling),
            "kind": "appeal.new",
            "title": _("新诉求待认领:%(t)s") % {"t": title},
            "url": _url,
        },
    )
    for checked in files:
        attachment_save(AppealAttachment, checked=checked, actor=actor, appeal=appeal)
    if files:
        audit_record(
            actor=actor,
            action="appeal.attach",
            obj=appeal,
            detail={"files": [f.name for f in files], "count": len(files)},
        )
    return appeal, code


def _check_intake_files(uploads, *, public: bool) -> list:
    """Every file filed with a matter, checked before anything is written (core.attachments:
    type sniffed from the content, size, metadata such as GPS stripped, count)."""
    from django.conf import settings

    uploads = [u for u in (uploads or []) if u]
    limit = (
        getattr(settings, "PUBLIC_ATTACHMENT_MAX_COUNT", 3)
        if public
        else getattr(settings, "ATTACHMENT_MAX_COUNT", 9)
    )
    if len(uploads) > limit:
        raise ValidationFailed(_("附件最多 %(n)d 个") % {"n": limit})
    return [attachment_check(u, existing_count=0) for u in uploads]


@transaction.atomic
def appeal_claim(*, actor, appeal: Appeal, comment: str = "") -> Appeal:
    """Claiming makes one person answerable; of two claiming at once exactly one wins."""
    appeal = _locked(appeal)
    workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=actor, action="claim", comment=comment)
    appeal.owner = actor
    appeal.save(update_fields=["owner", "state", "state_changed_at"])
    return appeal


def assignable_units(actor, appeal: Appeal):
    """Units a matter may be given to: in the assigner's jurisdiction, or above the
    matter's area (a county department for a village matter)."""
    ancestors = [c for c in appeal.area.path.split(".") if c]
    above = Q(area__code__in=ancestors)
    return Unit.objects.filter(is_active=True).filter(
        above | Q(pk__in=Unit.objects.visible_to(actor).values("pk"))
    )


@transaction.atomic
def appeal_assign(
    *, actor, appeal: Appeal, unit_id: int, owner_id: int | None = None, comment: str = ""
) -> Appeal:
    """交办: to a unit with one responsible person (包案人) when named."""
    appeal = _locked(appeal)
    unit = assignable_units(actor, appeal).filter(pk=unit_id).first()
    if unit is None:
        raise ValidationFailed(_("请选择有效的承办单位"))
    owner = None
    if owner_id:
        owner = User.objects.filter(pk=owner_id, unit=unit, is_active=True).first()
        if owner is None:
            raise ValidationFailed(_("包案人必须是承办单位的在岗人员"))
    workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=actor, action="assign", comment=comment)
    appeal.unit, appeal.owner, appeal.assigned_by = unit, owner, actor
    appeal.save(update_fields=["unit", "owner", "assigned_by", "state", "state_changed_at"])
    recipients = [owner] if owner else list(unit.members.filter(is_active=True))
    notify(
        recipients=recipients,
        kind="appeal.assigned",
        title=_("交办事项:%(t)s") % {"t": appeal.title},
        body=comment,
        url=_url(appeal),
        channels=("inbox", "sms"),
    )
    return appeal


@transaction.atomic
def appeal_start(*, actor, appeal: Appeal, comment: str = "") -> Appeal:
    appeal = _locked(appeal)
    workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=actor, action="start", comment=comment)
    if appeal.owner_id is None:  # a unit member who starts on it becomes answerable
        appeal.owner = actor
    appeal.save(update_fields=["owner", "state", "state_changed_at"])
    return appeal


@transaction.atomic
def appeal_return(*, actor, appeal: Appeal, reason: str) -> Appeal:
    """退回: the handler gives the matter back to its level's dispatcher, with the reason."""
    reason = _clean_text(reason, field=_("退回理由"), limit=1000)
    appeal = _locked(appeal)
    workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=actor, action="return", comment=reason)
    notify(
        recipients=[appeal.assigned_by]
        if appeal.assigned_by_id
        else level_staff(appeal.handling_area),
        kind="appeal.returned",
        title=_("事项被退回:%(t)s") % {"t": appeal.title},
        body=reason,
        url=_url(appeal),
    )
    appeal.owner = appeal.unit = appeal.assigned_by = None
    appeal.save(update_fields=["owner", "unit", "assigned_by", "state", "state_changed_at"])
    return appeal


def _escalate(appeal: Appeal, *, actor, reason: str, system: bool) -> Appeal:
    area = appeal.handling_area
    if area.level <= Level.COUNTY or area.parent_id is None:
        raise ValidationFailed(_("该事项已在区县层级办理,不能再上报"))
    upper = Area.objects.get(pk=area.parent_id)
    workflow_apply(
        workflow=APPEAL_FLOW,
        case=appeal,
        actor=actor,
        action="escalate",
        comment=reason,
        system=system,
    )
    now = clock.now()
    appeal.handling_area = upper
    appeal.owner = appeal.unit = appeal.assigned_by = None
    appeal.escalations += 1
    appeal.due_at = deadline_after(now, appeal.category.days_at(upper.level))
    appeal.reminded_at = None
    appeal.save(
        update_fields=[
            "handling_area",
            "owner",
            "unit",
            "assigned_by",
            "escalations",
            "due_at",
            "reminded_at",
            "state",
            "state_changed_at",
        ]
    )
    notify(
        recipients=level_staff(upper),
        kind="appeal.escalated",
        title=_("上报事项:%(t)s") % {"t": appeal.title},
        body=reason,
        url=_url(appeal),
        channels=("inbox", "sms"),
    )
    return appeal


@transaction.atomic
def appeal_escalate(*, actor, appeal: Appeal, reason: str) -> Appeal:
    """上报: beyond this level's power, the matter goes one level up (village → township →
    county) and waits there to be claimed or assigned, with a new deadline."""
    reason = _clean_text(reason, field=_("上报理由"), limit=1000)
    appeal = _locked(appeal)
    return _escalate(appeal, actor=actor, reason=reason, system=False)


@transaction.atomic
def appeal_supervise(*, actor, appeal: Appeal, comment: str) -> Appeal:
    """督办: a supervision notice to whoever is answerable; the state does not change."""
    comment = _clean_text(comment, field=_("督办意见"), limit=1000)
    appeal = _locked(appeal)
    workflow_apply(
        workflow=APPEAL_FLOW, case=appeal, actor=actor, action="supervise", comment=comment
    )
    appeal.supervisions += 1
    appeal.save(update_fields=["supervisions", "state", "state_changed_at"])
    recipients = [appeal.owner] if appeal.owner_id else []
    if appeal.unit_id:
        recipients += list(appeal.unit.members.filter(is_active=True))
    if not recipients:
        recipients = list(level_staff(appeal.handling_area))
    notify(
        recipients=recipients,
        kind="appeal.supervised",
        title=_("督办通知:%(t)s") % {"t": appeal.title},
        body=comment,
        url=_url(appeal),
        channels=("inbox", "sms"),
    )
    return appeal


def _add_reply(appeal, *, actor, text: str, is_public: bool):
    return AppealReply.objects.create(
        appeal=appeal,
        at=clock.now(),
        author=actor,
        author_label=str(actor) if actor else "",
        text=text,
        is_public=is_public,
    )


@transaction.atomic
def appeal_resolve(*, actor, appeal: Appeal, result: str, public_reply: str = "") -> Appeal:
    """办结: a recorded result; the reply the resident reads on the tracking page."""
    result = _clean_text(result, field=_("办理结果"))
    public_reply = _clean_text(public_reply, field=_("答复"), required=False)
    appeal = _locked(appeal)
    workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=actor, action="resolve", comment=result)
    appeal.result = result
    appeal.resolved_at = clock.now()
    appeal.solved_level = appeal.handling_area.level
    appeal.save(
        update_fields=["result", "resolved_at", "solved_level", "state", "state_changed_at"]
    )
    if public_reply:
        _add_reply(appeal, actor=actor, text=public_reply, is_public=True)
    return appeal


@transaction.atomic
def appeal_rate(
    *, actor, appeal: Appeal, rating: str, comment: str = "", channel: str = ""
) -> Appeal:
    """回访评价 by the resident (actor None, with the tracking code) or the cadre on a return
    visit. 不满意 reopens the matter (重新办理) with the reason."""
    if rating not in Rating.values:
        raise ValidationFailed(_("请选择满意、基本满意或不满意"))
    comment = _clean_text(
        comment, field=_("不满意的原因"), required=rating == Rating.UNSATISFIED, limit=1000
    )
    appeal = _locked(appeal)
    kw = {"anonymous_label": _("诉求人"), "channel": channel} if actor is None else {}
    workflow_apply(
        workflow=APPEAL_FLOW, case=appeal, actor=actor, action="rate", comment=comment, **kw
    )
    appeal.rating = rating
    fields = ["rating", "state", "state_changed_at"]
    if rating == Rating.UNSATISFIED:
        workflow_apply(
            workflow=APPEAL_FLOW, case=appeal, actor=actor, action="reopen", comment=comment, **kw
        )
        _reopened(appeal)
        fields += ["resolved_at", "solved_level", "due_at", "reminded_at"]
    appeal.save(update_fields=fields)
    return appeal


def _reopened(appeal: Appeal) -> None:
    appeal.resolved_at = None
    appeal.solved_level = None
    appeal.due_at = deadline_after(clock.now(), appeal.category.days_at(appeal.handling_area.level))
    appeal.reminded_at = None
    recipients = [appeal.owner] if appeal.owner_id else list(level_staff(appeal.handling_area))
    notify(
        recipients=recipients,
        kind="appeal.reopened",
        title=_("重新办理:%(t)s") % {"t": appeal.title},
        url=_url(appeal),
    )


@transaction.atomic
def appeal_reopen(*, actor, appeal: Appeal, reason: str) -> Appeal:
    reason = _clean_text(reason, field=_("重新办理理由"), limit=1000)
    appeal = _locked(appeal)
    workflow_apply(workflow=APPEAL_FLOW, case=appeal, actor=actor, action="reopen", comment=reason)
    _reopened(appeal)
    appeal.save(
        update_fields=[
            "resolved_at",
            "solved_level",
            "due_at",
            "reminded_at",
            "state",
            "state_changed_at",
        ]
    )
    return appeal


@transaction.atomic
def appeal_archive(*, actor, appeal: Appeal, comment: str = "") -> Appeal:
    appeal = _locked(appeal)
    workflow_apply(
        workflow=APPEAL_FLOW, case=appeal, actor=actor, action="archive", comment=comment
    )
    appeal.save(update_fields=["state", "state_changed_at"])
    AppealAttachment.objects.filter(appeal=appeal).update(
        retain_until=clock.today().replace(year=clock.today().year + 5)
    )
    return appeal


@transaction.atomic
def appeal_reply(*, actor, appeal: Appeal, text: str, is_public: bool) -> AppealReply:
    """A reply to the resident (public) or an internal note."""
    require(actor, "appeals.handle")
    text = _clean_text(text, field=_("内容"), limit=2000)
    reply = _add_reply(appeal, actor=actor, text=text, is_public=is_public)
    audit_record(actor=actor, action="appeal.reply", obj=appeal, detail={"public": is_public})
    return reply


@transaction.atomic
def appeal_attach(*, actor, appeal: Appeal, upload, is_public: bool = False) -> AppealAttachment:
    require(actor, "appeals.file")
    if appeal.state == State.ARCHIVED:
        raise ValidationFailed(_("已归档的事项不能再添加附件"))
    appeal = _locked(appeal)
    checked = attachment_check(upload, existing_count=appeal.attachments.count())
    row = attachment_save(
        AppealAttachment, checked=checked, actor=actor, is_public=is_public, appeal=appeal
    )
    audit_record(
        actor=actor, action="appeal.attach", obj=appeal, detail={"name": row.original_name}
    )
    return row


@transaction.atomic
def dispute_mediate(
    *, actor, appeal: Appeal, record: str, outcome: str, mediator_id: int | None = None
) -> Appeal:
    """矛盾纠纷调解: the record and outcome (调解成功/未成功/转办) of a dispute."""
    from .models import MediationOutcome

    if appeal.kind != Kind.DISPUTE:
        raise ValidationFailed(_("只有矛盾纠纷可以记录调解"))
    if outcome not in MediationOutcome.values:
        raise ValidationFailed(_("请选择调解结果"))
    record = _clean_text(record, field=_("调解记录"))
    appeal = _locked(appeal)
    APPEAL_FLOW.guards["start"](actor, appeal)
    require(actor, "appeals.handle")
    mediator = actor
    if mediator_id:
        mediator = User.objects.visible_to(actor).filter(pk=mediator_id).first()
        if mediator is None:
            raise ValidationFailed(_("调解员不存在或不在您的管辖范围内"))
    appeal.mediation_record, appeal.mediation_outcome, appeal.mediator = record, outcome, mediator
    appeal.save(update_fields=["mediation_record", "mediation_outcome", "mediator"])
    audit_record(actor=actor, action="appeal.mediate", obj=appeal, detail={"outcome": outcome})
    return appeal


def appeal_by_code(code: str) -> Appeal:
    """The resident's tracking lookup: same NotFoundError for malformed, wrong and unknown."""
    appeal = None
    if plausible_code(code):
        appeal = (
            Appeal.objects.select_related("category", "handling_area")
            .filter(tracking_hash=tracking_hash(code))
            .first()
        )
    else:
        tracking_hash(code)  # same work for a malformed code
    if appeal is None:
        raise NotFoundError(_("查询码不正确"))
    return appeal


# ---- periodic work (core.periodic, registered in tasks.py) --------------------------------


def appeal_escalate_overdue() -> int:
    """Overdue open matters go one level up (village → township → county), each in its own
    transaction; the reason names the missed deadline. Matters at county level stay."""
    now = clock.now()
    ids = list(
        Appeal.objects.filter(state__in=OPEN_STATES, due_at__lt=now)
        .exclude(handling_area__level__lte=Level.COUNTY)
        .values_list("pk", flat=True)[:1000]
    )
    n = 0
    for pk in ids:
        with transaction.atomic():
            appeal = _locked(Appeal(pk=pk))
            if appeal.state not in OPEN_STATES or not appeal.due_at or appeal.due_at >= now:
                continue
            if appeal.handling_area.level <= Level.COUNTY:
                continue
            due = appeal.due_at.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M")
            reason = _("超过办理期限(%(due)s)未办结,自动上报") % {"due": due}
            _escalate(appeal, actor=None, reason=reason, system=True)
            n += 1
    return n


def appeal_remind_due() -> int:
    """One reminder before the deadline (within the next day) to whoever is answerable."""
    from datetime import timedelta

    now = clock.now()
    rows = list(
        Appeal.objects.filter(
            state__in=OPEN_STATES,
            reminded_at__isnull=True,
            due_at__gte=now,
            due_at__lt=now + timedelta(days=1),
        ).select_related("owner", "unit", "handling_area")[:1000]
    )
    for appeal in rows:
        with transaction.atomic():
            if appeal.owner_id:
                recipients = [appeal.owner]
            elif appeal.unit_id:
                recipients = list(appeal.unit.members.filter(is_active=True))
            else:
                recipients = list(level_staff(appeal.handling_area))
            notify(
                recipients=recipients,
                kind="appeal.due_soon",
                title=_("即将到期:%(t)s") % {"t": appeal.title},
                url=_url(appeal),
                channels=("inbox", "sms"),
            )
            Appeal.objects.filter(pk=appeal.pk).update(reminded_at=now)
    return len(rows)


@transaction.atomic
def appeal_recategorise(*, actor, appeal: Appeal, category_id: int, comment: str = "") -> Appeal:
    """A dispatcher corrects the category (the routing learns from the corrected matters)."""
    require(actor, "appeals.assign")
    category = Category.objects.filter(pk=category_id, is_active=True).first()
    if category is None:
        raise ValidationFailed(_("请选择有效的诉求类别"))
    appeal = _locked(appeal)
    if appeal.state not in OPEN_STATES:
        raise ValidationFailed(_("已办结的事项不能再改类别"))
    if not covers(actor, appeal.handling_area.path):
        raise PermissionDeniedError(_("该事项不在您所在层级办理"))
    old = appeal.category
    appeal.category = category
    appeal.save(update_fields=["category"])
    audit_record(
        actor=actor,
        action="appeal.recategorise",
        obj=appeal,
        detail={"from": old.code, "to": category.code, "comment": comment[:200]},
    )
    from . import routing

    routing.router_changed()
    return appeal


@transaction.atomic
def duplicate_judge(*, actor, appeal: Appeal, other_id: int, same: bool) -> DuplicateVerdict:
    """A dispatcher says whether a proposed duplicate is the same matter as this one. The
    verdict feeds later suggestions (routing.Evidence); a rejected pair is not proposed
    again. Both matters must be visible to the dispatcher. The verdict is an event (a
    workflow note: the state stays) in both matters' timelines, with actor and time."""
    require(actor, "appeals.file")
    other = Appeal.objects.visible_to(actor).filter(pk=other_id).first()
    if other is None:
        raise NotFoundError(_("没有找到该诉求"))
    if other.pk == appeal.pk:
        raise ValidationFailed(_("不能和自己比较"))
    first, second = sorted((appeal.pk, other.pk))
    now = clock.now()
    verdict, _created = DuplicateVerdict.objects.update_or_create(
        first_id=first,
        second_id=second,
        defaults={"same": same, "decided_by": actor, "decided_at": now},
    )
    said = _("与诉求 #%(id)s 是同一件事") if same else _("与诉求 #%(id)s 不是同一件事")
    for case, mate in ((appeal, other), (other, appeal)):
        workflow_apply(
            workflow=APPEAL_FLOW,
            case=case,
            actor=actor,
            action="duplicate",
            comment=said % {"id": mate.pk},
            at=now,
            audit=False,  # the one audit row below says it for the pair
        )
    audit_record(
        actor=actor,
        action="appeal.duplicate",
        obj=appeal,
        detail={"other": other.pk, "same": same},
    )
    from . import routing

    routing.forget_evidence()
    return verdict


# ---- screening meetings (例会) and reception duty (大接访) ----------------------------------


@transaction.atomic
def meeting_record(
    *,
    actor,
    area_id: int,
    held_on,
    attendees: str,
    decisions: str = "",
    appeal_ids: list[int] | None = None,
):
    """A screening meeting: villages weekly, townships every half month; the matters
    reviewed must be visible to the recorder and lie in the meeting's area."""
    from .models import Meeting

    require(actor, "appeals.meetings")
    area = Area.objects.visible_to(actor).filter(pk=area_id).first()
    if area is None or area.level not in (Level.VILLAGE, Level.TOWNSHIP):
        raise ValidationFailed(_("例会只能由本辖区的村(社区)或乡镇(街道)召开"))
    if held_on > clock.today():
        raise ValidationFailed(_("例会日期不能晚于今天"))
    attendees = _clean_text(attendees, field=_("参会人员"), limit=1000)
    decisions = _clean_text(decisions, field=_("议定事项"), required=False)
    ids = sorted(set(appeal_ids or []))
    appeals = list(
        Appeal.objects.visible_to(actor).filter(pk__in=ids, area__path__startswith=area.path)
    )
    if len(appeals) != len(ids):
        raise ValidationFailed(_("研判事项不存在或不在该区域内"))
    meeting = Meeting.objects.create(
        area=area, held_on=held_on, attendees=attendees, decisions=decisions, created_by=actor
    )
    meeting.appeals.set(appeals)
    audit_record(actor=actor, action="meeting.record", obj=meeting, detail={"appeals": ids})
    return meeting


def meetings_missing(*, fetched_by, on=None) -> list[Area]:
    """Villages (weekly) and townships (half-monthly) in the jurisdiction that have not held
    their screening meeting in the current period: the flag on the meetings page."""
    from datetime import timedelta

    from .models import Meeting

    today = on or clock.today()
    week_start = today - timedelta(days=today.weekday())
    half_start = today.replace(day=1 if today.day <= 15 else 16)
    areas = list(
        Area.objects.visible_to(fetched_by)
        .filter(level__in=[Level.VILLAGE, Level.TOWNSHIP])
        .order_by("path")
    )
    held = set(
        Meeting.objects.filter(
            area__in=areas, held_on__gte=min(week_start, half_start)
        ).values_list("area_id", "held_on")
    )
    done = {
        area_id
        for area_id, day in held
        for a in areas
        if a.pk == area_id and day >= (week_start if a.level == Level.VILLAGE else half_start)
    }
    return [a for a in areas if a.pk not in done]


@transaction.atomic
def reception_record(
    *, actor, area_id: int, received_on, visitor: str, summary: str, appeal_id=None
):
    """Reception duty (大接访): who received whom, when, about what; optionally the appeal
    the visit became."""
    from .models import Reception

    require(actor, "appeals.meetings")
    area = Area.objects.visible_to(actor).filter(pk=area_id).first()
    if area is None:
        raise ValidationFailed(_("区域不存在或不在您的管辖范围内"))
    appeal = None
    if appeal_id:
        appeal = Appeal.objects.visible_to(actor).filter(pk=appeal_id).first()
        if appeal is None:
            raise ValidationFailed(_("诉求不存在或不在您的管辖范围内"))
    reception = Reception.objects.create(
        area=area,
        received_on=received_on,
        receiver=actor,
        visitor=_clean_text(visitor, field=_("来访人"), limit=50),
        summary=_clean_text(summary, field=_("来访事由"), limit=2000),
        appeal=appeal,
    )
    audit_record(actor=actor, action="reception.record", obj=reception)
    return reception
