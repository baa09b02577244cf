"""Every change to visits. One visit entry is one transaction: the visit, who was met, the
visitors, and what it raised (a tag through the registry's tag service, a follow-up date,
needs and disputes through the appeals intake)."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.areas.models import PATH_SEP
from minqing.core.attachments import attachment_check, attachment_save
from minqing.core.audit import audit_bulk, audit_record
from minqing.core.errors import Conflict, DomainError, NotFoundError, ValidationFailed
from minqing.core.permissions import require
from minqing.registry.models import Household, Resident, ResidentStatus, Tag
from minqing.registry.services import tag_give

from .intake import intake_category, raise_appeal
from .models import (
    Answer,
    LastVisit,
    Question,
    Survey,
    SurveyResponse,
    SyncConflict,
    Visit,
    VisitFinding,
    VisitNote,
    VisitPhoto,
    VisitRule,
)

EDIT_WINDOW = timedelta(hours=24)
# Phones' clocks drift; a visit "in the future" by less than this is taken as now.
CLOCK_SLACK = timedelta(minutes=5)
SITUATION_MAX = 5000


@dataclass(frozen=True)
class TagFinding:
    """A key group found on the visit: the tag, the member (personal tags), since when."""

    tag: Tag
    start_date: date
    resident: Resident | None = None


def _text(value, *, label, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("%(field)s不能为空") % {"field": label})
    if len(value) > max_length:
        raise ValidationFailed(
            _("%(field)s不能超过 %(n)d 个字") % {"field": label, "n": max_length}
        )
    return value


def _visited_at(value) -> datetime:
    now = timezone.now()
    if value is None:
        return now
    if not isinstance(value, datetime):
        raise ValidationFailed(_("走访时间格式不正确"))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + CLOCK_SLACK:
        raise ValidationFailed(_("走访时间不能晚于现在"))
    return value


def _household(actor, household) -> Household:
    pk = household.pk if isinstance(household, Household) else household
    found = (
        Household.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .select_related("grid")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundError(_("户不存在或不在您的管辖范围内"))
    return found


def _members(household, members) -> list[Resident]:
    ids = {m.pk if isinstance(m, Resident) else int(m) for m in members or ()}
    if not ids:
        return []
    found = list(Resident.objects.filter(household=household, pk__in=ids))
    if len(found) != len(ids):
        raise ValidationFailed(_("见到的成员必须是本户成员"))
    return found


def possible_visitors(household: Household):
    """Staff who hold the household's grid or an area above it: they may go along."""
    path = household.grid.path
    prefixes = [path[: i + 1] for i, ch in enumerate(path) if ch == PATH_SEP]
    return User.objects.filter(is_active=True, jurisdictions__area__path__in=prefixes).distinct()


def _visitors(actor, household, visitors) -> list[User]:
    ids = {v.pk if isinstance(v, User) else int(v) for v in visitors or ()}
    ids.discard(actor.pk)
    found = list(possible_visitors(household).filter(pk__in=ids)) if ids else []
    if len(found) != len(ids):
        raise ValidationFailed(_("同行走访人必须是负责该户所在区域的工作人员"))
    return [actor, *found]


def _findings_text(items, *, label) -> list[str]:
    return [_text(t, label=label, max_length=500) for t in items or () if (t or "").strip()]


def _check_tag_findings(household, tags: list[TagFinding], day: date) -> None:
    for f in tags:
        if f.start_date is None or f.start_date > day:
            raise ValidationFailed(_("“%(tag)s”的认定日期不能晚于走访日期") % {"tag": f.tag.name})
        if f.resident is not None and f.resident.household_id != household.pk:
            raise ValidationFailed(_("认定标签的居民必须是本户成员"))
        if f.resident is not None and f.resident.status != ResidentStatus.LIVING:
            raise ValidationFailed(_("只能为在住居民认定标签"))


def _check_photos(photos) -> list:
    """Every photo through the core upload check (type by content, size, count, metadata
    stripped); visit photos are images only."""
    checked = []
    for n, upload in enumerate(photos or ()):
        c = attachment_check(upload, existing_count=n)
        if not c.content_type.startswith("image/"):
            raise ValidationFailed(_("走访照片只能是图片(JPG、PNG、GIF)"))
        checked.append(c)
    return checked


def _keep_last_visit(visit: Visit) -> None:
    """The household's latest visit, upserted under the household lock taken above."""
    last = LastVisit.objects.filter(household_id=visit.household_id).first()
    if last is None:
        LastVisit.objects.create(
            household_id=visit.household_id,
            visited_at=visit.visited_at,
            follow_up_date=visit.follow_up_date,
        )
    elif visit.visited_at >= last.visited_at:
        last.visited_at = visit.visited_at
        last.follow_up_date = visit.follow_up_date
        last.save(update_fields=["visited_at", "follow_up_date"])


def visit_by_client_id(*, actor, client_id) -> Visit | None:
    """The visit already stored under this client id (an offline upload seen again)."""
    if client_id is None:
        return None
    visit = Visit.objects.visible_to(actor).filter(client_id=client_id).first()
    if visit is None and Visit.objects.filter(client_id=client_id).exists():
        raise Conflict(_("该离线记录编号已被使用"))
    return visit


@transaction.atomic
def visit_record(
    *,
    actor,
    household,
    situation: str,
    visited_at: datetime | None = None,
    place: str = "",
    met_members=(),
    met_others: str = "",
    visitors=(),
    follow_up_date: date | None = None,
    tags: list[TagFinding] = (),
    needs=(),
    disputes=(),
    need_category=None,
    photos=(),
    client_id: uuid.UUID | None = None,
) -> Visit:
    """走访: one visit and everything it raised, or nothing at all. With a client id (offline
    capture) the same upload seen again answers with the visit already stored."""
    require(actor, "visits.record")
    if client_id is not None:
        if isinstance(client_id, str):
            try:
                client_id = uuid.UUID(client_id)
            except ValueError:
                raise ValidationFailed(_("离线记录编号格式不正确"))
        existing = visit_by_client_id(actor=actor, client_id=client_id)
        if existing is not None:
            return existing
    household = _household(actor, household)
    when = _visited_at(visited_at)
    day = timezone.localdate(when)
    situation = _text(situation, label=_("走访情况"), max_length=SITUATION_MAX, required=True)
    place = _text(place, label=_("走访地点"), max_length=200)
    met_others = _text(met_others, label=_("见到的其他人"), max_length=200)
    members = _members(household, met_members)
    people = _visitors(actor, household, visitors)
    if follow_up_date is not None and follow_up_date < day:
        raise ValidationFailed(_("回访日期不能早于走访日期"))
    tags = list(tags or ())
    _check_tag_findings(household, tags, day)
    need_texts = _findings_text(needs, label=_("诉求"))
    dispute_texts = _findings_text(disputes, label=_("矛盾纠纷"))
    checked_photos = _check_photos(photos)
    category = None
    if need_texts or dispute_texts:
        require(actor, "appeals.file")
        category = intake_category(need_category)

    try:
        with transaction.atomic():
            visit = Visit.objects.create(
                household=household,
                grid=household.grid,
                visited_at=when,
                place=place,
                met_others=met_others,
                situation=situation,
                recorded_by=actor,
                follow_up_date=follow_up_date,
                client_id=client_id,
            )
    except IntegrityError:
        # The same offline visit arrived twice at once: the other request stored it.
        existing = visit_by_client_id(actor=actor, client_id=client_id)
        if existing is None:
            raise
        return existing
    visit.visitors.set(people)
    if members:
        visit.met_members.set(members)

    findings = []
    for f in tags:
        period = tag_give(
            actor=actor,
            tag=f.tag,
            start_date=f.start_date,
            reason=_("走访发现(%(d)s)") % {"d": day.isoformat()},
            household=household if f.resident is None else None,
            resident=f.resident,
        )
        findings.append(
            VisitFinding(
                visit=visit, kind=VisitFinding.Kind.TAG, text=f.tag.name, tag_period=period
            )
        )
    if follow_up_date is not None:
        findings.append(
            VisitFinding(
                visit=visit, kind=VisitFinding.Kind.FOLLOW_UP, text=follow_up_date.isoformat()
            )
        )
    for kind, texts in (
        (VisitFinding.Kind.NEED, need_texts),
        (VisitFinding.Kind.DISPUTE, dispute_texts),
    ):
        for text in texts:
            appeal = raise_appeal(
                actor=actor,
                household=household,
                kind=kind,
                text=text,
                category=category,
                place=place,
            )
            findings.append(VisitFinding(visit=visit, kind=kind, text=text, appeal=appeal))
    VisitFinding.objects.bulk_create(findings)
    for checked in checked_photos:
        attachment_save(VisitPhoto, checked=checked, actor=actor, visit=visit)
    _keep_last_visit(visit)
    audit_record(
        actor=actor,
        action="visits.visit.record",
        obj=visit,
        area=household.grid_id,
        detail={
            "household": household.number,
            "visited_at": when.isoformat(),
            "findings": [f.kind for f in findings],
            "offline": client_id is not None,
            "photos": len(checked_photos),
        },
    )
    return visit


@transaction.atomic
def visit_photo_add(*, actor, visit, upload, client_id) -> VisitPhoto:
    """A photo taken offline with a queued visit, uploaded after the visit was synced
    (core attachments: images only, metadata stripped). Only the visit's recorder adds
    it, and only to a visit captured offline; the same photo id is stored once."""
    require(actor, "visits.record")
    cid = _client_uuid(client_id)
    visit = _locked_visit(actor, visit)
    existing = VisitPhoto.objects.filter(client_id=cid).first()
    if existing is not None:
        if existing.visit_id != visit.pk:
            raise Conflict(_("该离线照片编号已被使用"))
        return existing
    if visit.recorded_by_id != actor.pk or visit.client_id is None:
        raise Conflict(_("只能为自己离线登记的走访补传照片"))
    checked = _check_photos_counted([upload], visit.photos.count())
    photo = attachment_save(VisitPhoto, checked=checked[0], actor=actor, visit=visit, client_id=cid)
    audit_record(
        actor=actor,
        action="visits.visit.photo",
        obj=visit,
        area=visit.grid_id,
        detail={"photo": photo.pk, "offline": True},
    )
    return photo


def _check_photos_counted(photos, existing: int) -> list:
    checked = []
    for n, upload in enumerate(photos):
        c = attachment_check(upload, existing_count=existing + n)
        if not c.content_type.startswith("image/"):
            raise ValidationFailed(_("走访照片只能是图片(JPG、PNG、GIF)"))
        checked.append(c)
    return checked


def _locked_visit(actor, visit) -> Visit:
    pk = visit.pk if isinstance(visit, Visit) else visit
    if not Visit.objects.visible_to(actor).filter(pk=pk).exists():
        raise NotFoundError()
    return Visit.objects.select_for_update().get(pk=pk)


def visit_editable(visit: Visit, *, user, now=None) -> bool:
    now = now or timezone.now()
    return visit.recorded_by_id == user.pk and now - visit.created_at <= EDIT_WINDOW


@transaction.atomic
def visit_update(*, actor, visit, situation: str, place: str = "", met_others: str = "") -> Visit:
    """Its recorder may correct a visit for 24 hours; after that only notes are added."""
    require(actor, "visits.record")
    visit = _locked_visit(actor, visit)
    if visit.recorded_by_id != actor.pk:
        raise Conflict(_("只有登记人可以修改走访记录,请添加补记"))
    if timezone.now() - visit.created_at > EDIT_WINDOW:
        raise Conflict(_("走访记录登记已超过 24 小时,不能修改,请添加补记"))
    visit.situation = _text(situation, label=_("走访情况"), max_length=SITUATION_MAX, required=True)
    visit.place = _text(place, label=_("走访地点"), max_length=200)
    visit.met_others = _text(met_others, label=_("见到的其他人"), max_length=200)
    visit.save(update_fields=["situation", "place", "met_others", "updated_at"])
    audit_record(actor=actor, action="visits.visit.update", obj=visit, area=visit.grid_id)
    return visit


@transaction.atomic
def visit_add_note(*, actor, visit, text: str) -> VisitNote:
    """补记: a dated addition to a visit, never an edit of it."""
    require(actor, "visits.record")
    visit = _locked_visit(actor, visit)
    text = _text(text, label=_("补记内容"), max_length=SITUATION_MAX, required=True)
    note = VisitNote.objects.create(visit=visit, text=text, author=actor)
    audit_record(actor=actor, action="visits.visit.note", obj=visit, area=visit.grid_id)
    return note


@transaction.atomic
def visit_rule_save(
    *,
    actor,
    name: str,
    tag: Tag | None,
    interval_days: int,
    is_active: bool = True,
    kind: str = VisitRule.Kind.TAG,
    rule=None,
) -> VisitRule:
    """Administrators set the must-visit rules: which key group (or an open appeal), how
    often."""
    require(actor, "visits.manage_rules")
    name = _text(name, label=_("名称"), max_length=64, required=True)
    if kind not in VisitRule.Kind.values:
        raise ValidationFailed(_("未知的规则类型"))
    if kind == VisitRule.Kind.OPEN_APPEAL:
        tag = None
    elif tag is None:
        raise ValidationFailed(_("请选择重点人群"))
    if not isinstance(interval_days, int) or not 1 <= interval_days <= 366:
        raise ValidationFailed(_("走访周期应在 1 到 366 天之间"))
    rule = rule or VisitRule()
    rule.name, rule.kind, rule.tag, rule.interval_days, rule.is_active = (
        name,
        kind,
        tag,
        interval_days,
        is_active,
    )
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:  # the unique name decides, not a check before the write
        raise Conflict(_("已有同名规则“%(n)s”") % {"n": name})
    audit_record(
        actor=actor,
        action="visits.rule.save",
        obj=rule,
        detail={
            "kind": kind,
            "tag": tag.code if tag else None,
            "interval_days": interval_days,
            "active": is_active,
        },
    )
    return rule


# ---------------------------------------------------------------- offline sync


def visit_payload_kwargs(payload: dict) -> dict:
    """The service arguments of one queued visit (the JSON the phone sends)."""
    tags = []
    for t in payload.get("tags") or ():
        tag = Tag.objects.filter(code=t.get("tag", "")).first()
        if tag is None:
            raise ValidationFailed(_("未知的标签“%(code)s”") % {"code": t.get("tag", "")})
        resident = None
        if t.get("resident_id"):
            resident = Resident.objects.filter(pk=t["resident_id"]).first()
            if resident is None:
                raise ValidationFailed(_("认定标签的居民必须是本户成员"))
        start = t.get("start_date")
        if isinstance(start, str):
            start = date.fromisoformat(start)
        tags.append(TagFinding(tag=tag, start_date=start, resident=resident))
    follow_up = payload.get("follow_up_date")
    if isinstance(follow_up, str) and follow_up:
        follow_up = date.fromisoformat(follow_up)
    visited_at = payload.get("visited_at")
    if isinstance(visited_at, str):
        visited_at = datetime.fromisoformat(visited_at)
    return {
        "household": payload.get("household_id"),
        "situation": payload.get("situation", ""),
        "visited_at": visited_at,
        "place": payload.get("place", ""),
        "met_members": payload.get("met_member_ids") or (),
        "met_others": payload.get("met_others", ""),
        "visitors": payload.get("visitor_ids") or (),
        "follow_up_date": follow_up or None,
        "tags": tags,
        "needs": payload.get("needs") or (),
        "disputes": payload.get("disputes") or (),
        "need_category": payload.get("need_category_id"),
    }


def _client_uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(_("离线记录编号格式不正确"))


def _duplicate_result(cid, visit_id) -> dict:
    return {"client_id": str(cid), "status": "duplicate", "visit_id": visit_id}


def _taken_result(cid) -> dict:
    """A client id another user's upload already holds: refused for this item only (the
    rest of the batch is stored), naming nothing about the other upload."""
    return {
        "client_id": str(cid),
        "status": "conflict",
        "conflict_id": None,
        "visit_id": None,
        "detail": str(_("该离线记录编号已被使用")),
    }


def visit_sync(*, actor, items: list[dict]) -> list[dict]:
    """Store the visits a phone queued offline, each once (by its client id). Plain visits
    (no tag, need or dispute) are checked together in Python against one scoped query of
    their households and written with one insert per table (ON CONFLICT on the client id),
    one audit batch, in one transaction; the others go one by one through visit_record. A
    visit that cannot be stored is kept as a SyncConflict for the cadre to resolve. The
    answer lists, per item in order: created, duplicate (seen before, in an earlier batch
    or earlier in this one) or conflict (kept)."""
    require(actor, "visits.record")
    order = [(_client_uuid(p.get("client_id")), p) for p in items]
    first: dict[uuid.UUID, dict] = {}
    for cid, payload in order:
        first.setdefault(cid, payload)  # the first copy in the batch counts
    conflicts, stored = _seen_before(list(first))
    results: dict[uuid.UUID, dict] = {}
    plain, other = [], []
    for cid, payload in first.items():
        if cid in conflicts:
            c = conflicts[cid]
            results[cid] = _conflict_result(c) if c.user_id == actor.pk else _taken_result(cid)
        elif cid in stored:
            pk, recorder = stored[cid]
            results[cid] = (
                _duplicate_result(cid, pk) if recorder == actor.pk else _taken_result(cid)
            )
        elif payload.get("tags") or payload.get("needs") or payload.get("disputes"):
            other.append((cid, payload))
        else:
            plain.append((cid, payload))
    if plain:
        results.update(_sync_plain(actor=actor, items=plain))
    for cid, payload in other:
        results[cid] = _sync_one(actor=actor, client_id=cid, payload=payload)
    answer, seen = [], set()
    for cid, _payload in order:
        r = results[cid]
        if cid in seen and r["status"] == "created":
            r = _duplicate_result(cid, r["visit_id"])
        seen.add(cid)
        answer.append(r)
    return answer


def _seen_before(ids: list) -> tuple[dict, dict]:
    """The client ids of a batch already kept as conflicts ({id: SyncConflict}) or stored
    as visits ({id: (visit pk, recorder)}): one query for both (a UNION of the two
    unique-index lookups, the ids as one array on PostgreSQL)."""
    from django.db import connection

    if not ids:
        return {}, {}
    f = SyncConflict._meta.get_field("client_id")
    if connection.vendor == "postgresql":
        where, params = "= ANY(%s::uuid[])", [[str(i) for i in ids]] * 2
    else:
        marks = ", ".join(["%s"] * len(ids))
        where = f"IN ({marks})"
        params = [f.get_db_prep_value(i, connection) for i in ids] * 2
    sql = (
        "SELECT 'c', id, client_id, user_id, error, visit_id FROM visits_syncconflict "
        f"WHERE client_id {where} UNION ALL "
        "SELECT 'v', id, client_id, recorded_by_id, NULL, NULL FROM visits_visit "
        f"WHERE client_id {where}"
    )
    conflicts, stored = {}, {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for kind, pk, cid, user_id, error, visit_id in cur.fetchall():
            cid = f.to_python(cid)
            if kind == "c":
                conflicts[cid] = SyncConflict(
                    pk=pk, client_id=cid, user_id=user_id, error=error, visit_id=visit_id
                )
            else:
                stored[cid] = (pk, user_id)
    return conflicts, stored


def _sync_one(*, actor, client_id, payload) -> dict:
    try:
        with transaction.atomic():
            visit = visit_record(actor=actor, client_id=client_id, **visit_payload_kwargs(payload))
    except (DomainError, ValueError, TypeError) as exc:
        message = str(getattr(exc, "message", None) or _("数据格式不正确"))
        conflict = _keep_conflict(actor=actor, client_id=client_id, payload=payload, error=message)
        return _conflict_result(conflict)
    if visit.recorded_by_id != actor.pk:
        return _taken_result(client_id)
    return {"client_id": str(client_id), "status": "created", "visit_id": visit.pk}


@dataclass(slots=True)
class _Queued:
    """A checked offline visit on its way into the tables (plain values, no model)."""

    household_id: int
    grid_id: int
    number: str
    visited_at: datetime
    place: str
    met_others: str
    situation: str
    follow_up_date: date | None
    members: set
    visitors: set
    client_id: uuid.UUID | None = None
    pk: int | None = None


@dataclass(slots=True)
class _Home:
    pk: int
    grid_id: int
    path: str
    number: str


def _check_plain(actor, p, *, households, member_home, visitor_paths) -> _Queued:
    """One queued plain visit against the rules of visit_record, with the rows read in
    bulk; a DomainError (or a parse error) makes it a conflict."""
    household = households.get(int(p.get("household_id") or 0))
    if household is None:
        raise NotFoundError(_("户不存在或不在您的管辖范围内"))
    visited_at = p.get("visited_at")
    if isinstance(visited_at, str):
        visited_at = datetime.fromisoformat(visited_at)
    when = _visited_at(visited_at)
    situation = (p.get("situation") or "").strip()
    place = (p.get("place") or "").strip()
    met_others = (p.get("met_others") or "").strip()
    if not situation or len(situation) > SITUATION_MAX or len(place) > 200 or len(met_others) > 200:
        # the messages (translated) only when something is wrong
        _text(situation, label=_("走访情况"), max_length=SITUATION_MAX, required=True)
        _text(place, label=_("走访地点"), max_length=200)
        _text(met_others, label=_("见到的其他人"), max_length=200)
    members = {int(m) for m in p.get("met_member_ids") or ()}
    if any(member_home.get(m) != household.pk for m in members):
        raise ValidationFailed(_("见到的成员必须是本户成员"))
    visitors = {int(v) for v in p.get("visitor_ids") or ()} - {actor.pk}
    path = household.path
    if any(not any(path.startswith(a) for a in visitor_paths.get(v, ())) for v in visitors):
        raise ValidationFailed(_("同行走访人必须是负责该户所在区域的工作人员"))
    follow_up = p.get("follow_up_date") or None
    if isinstance(follow_up, str):
        follow_up = date.fromisoformat(follow_up)
    if follow_up is not None and follow_up < timezone.localdate(when):
        raise ValidationFailed(_("回访日期不能早于走访日期"))
    return _Queued(
        household.pk,
        household.grid_id,
        household.number,
        when,
        place,
        met_others,
        situation,
        follow_up,
        members,
        visitors,
    )


def _insert_new(model, rows: list[list], *, fields: list[str], unique: str) -> dict:
    """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id, unique, of rows of plain
    values in `fields` order: the rows another request stored meanwhile are skipped, not
    an error (PostgreSQL and SQLite alike). Returns {unique value: id} of the rows this
    statement wrote."""
    from django.db import connection

    if not rows:
        return {}
    qn = connection.ops.quote_name
    cols = [model._meta.get_field(f) for f in fields]
    key = model._meta.get_field(unique)
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in cols)}) "
    tail = f" ON CONFLICT ({qn(key.column)}) DO NOTHING RETURNING {qn('id')}, {qn(key.column)}"
    if connection.vendor == "postgresql":
        # The rows as one JSON parameter (json_to_recordset): the driver quotes one string
        # instead of a parameter (or an array element) per cell.
        import json

        names = [f"c{i}" for i in range(len(cols))]
        record = ", ".join(f"{n} {f.db_type(connection)}" for n, f in zip(names, cols, strict=True))
        sql = (
            f"{head}SELECT {', '.join(names)} FROM json_to_recordset(%s::json) AS x({record}){tail}"
        )
        params = [
            json.dumps(
                [dict(zip(names, row, strict=True)) for row in rows],
                default=str,
                ensure_ascii=False,
            )
        ]
    else:
        mark = "(" + ", ".join(["%s"] * len(cols)) + ")"
        sql = f"{head}VALUES {', '.join([mark] * len(rows))}{tail}"
        params = [
            f.get_db_prep_save(v, connection)
            for row in rows
            for f, v in zip(cols, row, strict=True)
        ]
    from minqing.core.dbcursor import server_bound_cursor

    with server_bound_cursor() as cur:  # one big JSON parameter on PostgreSQL
        cur.execute(sql, params)
        got = cur.fetchall()
    return {key.to_python(k): pk for pk, k in got}


def _insert_pairs(table: str, a: str, b: str, pairs: list[tuple[int, int]]) -> None:
    """A many-to-many link table, in one statement."""
    from django.db import connection

    if not pairs:
        return
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"INSERT INTO {table} ({a}, {b}) SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                [[x for x, _y in pairs], [y for _x, y in pairs]],
            )
        else:
            cur.execute(
                f"INSERT INTO {table} ({a}, {b}) VALUES {', '.join(['(%s, %s)'] * len(pairs))}",
                [v for pair in pairs for v in pair],
            )


VISIT_INSERT_FIELDS = [
    "household",
    "grid",
    "visited_at",
    "place",
    "met_others",
    "situation",
    "recorded_by",
    "follow_up_date",
    "client_id",
    "created_at",
    "updated_at",
]


@transaction.atomic
def _sync_plain(*, actor, items: list) -> dict:
    """Plain offline visits, checked with the same rules as visit_record but in bulk: the
    households (locked), members and fellow visitors in one query each; then one insert
    per table, the latest visit per household kept in one upsert, one audit batch, and
    the refused ones kept as conflicts in one insert."""
    from minqing.accounts.models import Jurisdiction

    hh_ids = set()
    for _cid, p in items:
        try:
            hh_ids.add(int(p.get("household_id")))
        except (TypeError, ValueError):
            pass
    households = {
        row[0]: _Home(*row)
        for row in Household.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk__in=hh_ids)
        .order_by("pk")
        .values_list("pk", "grid_id", "grid__path", "number")
    }
    member_ids, visitor_ids = set(), set()
    for _c, p in items:
        try:
            member_ids |= {int(m) for m in p.get("met_member_ids") or ()}
            visitor_ids |= {int(v) for v in p.get("visitor_ids") or ()}
        except (TypeError, ValueError):
            pass  # that item becomes a conflict below
    visitor_ids.discard(actor.pk)
    member_home = (
        dict(
            Resident.objects.filter(
                pk__in=member_ids, household_id__in=list(households)
            ).values_list("pk", "household_id")
        )
        if member_ids
        else {}
    )
    visitor_paths: dict[int, list[str]] = {}
    if visitor_ids:
        for uid, path in Jurisdiction.objects.filter(
            user_id__in=visitor_ids, user__is_active=True
        ).values_list("user_id", "area__path"):
            visitor_paths.setdefault(uid, []).append(path)

    results: dict[uuid.UUID, dict] = {}
    ready: list[_Queued] = []
    refused = []  # (cid, payload, message)
    for cid, p in items:
        try:
            q = _check_plain(
                actor,
                p,
                households=households,
                member_home=member_home,
                visitor_paths=visitor_paths,
            )
        except (DomainError, ValueError, TypeError) as exc:
            refused.append((cid, p, str(getattr(exc, "message", None) or _("数据格式不正确"))))
            continue
        q.client_id = cid
        ready.append(q)
    now = timezone.now()
    written = _insert_new(
        Visit,
        [
            [
                q.household_id,
                q.grid_id,
                q.visited_at,
                q.place,
                q.met_others,
                q.situation,
                actor.pk,
                q.follow_up_date,
                q.client_id,
                now,
                now,
            ]
            for q in ready
        ],
        fields=VISIT_INSERT_FIELDS,
        unique="client_id",
    )
    if len(written) < len(ready):
        # Another request stored some of these ids between our read and our insert.
        late = [q.client_id for q in ready if q.client_id not in written]
        for cid, pk, rec in Visit.objects.filter(client_id__in=late).values_list(
            "client_id", "pk", "recorded_by_id"
        ):
            results[cid] = _duplicate_result(cid, pk) if rec == actor.pk else _taken_result(cid)
        ready = [q for q in ready if q.client_id in written]
    for q in ready:
        q.pk = written[q.client_id]
    if ready:
        _write_plain_rows(actor, ready)
    if refused:
        results.update(_keep_conflicts(actor=actor, refused=refused))
    for q in ready:
        results[q.client_id] = {
            "client_id": str(q.client_id),
            "status": "created",
            "visit_id": q.pk,
        }
    return results


def _write_plain_rows(actor, ready: list[_Queued]) -> None:
    _insert_pairs(
        Visit.visitors.through._meta.db_table,
        "visit_id",
        "user_id",
        [(q.pk, u) for q in ready for u in {actor.pk, *q.visitors}],
    )
    _insert_pairs(
        Visit.met_members.through._meta.db_table,
        "visit_id",
        "resident_id",
        [(q.pk, m) for q in ready for m in q.members],
    )
    follow = [
        VisitFinding(
            visit_id=q.pk, kind=VisitFinding.Kind.FOLLOW_UP, text=q.follow_up_date.isoformat()
        )
        for q in ready
        if q.follow_up_date
    ]
    if follow:
        VisitFinding.objects.bulk_create(follow)
    latest: dict[int, _Queued] = {}
    for q in ready:
        if q.household_id not in latest or q.visited_at >= latest[q.household_id].visited_at:
            latest[q.household_id] = q
    _keep_last_visits(latest)
    label = Visit._meta.label_lower
    audit_bulk(
        actor=actor,
        action="visits.visit.record",
        rows=[
            (
                # the target as (type, id, text), like target_of(visit) would give
                (label, str(q.pk), f"{q.household_id} @ {q.visited_at:%Y-%m-%d %H:%M}"),
                {
                    "household": q.number,
                    "visited_at": q.visited_at.isoformat(),
                    "findings": ["follow_up"] if q.follow_up_date else [],
                    "offline": True,
                },
                q.grid_id,
            )
            for q in ready
        ],
    )


def _keep_last_visits(latest: dict) -> None:
    """One upsert of the latest visit per household; an older offline visit never replaces
    a newer one (the comparison is in the statement, so no read is needed)."""
    from django.db import connection

    if not latest:
        return
    f_at = Visit._meta.get_field("visited_at")
    f_day = Visit._meta.get_field("follow_up_date")
    rows, params = [], []
    for hid, v in latest.items():
        rows.append("(%s, %s, %s)")
        params += [
            hid,
            f_at.get_db_prep_save(v.visited_at, connection),
            f_day.get_db_prep_save(v.follow_up_date, connection),
        ]
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO visits_lastvisit (household_id, visited_at, follow_up_date) "
            f"VALUES {', '.join(rows)} ON CONFLICT (household_id) DO UPDATE "
            "SET visited_at = excluded.visited_at, follow_up_date = excluded.follow_up_date "
            "WHERE excluded.visited_at >= visits_lastvisit.visited_at",
            params,
        )


def _keep_conflicts(*, actor, refused: list) -> dict:
    """The refused visits of a batch kept for the cadre: one insert, one audit batch."""
    SyncConflict.objects.bulk_create(
        [
            SyncConflict(user=actor, client_id=cid, payload=_jsonable(p), error=msg[:500])
            for cid, p, msg in refused
        ],
        ignore_conflicts=True,  # the same id kept meanwhile by a concurrent upload
    )
    kept = {
        c.client_id: c for c in SyncConflict.objects.filter(client_id__in=[r[0] for r in refused])
    }
    audit_bulk(
        actor=actor,
        action="visits.sync.conflict",
        rows=[
            (kept[cid], {"client_id": str(cid), "error": msg[:200]}, None)
            for cid, _p, msg in refused
            if cid in kept
        ],
    )
    return {
        cid: _conflict_result(kept[cid]) if kept[cid].user_id == actor.pk else _taken_result(cid)
        for cid, _p, _m in refused
        if cid in kept
    }


def _conflict_result(conflict: SyncConflict) -> dict:
    return {
        "client_id": str(conflict.client_id),
        "status": "conflict",
        "conflict_id": conflict.pk,
        "detail": conflict.error,
        "visit_id": conflict.visit_id,
    }


@transaction.atomic
def _keep_conflict(*, actor, client_id, payload, error: str) -> SyncConflict:
    conflict, _created = SyncConflict.objects.get_or_create(
        client_id=client_id,
        defaults={"user": actor, "payload": _jsonable(payload), "error": error[:500]},
    )
    audit_record(
        actor=actor,
        action="visits.sync.conflict",
        obj=conflict,
        detail={"client_id": str(client_id), "error": error[:200]},
    )
    return conflict


def _jsonable(payload: dict) -> dict:
    import json

    return json.loads(json.dumps(payload, default=str))


@transaction.atomic
def sync_conflict_retry(*, actor, conflict: SyncConflict) -> Visit:
    """Store a kept visit again (after the data was put right); it stays kept if it fails."""
    conflict = (
        SyncConflict.objects.select_for_update().of(actor).open().filter(pk=conflict.pk).first()
    )
    if conflict is None:
        raise NotFoundError()
    kwargs = visit_payload_kwargs(conflict.payload)
    visit = visit_record(actor=actor, client_id=conflict.client_id, **kwargs)
    conflict.resolved_at = timezone.now()
    conflict.resolved_by = actor
    conflict.visit = visit
    conflict.save(update_fields=["resolved_at", "resolved_by", "visit"])
    return visit


@transaction.atomic
def sync_conflict_dismiss(*, actor, conflict: SyncConflict) -> SyncConflict:
    """The cadre decides the kept visit is not to be stored (it stays listed as resolved)."""
    conflict = (
        SyncConflict.objects.select_for_update().of(actor).open().filter(pk=conflict.pk).first()
    )
    if conflict is None:
        raise NotFoundError()
    conflict.resolved_at = timezone.now()
    conflict.resolved_by = actor
    conflict.save(update_fields=["resolved_at", "resolved_by"])
    audit_record(actor=actor, action="visits.sync.dismiss", obj=conflict)
    return conflict


# ---------------------------------------------------------------- questionnaires


def _parse_questions(lines: str) -> list[dict]:
    """The administrator's one-line-per-question format: 类型|题目|选项1;选项2 (类型: 单选,
    多选, 评分, 满意度, 文字; 满意度 is a 1-5 score that counts for the satisfaction index)."""
    kinds = {
        "单选": ("single", False),
        "多选": ("multiple", False),
        "评分": ("scale", False),
        "满意度": ("scale", True),
        "文字": ("text", False),
    }
    questions = []
    for n, raw in enumerate((lines or "").splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) < 2 or parts[0] not in kinds or not parts[1]:
            raise ValidationFailed(
                _(
                    "第 %(n)d 题格式不正确,应为“类型|题目|选项1;选项2”,类型为单选、多选、评分、满意度或文字"
                )
                % {"n": n}
            )
        kind, satisfaction = kinds[parts[0]]
        options = [o.strip() for o in (parts[2] if len(parts) > 2 else "").split(";") if o.strip()]
        if kind in ("single", "multiple") and len(options) < 2:
            raise ValidationFailed(_("第 %(n)d 题至少要有两个选项") % {"n": n})
        if len(parts[1]) > 200:
            raise ValidationFailed(_("第 %(n)d 题题目不能超过 200 个字") % {"n": n})
        questions.append(
            {
                "kind": kind,
                "text": parts[1],
                "options": options if kind in ("single", "multiple") else [],
                "satisfaction": satisfaction,
                "required": kind != "text",  # free text is optional
            }
        )
    if not questions:
        raise ValidationFailed(_("问卷至少要有一道题"))
    return questions


@transaction.atomic
def survey_create(*, actor, area, title: str, questions: str, description: str = "") -> Survey:
    """A questionnaire for the households of an area in the actor's jurisdiction."""
    import secrets

    from minqing.areas.models import Area
    from minqing.core.scoping import covers

    require(actor, "visits.manage_surveys")
    area_pk = area.pk if isinstance(area, Area) else area
    area = Area.objects.visible_to(actor).filter(pk=area_pk).first()
    if area is None or not covers(actor, area.path):
        raise NotFoundError(_("区域不存在或不在您的管辖范围内"))
    title = _text(title, label=_("问卷标题"), max_length=100, required=True)
    parsed = _parse_questions(questions)
    survey = Survey.objects.create(
        title=title,
        description=_text(description, label=_("说明"), max_length=2000),
        area=area,
        created_by=actor,
        public_token=secrets.token_urlsafe(16),
    )
    Question.objects.bulk_create(
        [Question(survey=survey, order=i, **q) for i, q in enumerate(parsed, start=1)]
    )
    audit_record(actor=actor, action="visits.survey.create", obj=survey, area=area)
    return survey


@transaction.atomic
def survey_close(*, actor, survey: Survey) -> Survey:
    require(actor, "visits.manage_surveys")
    survey = Survey.objects.visible_to(actor).select_for_update().filter(pk=survey.pk).first()
    if survey is None:
        raise NotFoundError()
    if not survey.is_open:
        raise Conflict(_("问卷已结束"))
    survey.status = Survey.Status.CLOSED
    survey.closed_at = timezone.now()
    survey.save(update_fields=["status", "closed_at"])
    audit_record(actor=actor, action="visits.survey.close", obj=survey, area=survey.area_id)
    return survey


def _answer_rows(survey: Survey, answers: dict) -> list[Answer]:
    """Validate every answer against its question; one message for the first problem."""
    rows = []
    questions = list(survey.questions.all())
    known = {str(q.pk) for q in questions}
    extra = {str(k) for k in answers} - known
    if extra:
        raise ValidationFailed(_("答案与问卷题目不符"))
    for q in questions:
        value = answers.get(str(q.pk), answers.get(q.pk))
        empty = value in (None, "", [])
        if empty:
            if q.required:
                raise ValidationFailed(_("请回答:%(q)s") % {"q": q.text})
            continue
        try:
            if q.kind == Question.Kind.SINGLE:
                i = int(value)
                if not 0 <= i < len(q.options):
                    raise ValueError
                rows.append(Answer(question=q, option=i))
            elif q.kind == Question.Kind.MULTIPLE:
                picked = sorted({int(v) for v in (value if isinstance(value, list) else [value])})
                if not picked or any(not 0 <= i < len(q.options) for i in picked):
                    raise ValueError
                rows.extend(Answer(question=q, option=i) for i in picked)
            elif q.kind == Question.Kind.SCALE:
                score = int(value)
                if not 1 <= score <= 5:
                    raise ValueError
                rows.append(Answer(question=q, score=score))
            else:
                rows.append(Answer(question=q, text=_text(value, label=q.text, max_length=1000)))
        except (TypeError, ValueError):
            raise ValidationFailed(_("“%(q)s”的答案无效") % {"q": q.text})
    return rows


def _store_response(*, survey, household, answers, channel, actor=None, visit=None):
    if not survey.is_open:
        raise Conflict(_("问卷已结束,不能再作答"))
    if not household.grid.path.startswith(survey.area.path):
        raise ValidationFailed(_("该户不在问卷的调查范围内"))
    rows = _answer_rows(survey, answers or {})
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                survey=survey,
                household=household,
                grid_id=household.grid_id,
                channel=channel,
                visit=visit,
                answered_by=actor,
            )
    except IntegrityError:
        raise Conflict(_("该户已经答过这份问卷"))
    for row in rows:
        row.response = response
    Answer.objects.bulk_create(rows)
    return response


@transaction.atomic
def survey_answer(*, actor, survey: Survey, household, answers: dict, visit=None) -> SurveyResponse:
    """A cadre fills the survey with a household (during a visit); one per household."""
    require(actor, "visits.record")
    survey = Survey.objects.visible_to(actor).select_for_update().filter(pk=survey.pk).first()
    if survey is None:
        raise NotFoundError()
    household = _household(actor, household)
    if visit is not None and visit.household_id != household.pk:
        raise ValidationFailed(_("走访记录不是该户的"))
    response = _store_response(
        survey=survey,
        household=household,
        answers=answers,
        channel=SurveyResponse.Channel.VISIT,
        actor=actor,
        visit=visit,
    )
    audit_record(actor=actor, action="visits.survey.answer", obj=survey, area=household.grid_id)
    return response


@transaction.atomic
def survey_answer_public(
    *, token: str, household_number: str, phone_tail: str, answers: dict
) -> SurveyResponse:
    """A resident answers through the public link, naming their household by its number and
    the last four digits of its phone; a wrong pair gets one answer for both mistakes."""
    survey = Survey.objects.select_for_update().filter(public_token=token or "-").first()
    if survey is None:
        raise NotFoundError(_("问卷不存在"))
    number = (household_number or "").strip()
    tail = (phone_tail or "").strip()
    household = (
        Household.objects.select_related("grid").filter(number=number).first()
        if number and len(tail) == 4 and tail.isdigit()
        else None
    )
    if household is None or not household.phone or not household.phone.endswith(tail):
        raise ValidationFailed(_("户编号或联系电话后四位不正确"))
    response = _store_response(
        survey=survey,
        household=household,
        answers=answers,
        channel=SurveyResponse.Channel.PUBLIC,
    )
    audit_record(
        actor=None, action="visits.survey.answer_public", obj=survey, area=household.grid_id
    )
    return response


# ---------------------------------------------------------------- pairings (结对帮扶)


def pairing_cadres(household: Household):
    """Who may be paired with a household: active staff who may record visits and hold its
    grid or an area above it (the ones who can go and see it)."""
    from minqing.core.permissions import _REGISTRY

    roles = _REGISTRY["visits.record"].roles
    return possible_visitors(household).filter(role__in=roles)


def _pairing_cadre(household: Household, cadre) -> User:
    pk = cadre.pk if isinstance(cadre, User) else cadre
    found = pairing_cadres(household).filter(pk=pk).first() if pk else None
    if found is None:
        raise ValidationFailed(_("帮扶责任人必须是负责该户所在区域、可以走访的工作人员"))
    return found


def _pairing_day(value, *, label) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationFailed(_("%(field)s格式不正确") % {"field": label})
    if value > timezone.localdate():
        raise ValidationFailed(_("%(field)s不能晚于今天") % {"field": label})
    return value


PAIRING_TAKEN = _("该干部已与该户结对,无需重复登记")


@transaction.atomic
def pairing_create(*, actor, cadre, household, start_date: date):
    """结对帮扶: a cadre becomes answerable for a household from `start_date`."""
    from minqing.core.errors import conflict_on

    from .models import Pairing

    require(actor, "visits.manage_pairings")
    pk = household.pk if isinstance(household, Household) else household
    household = Household.objects.visible_to(actor).select_related("grid").filter(pk=pk).first()
    if household is None:
        raise NotFoundError(_("户不存在或不在您的管辖范围内"))
    cadre = _pairing_cadre(household, cadre)
    start_date = _pairing_day(start_date, label=_("结对日期"))
    with conflict_on({"pairing_one_open_per_cadre_household": PAIRING_TAKEN}):
        pairing = Pairing.objects.create(
            cadre=cadre, household=household, start_date=start_date, created_by=actor
        )
    audit_record(
        actor=actor,
        action="visits.pairing.create",
        obj=pairing,
        area=household.grid_id,
        detail={"cadre": cadre.username, "household": household.number, "start": str(start_date)},
    )
    return pairing


@transaction.atomic
def pairing_end(*, actor, pairing, end_date: date, reason: str = ""):
    """Ending a pairing keeps it, dated (a new one can start later)."""
    from .models import Pairing

    require(actor, "visits.manage_pairings")
    pk = pairing.pk if isinstance(pairing, Pairing) else pairing
    # Managed by area: a cadre's own pairing outside the manager's area is not theirs.
    pairing = (
        Pairing.objects.visible_by_area(actor)
        .select_for_update(of=("self",))
        .select_related("household")
        .filter(pk=pk)
        .first()
    )
    if pairing is None:
        raise NotFoundError()
    if pairing.end_date is not None:
        raise Conflict(_("该结对已于 %(d)s 结束") % {"d": pairing.end_date.isoformat()})
    end_date = _pairing_day(end_date, label=_("结束日期"))
    if end_date < pairing.start_date:
        raise ValidationFailed(_("结束日期不能早于结对日期"))
    pairing.end_date = end_date
    pairing.end_reason = _text(reason, label=_("结束原因"), max_length=200)
    pairing.save(update_fields=["end_date", "end_reason"])
    audit_record(
        actor=actor,
        action="visits.pairing.end",
        obj=pairing,
        area=pairing.household.grid_id,
        detail={"end": str(end_date)},
    )
    return pairing
