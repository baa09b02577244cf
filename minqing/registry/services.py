"""Every change to the registry. Each service checks the role, then the jurisdiction (through
the scoping querysets), validates everything, and only then writes, with one audit event."""

import re
from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.areas.models import Area, Level
from minqing.core.audit import audit_bulk, audit_record, home_area_id
from minqing.core.errors import (
    Conflict,
    NotFoundError,
    PermissionDeniedError,
    StaleEdit,
    TooManyRequests,
    ValidationFailed,
    conflict_on,
)
from minqing.core.idcard import IdNumberError, normalize_id_number, parse_id_number
from minqing.core.masking import mask_id_number, mask_phone
from minqing.core.models import AuditEvent
from minqing.core.permissions import has_perm, require
from minqing.core.workflow import workflow_apply

from . import rules
from .models import (
    RESIDENT_FLOW,
    Household,
    Move,
    Organisation,
    Place,
    Relation,
    Resident,
    ResidentStatus,
    Tag,
    TagPeriod,
)
from .search_keys import id_tail, name_keys, phone_tail

TAG_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
CREDIT_CODE_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


# ---------------------------------------------------------------- helpers


def resident_fill_keys(resident: Resident) -> Resident:
    """Derive what is derived: gender and birth date from the 身份证号, and the search keys
    (繁→简 name, pinyin, initials, id and phone tails). Call before every save."""
    resident.id_number = normalize_id_number(resident.id_number)
    try:
        info = parse_id_number(resident.id_number)
    except IdNumberError as exc:
        raise ValidationFailed(exc.message, details={"field": "id_number"})
    resident.gender = info.gender
    resident.birth_date = info.birth_date
    resident.name = (resident.name or "").strip()
    resident.phone = _normalize_phone(resident.phone)
    resident.name_norm, resident.name_pinyin, resident.name_initials = name_keys(resident.name)
    resident.name_pinyin = resident.name_pinyin[:200]
    resident.name_initials = resident.name_initials[:50]
    resident.id_tail = id_tail(resident.id_number)
    resident.phone_tail = phone_tail(resident.phone)
    return resident


def _normalize_phone(value: str | None) -> str:
    """Stored form of a phone (rules.clean_phone); legacy values it refuses stay as they are."""
    try:
        return rules.clean_phone(value)
    except rules.RuleError:
        return (value or "").strip()


def _check_phone(value: str, label=None) -> str:
    """The one phone rule (registry/rules.py), the same as the importer's."""
    try:
        return rules.clean_phone(value)
    except rules.RuleError as exc:
        raise ValidationFailed(f"{label or _('手机号')}：{exc.message}") from None


def _check_text(value: str | None, *, label, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("%(field)s不能为空") % {"field": label})
    if len(value) > max_length:
        raise ValidationFailed(
            _("%(field)s不能超过 %(n)d 个字") % {"field": label, "n": max_length}
        )
    return value


def _check_date(value, *, label) -> date:
    if not isinstance(value, date):
        raise ValidationFailed(_("请填写%(field)s") % {"field": label})
    if value > timezone.localdate():
        raise ValidationFailed(_("%(field)s不能晚于今天") % {"field": label})
    return value


# The unique constraints the services let the database decide (core.errors.conflict_on).
HOUSEHOLD_NUMBER_KEY = "registry_household_number_key"
RESIDENT_ID_KEY = "resident_id_number_unique"
TAG_OPEN_KEYS = ("tagperiod_one_open_per_resident", "tagperiod_one_open_per_household")

# What a stale edit reports as changed: the keys of the audited change details.
CHANGE_LABELS = {
    "grid": gettext_lazy("网格"),
    "number": gettext_lazy("户编号"),
    "address": gettext_lazy("住址"),
    "phone": gettext_lazy("电话"),
    "notes": gettext_lazy("备注"),
    "name": gettext_lazy("姓名"),
    "id_number": gettext_lazy("身份证号"),
    "relation": gettext_lazy("与户主关系"),
    "kind": gettext_lazy("迁移(所在户或状态)"),
}
RESIDENT_VERSIONED_ACTIONS = ("registry.resident.update", "registry.resident.move")


def _id_taken_elsewhere_message(number: str) -> str:
    return _(
        "身份证号 %(id)s 已在其他辖区登记,不能在此重复登记。"
        "请联系乡镇(街道)核实,由其协调迁移或更正。"
    ) % {"id": mask_id_number(number)}


def _id_taken_message(number: str) -> str:
    return _("身份证号 %(id)s 已登记,不能重复登记") % {"id": mask_id_number(number)}


def _conflict_counter(actor, add: int) -> int:
    """Count of outside-jurisdiction ID conflicts of one user in the current window, in
    Django's cache (Redis when REDIS_URL is set, else this process's memory)."""
    key = f"registry:id-conflicts:{actor.pk}"
    window = settings.ID_CONFLICT_WINDOW_SECONDS
    if add <= 0:
        return cache.get(key, 0)
    cache.add(key, 0, window)
    try:
        return cache.incr(key, add)
    except ValueError:  # expired between add and incr
        cache.set(key, add, window)
        return add


def _too_many_conflicts(actor) -> TooManyRequests:
    return TooManyRequests(
        _("登记的身份证号与其他辖区的记录冲突次数过多,请 %(m)d 分钟后再试,或联系乡镇(街道)核实。")
        % {"m": max(settings.ID_CONFLICT_WINDOW_SECONDS // 60, 1)}
    )


def id_conflict_gate(*, actor, count: int = 1) -> None:
    """A user past the limit of ID conflicts may not enter any 身份证号 until the window
    ends, registered or not: otherwise "refused" vs "saved" would still answer the probe."""
    if _conflict_counter(actor, 0) >= settings.ID_CONFLICT_LIMIT:
        audit_record(
            actor=actor,
            action="registry.resident.id_conflict_refused",
            area=home_area_id(actor),
            detail={"count": count},
        )
        raise _too_many_conflicts(actor)


def id_conflicts_outside(*, actor, numbers: Iterable[str]) -> set[str]:
    """Of these 身份证号, the ones registered outside the actor's jurisdiction.

    No "is this ID registered anywhere" oracle: each such conflict is an audit event
    (the actor, the masked number, the area of the other record, hung on that area so its
    supervisors see who asked), and one user gets at most ID_CONFLICT_LIMIT of them per
    window; past that every further check answers 429 without looking. The service path
    (resident create/update) and the importer's duplicate check both call this, outside
    the transaction of the refused write, so the events are kept when it rolls back.
    """
    numbers = [n for n in dict.fromkeys(numbers) if n]
    id_conflict_gate(actor=actor, count=len(numbers))
    if not numbers:
        return set()
    taken = {
        number: (pk, grid_id, code)
        for number, pk, grid_id, code in Resident.objects.filter(id_number__in=numbers).values_list(
            "id_number", "pk", "household__grid_id", "household__grid__code"
        )
    }
    if not taken:
        return set()
    visible = set(
        Resident.objects.visible_to(actor)
        .filter(pk__in=[v[0] for v in taken.values()])
        .values_list("id_number", flat=True)
    )
    outside = {n: v for n, v in taken.items() if n not in visible}
    if not outside:
        return set()
    mine = home_area_id(actor)
    audit_bulk(
        actor=actor,
        action="registry.resident.id_conflict",
        rows=[
            (
                None,
                {
                    "id_number": mask_id_number(number),
                    "resident": pk,
                    "other_area": code,
                    "actor_area": mine,
                },
                grid_id,
            )
            for number, (pk, grid_id, code) in outside.items()
        ],
    )
    if _conflict_counter(actor, len(outside)) > settings.ID_CONFLICT_LIMIT:
        raise _too_many_conflicts(actor)
    return set(outside)


def _id_number_precheck(*, actor, id_number: str | None, exclude_pk=None) -> None:
    """Before the write's transaction: a number registered outside the jurisdiction is
    refused here, with its audit event and the rate limit (see id_conflicts_outside)."""
    require(actor, "registry.edit")
    number = normalize_id_number(rules.clean_text(id_number or ""))  # full-width digits too
    if not number:
        return
    id_conflict_gate(actor=actor)
    if not Resident.objects.filter(id_number=number).exclude(pk=exclude_pk).exists():
        return
    if id_conflicts_outside(actor=actor, numbers=[number]):
        raise Conflict(_id_taken_elsewhere_message(number), code="id_taken_elsewhere")


def _check_id_number(value: str, *, exclude_pk=None, actor=None) -> str:
    if not rules.clean_text(value):
        raise ValidationFailed(_("身份证号不能为空"))
    try:
        number = rules.clean_id_number(value)[0]  # the importer's rule (rules.py)
    except rules.RuleError as exc:
        raise ValidationFailed(exc.message, details={"field": "id_number"}) from None
    where = (
        Resident.objects.visible_to(actor)
        .filter(id_number=number)
        .exclude(pk=exclude_pk)
        .select_related("household")
        .first()
    )
    if where is not None:
        raise Conflict(
            _("身份证号 %(id)s 已登记在户 %(number)s（%(name)s），不能重复登记")
            % {
                "id": mask_id_number(number),
                "number": where.household.number,
                "name": where.name,
            }
        )
    # Registered outside the jurisdiction: refused by _id_number_precheck before the
    # transaction, or (a race) by the unique constraint at save.
    return number


def _check_version(obj, version: int | None, *, actions: tuple[str, ...]) -> None:
    """Optimistic locking: an edit carries the version it was made from; if the record
    has been saved since, refuse with 409 and name what changed and who changed it."""
    if version is None or version == obj.version:
        return
    events = list(
        AuditEvent.objects.filter(
            target_type=obj._meta.label_lower,
            target_id=str(obj.pk),
            action__in=actions,
            detail__version__gt=version,
        ).order_by("at", "id")
    )
    labels, who = {}, []
    for event in events:
        for field in event.detail:
            if field in CHANGE_LABELS and field not in labels:
                labels[field] = str(CHANGE_LABELS[field])
        if event.actor_label not in who:
            who.append(event.actor_label)
    changed = [{"field": f, "label": label} for f, label in labels.items()]
    names = "、".join(labels.values()) or _("内容")
    raise StaleEdit(
        _("保存未成功:您打开后,%(who)s 修改了%(fields)s。请核对当前内容后再保存。")
        % {"who": "、".join(who) or _("他人"), "fields": names},
        details={"version": obj.version, "changed": changed},
    )


def _visible_grid(actor, grid) -> Area:
    """The grid must be one the actor holds: looked up through the scoping queryset."""
    if grid is None:
        raise ValidationFailed(_("请选择网格"))
    pk = grid.pk if isinstance(grid, Area) else grid
    area = Area.objects.visible_to(actor).filter(pk=pk).first()
    if area is None:
        raise NotFoundError(_("网格不存在或不在您的管辖范围内"))
    if area.level != Level.GRID:
        raise ValidationFailed(
            _("%(name)s不是网格：户、场所和组织要登记在网格下") % {"name": area.name}
        )
    return area


def _locked_household(actor, household: Household) -> Household:
    if not Household.objects.visible_to(actor).filter(pk=household.pk).exists():
        raise NotFoundError()
    return Household.objects.select_for_update().get(pk=household.pk)


def _locked_resident(actor, resident: Resident) -> Resident:
    if not Resident.objects.visible_to(actor).filter(pk=resident.pk).exists():
        raise NotFoundError()
    return Resident.objects.select_for_update().select_related("household").get(pk=resident.pk)


def _living_head(household: Household, *, exclude_pk=None) -> Resident | None:
    return (
        Resident.objects.filter(
            household=household, relation=Relation.HEAD, status=ResidentStatus.LIVING
        )
        .exclude(pk=exclude_pk)
        .first()
    )


def _check_relation(relation: str, id_number: str = "") -> str:
    if relation in Relation.values:
        return relation
    try:
        found = rules.clean_relation(relation)  # 儿子, 妻子…: the importer's words
    except rules.RuleError as exc:
        raise ValidationFailed(exc.message) from None
    if id_number:  # a word that says a gender says the one the 身份证号 says, as on import
        word = rules.clean_text(relation).replace(" ", "")
        problem = rules.relation_gender_problem(word, parse_id_number(id_number).gender)
        if problem:
            raise ValidationFailed(problem)
    return found


_AGE_RELATIONS = (Relation.CHILD, Relation.GRANDCHILD, Relation.PARENT, Relation.GRANDPARENT)


def _relation_age_problem(household, relation: str, id_number: str, *, exclude_pk=None) -> str:
    """'' or the importer's message (rules.relation_age_problem): a child or grandchild is
    younger than the household's living 户主, a parent or grandparent older."""
    if relation not in _AGE_RELATIONS:
        return ""
    head = _living_head(household, exclude_pk=exclude_pk)
    if head is None:
        return ""
    word = str(Relation(relation).label)
    birth = parse_id_number(id_number).birth_date
    return rules.relation_age_problem(relation, word, birth, head.birth_date)


def _check_relation_age(household, relation: str, id_number: str, *, exclude_pk=None) -> None:
    """Every path that sets a relation (create, update, a move into a household) refuses
    one the ages contradict, as the importer does; nothing is written."""
    problem = _relation_age_problem(household, relation, id_number, exclude_pk=exclude_pk)
    if problem:
        raise ValidationFailed(problem)


def _next_household_number(grid: Area, *, thorough: bool = False) -> str:
    """Grid code + 4-digit sequence, the shape cadres' ledgers use: one after the highest
    such number among the grid's households (household_grid_idx), not a read of every
    number. Two creates may pick the same one: household_create retries on the unique
    constraint, then `thorough`, also counting households since moved to another grid."""
    qs = Household.objects.all() if thorough else Household.objects.filter(grid=grid)
    last = (
        qs.filter(number__regex=rf"^{grid.code}[0-9]{{4,}}$")
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    seq = int(last[len(grid.code) :]) + 1 if last else 1
    return f"{grid.code}{seq:04d}"


NUMBER_ATTEMPTS = 5


# ---------------------------------------------------------------- households


@transaction.atomic
def household_create(
    *,
    actor,
    grid,
    address: str,
    number: str = "",
    phone: str = "",
    notes: str = "",
) -> Household:
    """A new household in a grid the actor holds; the number is generated when left blank."""
    require(actor, "registry.edit")
    grid = _visible_grid(actor, grid)
    address = _check_text(address, label=_("住址"), max_length=200)
    number = _check_text(number, label=_("户编号"), max_length=32, required=False)
    phone = _check_phone(phone, _("联系电话"))
    notes = (notes or "").strip()
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        chosen = number or _next_household_number(grid, thorough=attempt > 1)
        try:
            with conflict_on({HOUSEHOLD_NUMBER_KEY: _("户编号 %(n)s 已存在") % {"n": chosen}}):
                household = Household.objects.create(
                    grid=grid, number=chosen, address=address, phone=phone, notes=notes
                )
        except Conflict:
            # A number given by the user is theirs to change; a generated one was taken
            # by a concurrent create: take the next one.
            if number or attempt == NUMBER_ATTEMPTS:
                raise
        else:
            break
    audit_record(
        actor=actor,
        action="registry.household.create",
        obj=household,
        detail={"number": household.number, "grid": grid.code},
    )
    return household


@transaction.atomic
def household_update(
    *,
    actor,
    household: Household,
    grid=None,
    number: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    notes: str | None = None,
    version: int | None = None,
) -> Household:
    """Change what is given (None leaves a field as it is). Moving the household to another
    grid needs both grids in the actor's jurisdiction; its tag history moves with it.
    `version` is the one the edit was made from: a stale one is refused (StaleEdit)."""
    require(actor, "registry.edit")
    household = _locked_household(actor, household)
    _check_version(household, version, actions=("registry.household.update",))
    changes = {}
    new = {}
    if grid is not None:
        grid = _visible_grid(actor, grid)
        if grid.pk != household.grid_id:
            new["grid"] = grid
            changes["grid"] = [household.grid.code, grid.code]
    if number is not None:
        number = _check_text(number, label=_("户编号"), max_length=32)
        if number != household.number:
            new["number"] = number
            changes["number"] = [household.number, number]
    if address is not None:
        address = _check_text(address, label=_("住址"), max_length=200)
        if address != household.address:
            new["address"] = address
            changes["address"] = [household.address, address]
    if phone is not None:
        phone = _check_phone(phone, _("联系电话"))
        if phone != household.phone:
            new["phone"] = phone
            changes["phone"] = [mask_phone(household.phone), mask_phone(phone)]
    if notes is not None:
        notes = notes.strip()
        if notes != household.notes:
            new["notes"] = notes
            changes["notes"] = True
    if not new:
        return household
    for field, value in new.items():
        setattr(household, field, value)
    household.version += 1
    changes["version"] = household.version
    with conflict_on({HOUSEHOLD_NUMBER_KEY: _("户编号 %(n)s 已存在") % {"n": household.number}}):
        household.save(update_fields=[*new.keys(), "version", "updated_at"])
    audit_record(actor=actor, action="registry.household.update", obj=household, detail=changes)
    return household


@transaction.atomic
def household_reveal_phone(*, actor, household: Household, reason: str) -> str:
    """The full household phone, for roles that need it; every reveal is audited."""
    require(actor, "registry.reveal_id")
    reason = _check_reveal_reason(reason)
    if not Household.objects.visible_to(actor).filter(pk=household.pk).exists():
        raise NotFoundError()
    household = Household.objects.get(pk=household.pk)
    audit_record(
        actor=actor,
        action="registry.household.reveal_phone",
        obj=household,
        detail={"reason": reason},
    )
    return household.phone


# ---------------------------------------------------------------- residents


def resident_create(
    *,
    actor,
    household: Household,
    name: str,
    id_number: str,
    relation: str = Relation.OTHER,
    phone: str = "",
    moved_in_on: date | None = None,
    reason: str = "",
) -> Resident:
    """Register a person in a household. With `moved_in_on` it is a 迁入 from outside and a
    Move row keeps the date and reason. At most one living head per household.
    Not atomic itself: the ID check outside the jurisdiction runs first, so its audit
    event outlives the refusal; the write is one transaction (_resident_create)."""
    _id_number_precheck(actor=actor, id_number=id_number)
    return _resident_create(
        actor=actor,
        household=household,
        name=name,
        id_number=id_number,
        relation=relation,
        phone=phone,
        moved_in_on=moved_in_on,
        reason=reason,
    )


@transaction.atomic
def _resident_create(
    *, actor, household, name, id_number, relation, phone, moved_in_on, reason
) -> Resident:
    require(actor, "registry.edit")
    household = _locked_household(actor, household)
    name = rules.as_validation(rules.clean_name, name)
    typed_relation, relation = relation, _check_relation(relation)
    phone = _check_phone(phone)
    reason = _check_text(reason, label=_("原因"), max_length=200, required=False)
    if moved_in_on is not None:
        _check_date(moved_in_on, label=_("迁入日期"))
    number = _check_id_number(id_number, actor=actor)
    _check_relation(typed_relation, number)
    if relation == Relation.HEAD and _living_head(household):
        raise Conflict(_("该户已有户主，请先修改原户主的关系"))
    _check_relation_age(household, relation, number)
    resident = resident_fill_keys(
        Resident(
            household=household,
            name=name,
            id_number=number,
            relation=relation,
            phone=phone,
            status=ResidentStatus.LIVING,
            status_date=moved_in_on,
        )
    )
    with conflict_on({RESIDENT_ID_KEY: _id_taken_message(number)}):
        resident.save()
    if relation == Relation.HEAD:
        household.head = resident
        household.save(update_fields=["head", "updated_at"])
    detail = {"household": household.number, "relation": relation}
    if moved_in_on is not None:
        Move.objects.create(
            resident=resident,
            kind=Move.Kind.MOVE_IN,
            to_household=household,
            date=moved_in_on,
            reason=reason,
            actor=actor,
        )
        detail["moved_in_on"] = moved_in_on.isoformat()
    audit_record(
        actor=actor,
        action="registry.resident.create",
        obj=resident,
        area=household.grid_id,
        detail=detail,
    )
    return resident


def resident_update(
    *,
    actor,
    resident: Resident,
    name: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    relation: str | None = None,
    version: int | None = None,
) -> Resident:
    """Correct a person's record; gender, birth date and search keys follow the new values.
    `version` is the one the edit was made from: a stale one is refused (StaleEdit). The
    ID check outside the jurisdiction runs before the transaction, as in resident_create."""
    if id_number is not None:
        _id_number_precheck(actor=actor, id_number=id_number, exclude_pk=resident.pk)
    return _resident_update(
        actor=actor,
        resident=resident,
        name=name,
        id_number=id_number,
        phone=phone,
        relation=relation,
        version=version,
    )


@transaction.atomic
def _resident_update(*, actor, resident, name, id_number, phone, relation, version) -> Resident:
    require(actor, "registry.edit")
    resident = _locked_resident(actor, resident)
    _check_version(resident, version, actions=RESIDENT_VERSIONED_ACTIONS)
    household = Household.objects.select_for_update().get(pk=resident.household_id)
    changes = {}
    if name is not None:
        name = rules.as_validation(rules.clean_name, name)
        if name != resident.name:
            changes["name"] = [resident.name, name]
            resident.name = name
    if id_number is not None:
        number = normalize_id_number(rules.clean_text(id_number))
        if number != resident.id_number:
            number = _check_id_number(number, exclude_pk=resident.pk, actor=actor)
            changes["id_number"] = [mask_id_number(resident.id_number), mask_id_number(number)]
            resident.id_number = number
    if phone is not None:
        phone = _check_phone(phone)
        if phone != resident.phone:
            changes["phone"] = [mask_phone(resident.phone), mask_phone(phone)]
            resident.phone = phone
    head_change = None
    if relation is not None:
        relation = _check_relation(relation, resident.id_number)
        if relation != resident.relation:
            if (
                relation == Relation.HEAD
                and resident.status == ResidentStatus.LIVING
                and _living_head(household, exclude_pk=resident.pk)
            ):
                raise Conflict(_("该户已有户主，请先修改原户主的关系"))
            _check_relation_age(household, relation, resident.id_number, exclude_pk=resident.pk)
            changes["relation"] = [resident.relation, relation]
            if relation == Relation.HEAD and resident.status == ResidentStatus.LIVING:
                head_change = resident
            elif household.head_id == resident.pk:
                head_change = False
            resident.relation = relation
    if "id_number" in changes and "relation" not in changes:
        # a corrected 身份证号 is a new birth date: the relation must still fit it
        _check_relation_age(
            household, resident.relation, resident.id_number, exclude_pk=resident.pk
        )
    if not changes:
        return resident
    resident_fill_keys(resident)
    resident.version += 1
    changes["version"] = resident.version
    with conflict_on({RESIDENT_ID_KEY: _id_taken_message(resident.id_number)}):
        resident.save()
    if head_change is not None:
        household.head = head_change or None
        household.save(update_fields=["head", "updated_at"])
    audit_record(
        actor=actor,
        action="registry.resident.update",
        obj=resident,
        area=household.grid_id,
        detail=changes,
    )
    return resident


def _close_personal_tags(*, actor, resident, day: date, reason: str) -> list[str]:
    """End the open personal tags of someone who leaves (迁出, 死亡); returns tag codes."""
    periods = list(
        TagPeriod.objects.select_for_update()
        .filter(resident=resident, end_date__isnull=True)
        .select_related("tag")
    )
    for period in periods:
        if period.start_date > day:
            raise ValidationFailed(
                _("日期早于“%(tag)s”的认定日期 %(d)s")
                % {"tag": period.tag.name, "d": period.start_date.isoformat()}
            )
    for period in periods:
        period.end_date = day
        period.end_reason = reason
        period.ended_by = actor
        period.save(update_fields=["end_date", "end_reason", "ended_by"])
    return [p.tag.code for p in periods]


def _carry_personal_tags(*, actor, resident, to_household, day: date, reason: str) -> list[str]:
    """A transfer ends each open personal tag in the old household and opens it again in the
    new one on the same day: the history stays true for both households."""
    periods = list(
        TagPeriod.objects.select_for_update()
        .filter(resident=resident, end_date__isnull=True)
        .select_related("tag")
    )
    for period in periods:
        if period.start_date > day:
            raise ValidationFailed(
                _("日期早于“%(tag)s”的认定日期 %(d)s")
                % {"tag": period.tag.name, "d": period.start_date.isoformat()}
            )
    for period in periods:
        period.end_date = day
        period.end_reason = reason
        period.ended_by = actor
        period.save(update_fields=["end_date", "end_reason", "ended_by"])
    TagPeriod.objects.bulk_create(
        [
            TagPeriod(
                tag=p.tag,
                household=to_household,
                resident=resident,
                start_date=day,
                start_reason=p.start_reason,
                started_by=actor,
            )
            for p in periods
        ]
    )
    return [p.tag.code for p in periods]


@transaction.atomic
def resident_move(
    *,
    actor,
    resident: Resident,
    kind: str,
    date: date,
    reason: str = "",
    to_household: Household | None = None,
    relation: str | None = None,
) -> Move:
    """迁入 / 迁出 / 户间迁移 / 死亡. The resident row stays (with its status and date) and a
    Move row records from where to where, when, why and by whom: the history is kept."""
    require(actor, "registry.edit")
    resident = _locked_resident(actor, resident)
    if kind not in Move.Kind.values:
        raise ValidationFailed(_("迁移类型“%(k)s”无效") % {"k": kind})
    day = _check_date(date, label=_("日期"))
    reason = _check_text(reason, label=_("原因"), max_length=200, required=False)
    if relation is not None:
        relation = _check_relation(relation, resident.id_number)
    last = _last_standing_move(resident)
    if last is not None and day < last.date:
        raise ValidationFailed(
            _("日期不能早于此人上一次迁移的日期 %(d)s") % {"d": last.date.isoformat()}
        )
    source = Household.objects.select_for_update().get(pk=resident.household_id)
    target = None
    if kind in (Move.Kind.TRANSFER, Move.Kind.MOVE_IN):
        target = to_household if to_household is not None else source
        target = _locked_household(actor, target)
    detail = {"kind": kind, "date": day.isoformat(), "from": source.number}

    if kind == Move.Kind.TRANSFER:
        if resident.status != ResidentStatus.LIVING:
            raise ValidationFailed(_("只有在住居民可以户间迁移"))
        if to_household is None:
            raise ValidationFailed(_("请指定迁入的户"))
        if target.pk == source.pk:
            raise ValidationFailed(_("迁入的户与原户相同"))
        relation = relation or Relation.OTHER
        if relation == Relation.HEAD and _living_head(target):
            raise Conflict(_("迁入的户已有户主"))
        _check_relation_age(target, relation, resident.id_number, exclude_pk=resident.pk)
        detail["tags"] = _carry_personal_tags(
            actor=actor, resident=resident, to_household=target, day=day, reason=_("户间迁移")
        )
        move = Move(kind=kind, from_household=source, to_household=target)
    elif kind == Move.Kind.MOVE_IN:
        if resident.status != ResidentStatus.MOVED_OUT:
            raise ValidationFailed(_("只有已迁出的居民可以重新迁入"))
        relation = relation or (resident.relation if target.pk == source.pk else Relation.OTHER)
        if relation == Relation.HEAD and _living_head(target):
            raise Conflict(_("迁入的户已有户主"))
        # the relation kept from before is checked too: the household may have a new 户主
        _check_relation_age(target, relation, resident.id_number, exclude_pk=resident.pk)
        move = Move(kind=kind, from_household=None, to_household=target)
    else:  # out, death
        if kind == Move.Kind.MOVE_OUT and resident.status != ResidentStatus.LIVING:
            raise ValidationFailed(_("只有在住居民可以迁出"))
        if kind == Move.Kind.DEATH and resident.status == ResidentStatus.DECEASED:
            raise ValidationFailed(_("此人已登记为已故"))
        label = _("迁出") if kind == Move.Kind.MOVE_OUT else _("死亡")
        detail["tags"] = _close_personal_tags(actor=actor, resident=resident, day=day, reason=label)
        move = Move(kind=kind, from_household=source, to_household=None)

    # Every check is done: write.
    move.previous_relation = resident.relation
    move.previous_status_date = resident.status_date
    if source.head_id == resident.pk and (target is None or target.pk != source.pk):
        source.head = None
        source.save(update_fields=["head", "updated_at"])
    if target is not None:
        resident.household = target
        resident.relation = relation
        detail["to"] = target.number
        if relation == Relation.HEAD:
            target.head = resident
            target.save(update_fields=["head", "updated_at"])
    move.resident = resident
    move.date = day
    move.reason = reason
    move.actor = actor
    move.save()
    # The status is the workflow's (core.workflow, RESIDENT_FLOW): its event is the truth,
    # resident.status the cache written with it.
    workflow_apply(
        workflow=RESIDENT_FLOW,
        case=resident,
        actor=actor,
        action=kind,
        comment=reason,
        audit=False,  # the registry.resident.move row below says more
        move=move,
    )
    resident.status_date = day
    resident.version += 1
    detail["version"] = resident.version
    resident.save(
        update_fields=["household", "relation", "status", "status_date", "version", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="registry.resident.move",
        obj=resident,
        area=(target or source).grid_id,
        detail=detail,
    )
    return move


def _last_standing_move(resident: Resident) -> Move | None:
    """The resident's latest move that still stands (corrections and what they undid aside)."""
    return (
        resident.moves.exclude(kind=Move.Kind.CORRECTION)
        .filter(correction__isnull=True)
        .order_by("-date", "-id")
        .first()
    )


def move_correctable_by(actor, move: Move, *, corrected: bool | None = None) -> bool:
    """Who may correct a move: its author on the day it was registered, the township (and
    administrators) at any later time. Pages ask this to show the 更正 button (passing
    `corrected` when they know it, to save a query per row)."""
    if corrected is None:
        corrected = Move.objects.filter(corrects=move).exists()
    if move.kind not in Move.CORRECTABLE or corrected:
        return False
    if has_perm(actor, "registry.correct_move"):
        return True
    same_day = timezone.localdate(move.created_at) == timezone.localdate()
    return same_day and move.actor_id == actor.pk and has_perm(actor, "registry.edit")


def _in_every_language(text: str) -> list[str]:
    """A label as it was stored in whichever language its author used (迁出, 遷出, Move out)."""
    from django.conf import settings
    from django.utils import translation

    labels = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            labels.add(_(text))
    return sorted(labels)


def _reopen_closed_tags(*, resident, household, day: date, reason: str, by) -> list[str]:
    """Open again the personal tags a wrong move closed on `day` (the same rows: the move
    never happened, so neither did the end)."""
    periods = list(
        TagPeriod.objects.select_for_update()
        .filter(
            resident=resident,
            household=household,
            end_date=day,
            ended_by=by,
            end_reason__in=_in_every_language(reason),
        )
        .select_related("tag")
    )
    codes = []
    for period in periods:
        if TagPeriod.objects.filter(
            tag=period.tag, resident=resident, end_date__isnull=True
        ).exists():
            continue  # given again since: keep that one
        period.end_date = None
        period.end_reason = ""
        period.ended_by = None
        period.save(update_fields=["end_date", "end_reason", "ended_by"])
        codes.append(period.tag.code)
    return codes


@transaction.atomic
def resident_move_correct(*, actor, move: Move, reason: str) -> Move:
    """更正: undo a 户间迁移, 迁出 or 死亡 registered by mistake. The wrong move stays and a
    dated correction row points to it, with the reason; the resident is put back where the
    move found them (household, relation, status, personal tags)."""
    require(actor, "registry.edit")
    reason = _check_text(reason, label=_("更正原因"), max_length=200)
    move = Move.objects.select_related("resident").filter(pk=move.pk).first()
    if move is None:
        raise NotFoundError()
    resident = _locked_resident(actor, move.resident)
    move = Move.objects.select_for_update().get(pk=move.pk)
    if move.kind not in Move.CORRECTABLE:
        raise ValidationFailed(_("只有户间迁移、迁出和死亡登记可以更正"))
    if Move.objects.filter(corrects=move).exists():
        raise Conflict(_("这条登记已经更正过"))
    if not move_correctable_by(actor, move):
        raise PermissionDeniedError(_("登记当天只有经办人本人可以更正；之后请联系乡镇干部更正"))
    last = _last_standing_move(resident)
    if last is None or last.pk != move.pk:
        raise Conflict(_("此人之后还有迁移登记，请先更正最近的一条"))
    source = _locked_household(actor, move.from_household)
    detail = {"kind": move.kind, "move": move.pk, "date": move.date.isoformat(), "reason": reason}
    if move.kind == Move.Kind.TRANSFER:
        target = Household.objects.select_for_update().get(pk=move.to_household_id)
        if resident.household_id != target.pk or resident.status != ResidentStatus.LIVING:
            raise Conflict(_("此人已不在迁入的户中，无法更正"))
        relation = move.previous_relation or Relation.OTHER
        if relation == Relation.HEAD and _living_head(source, exclude_pk=resident.pk):
            relation = Relation.OTHER  # the old household has a new head since
        if _relation_age_problem(source, relation, resident.id_number, exclude_pk=resident.pk):
            relation = Relation.OTHER  # nor does it fit the new head's age
        if TagPeriod.objects.filter(
            resident=resident, household=target, end_date__isnull=True, start_date__gt=move.date
        ).exists():
            raise Conflict(_("此人迁入后又认定了重点人群，请先退出该标签再更正"))
        # The tags the move opened in the new household end the day they began (they never
        # applied there); the ones it ended in the old household are open again.
        opened = TagPeriod.objects.select_for_update().filter(
            resident=resident, household=target, start_date=move.date, end_date__isnull=True
        )
        for period in opened:
            period.end_date = move.date
            period.end_reason = _("更正：迁移登记有误")
            period.ended_by = actor
            period.save(update_fields=["end_date", "end_reason", "ended_by"])
        detail["tags"] = _reopen_closed_tags(
            resident=resident, household=source, day=move.date, reason="户间迁移", by=move.actor
        )
        if target.head_id == resident.pk:
            target.head = None
            target.save(update_fields=["head", "updated_at"])
        resident.household = source
        resident.relation = relation
        correction = Move(kind=Move.Kind.CORRECTION, from_household=target, to_household=source)
    else:
        expected = (
            ResidentStatus.MOVED_OUT if move.kind == Move.Kind.MOVE_OUT else ResidentStatus.DECEASED
        )
        if resident.status != expected or resident.household_id != source.pk:
            raise Conflict(_("此人的状态已变化，无法更正"))
        label = "迁出" if move.kind == Move.Kind.MOVE_OUT else "死亡"
        detail["tags"] = _reopen_closed_tags(
            resident=resident, household=source, day=move.date, reason=label, by=move.actor
        )
        relation = move.previous_relation or resident.relation
        if relation == Relation.HEAD and _living_head(source, exclude_pk=resident.pk):
            relation = Relation.OTHER
        if _relation_age_problem(source, relation, resident.id_number, exclude_pk=resident.pk):
            relation = Relation.OTHER
        resident.relation = relation
        correction = Move(kind=Move.Kind.CORRECTION, from_household=None, to_household=source)
    if relation == Relation.HEAD and source.head_id is None:
        source.head = resident
        source.save(update_fields=["head", "updated_at"])
    correction.resident = resident
    correction.corrects = move
    correction.date = timezone.localdate()
    correction.reason = reason
    correction.actor = actor
    correction.save()
    workflow_apply(
        workflow=RESIDENT_FLOW,
        case=resident,
        actor=actor,
        action=Move.Kind.CORRECTION,
        comment=reason,
        audit=False,
        move=correction,
    )
    resident.status_date = move.previous_status_date
    resident.save(update_fields=["household", "relation", "status", "status_date", "updated_at"])
    audit_record(
        actor=actor,
        action="registry.resident.move_correct",
        obj=resident,
        area=source.grid_id,
        detail=detail,
    )
    return correction


def _check_reveal_reason(reason) -> str:
    """Every reveal says why, in a line: the audit log shows it beside the event."""
    return _check_text(reason, label=_("查看原因"), max_length=100)


def _resident_reveal(*, actor, resident: Resident, field: str, reason: str) -> str:
    """A full personal number for roles that need it; every reveal is an audit event."""
    require(actor, "registry.reveal_id")
    reason = _check_reveal_reason(reason)
    resident = (
        Resident.objects.visible_to(actor)
        .select_related("household")
        .filter(pk=resident.pk)
        .first()
    )
    if resident is None:
        raise NotFoundError()
    audit_record(
        actor=actor,
        action=f"registry.resident.reveal_{'id' if field == 'id_number' else field}",
        obj=resident,
        area=resident.household.grid_id,
        detail={"reason": reason},
    )
    return getattr(resident, field)


@transaction.atomic
def resident_reveal_id(*, actor, resident: Resident, reason: str) -> str:
    """The full 身份证号."""
    return _resident_reveal(actor=actor, resident=resident, field="id_number", reason=reason)


@transaction.atomic
def resident_reveal_phone(*, actor, resident: Resident, reason: str) -> str:
    """The full phone number; audited like the 身份证号."""
    return _resident_reveal(actor=actor, resident=resident, field="phone", reason=reason)


# ---------------------------------------------------------------- tags


def _tag_subject(actor, *, tag: Tag, household, resident):
    """(household, resident) after checking the tag's scope and the jurisdiction."""
    if tag.scope == Tag.Scope.HOUSEHOLD:
        if resident is not None:
            raise ValidationFailed(_("“%(tag)s”是户标签，应认定给户而不是个人") % {"tag": tag.name})
        if household is None:
            raise ValidationFailed(_("请指定户"))
        return _locked_household(actor, household), None
    if resident is None:
        raise ValidationFailed(_("“%(tag)s”是个人标签，请选择一位居民") % {"tag": tag.name})
    resident = _locked_resident(actor, resident)
    if household is not None and household.pk != resident.household_id:
        raise ValidationFailed(_("此居民不属于该户"))
    return resident.household, resident


def _subject_periods(tag, household, resident):
    qs = TagPeriod.objects.filter(tag=tag)
    if resident is not None:
        return qs.filter(resident=resident)
    return qs.filter(household=household, resident__isnull=True)


@transaction.atomic
def tag_give(
    *,
    actor,
    tag: Tag,
    start_date: date,
    reason: str,
    household: Household | None = None,
    resident: Resident | None = None,
) -> TagPeriod:
    """认定: open a dated period. One open period per tag and subject; periods never overlap,
    so "who carried T on D" has one answer."""
    require(actor, "registry.tag")
    household, resident = _tag_subject(actor, tag=tag, household=household, resident=resident)
    day = _check_date(start_date, label=_("认定日期"))
    reason = _check_text(reason, label=_("认定原因"), max_length=200)
    if resident is not None and resident.status != ResidentStatus.LIVING:
        raise ValidationFailed(_("只能为在住居民认定标签"))
    periods = _subject_periods(tag, household, resident)
    if periods.filter(end_date__isnull=False, end_date__gt=day).exists():
        raise Conflict(
            _("认定日期与“%(tag)s”以前的记录重叠，请选在上次退出之后") % {"tag": tag.name}
        )
    # One open period per tag and subject: the partial unique constraints decide.
    already = _("已经是“%(tag)s”,无需重复认定") % {"tag": tag.name}
    with conflict_on(dict.fromkeys(TAG_OPEN_KEYS, already)):
        period = TagPeriod.objects.create(
            tag=tag,
            household=household,
            resident=resident,
            start_date=day,
            start_reason=reason,
            started_by=actor,
        )
    audit_record(
        actor=actor,
        action="registry.tag.give",
        obj=resident or household,
        area=household.grid_id,
        detail={"tag": tag.code, "date": day.isoformat(), "reason": reason},
    )
    return period


@transaction.atomic
def tag_remove(
    *,
    actor,
    tag: Tag,
    end_date: date,
    reason: str,
    household: Household | None = None,
    resident: Resident | None = None,
) -> TagPeriod:
    """退出: close the open period with a date, reason and actor; the row stays as history."""
    require(actor, "registry.tag")
    household, resident = _tag_subject(actor, tag=tag, household=household, resident=resident)
    day = _check_date(end_date, label=_("退出日期"))
    reason = _check_text(reason, label=_("退出原因"), max_length=200)
    period = (
        _subject_periods(tag, household, resident)
        .select_for_update()
        .filter(end_date__isnull=True)
        .first()
    )
    if period is None:
        raise Conflict(_("当前不是“%(tag)s”，无法退出") % {"tag": tag.name})
    if day < period.start_date:
        raise ValidationFailed(
            _("退出日期不能早于认定日期 %(d)s") % {"d": period.start_date.isoformat()}
        )
    period.end_date = day
    period.end_reason = reason
    period.ended_by = actor
    period.save(update_fields=["end_date", "end_reason", "ended_by"])
    audit_record(
        actor=actor,
        action="registry.tag.remove",
        obj=resident or household,
        area=household.grid_id,
        detail={"tag": tag.code, "date": day.isoformat(), "reason": reason},
    )
    return period


@transaction.atomic
def tag_create(
    *, actor, code: str, name: str, scope: str = Tag.Scope.RESIDENT, description: str = ""
) -> Tag:
    """Administrators add key groups beyond the system ones."""
    require(actor, "registry.manage_tags")
    code = (code or "").strip().lower()
    if not TAG_CODE_RE.match(code):
        raise ValidationFailed(_("代码只能用小写英文字母、数字和下划线，以字母开头，2 到 32 位"))
    name = _check_text(name, label=_("名称"), max_length=32)
    description = _check_text(description, label=_("说明"), max_length=200, required=False)
    if scope not in Tag.Scope.values:
        raise ValidationFailed(_("标签对象只能是个人或户"))
    last = Tag.objects.order_by("-order").values_list("order", flat=True).first() or 0
    taken = _("已有同名或同代码的标签")
    with conflict_on({"registry_tag_code_key": taken, "registry_tag_name_key": taken}):
        tag = Tag.objects.create(
            code=code,
            name=name,
            scope=scope,
            description=description,
            is_system=False,
            order=min(last + 10, 32000),
        )
    audit_record(
        actor=actor,
        action="registry.tag.create",
        obj=tag,
        area=home_area_id(actor),
        detail={"code": code},
    )
    return tag


# ---------------------------------------------------------------- places, organisations


def _place_fields(actor, model, data: dict) -> dict:
    """The fields of a place or an organisation, checked by one rule for create and update."""
    fields = {
        "grid": _visible_grid(actor, data.get("grid")),
        "name": _check_text(data.get("name"), label=_("名称"), max_length=100),
        "kind": data.get("kind"),
        "address": _check_text(
            data.get("address"), label=_("地址"), max_length=200, required=False
        ),
        "contact_name": _check_text(
            data.get("contact_name"), label=_("联系人"), max_length=50, required=False
        ),
        "contact_phone": _check_phone(data.get("contact_phone") or "", _("联系电话")),
        "notes": (data.get("notes") or "").strip(),
    }
    if fields["kind"] not in model.Kind.values:
        raise ValidationFailed(_("请选择场所类型") if model is Place else _("请选择组织类型"))
    if model is Organisation:
        credit_code = (data.get("credit_code") or "").strip().upper()
        if credit_code and not CREDIT_CODE_RE.match(credit_code):
            raise ValidationFailed(_("统一社会信用代码应为 18 位数字或大写字母"))
        fields["credit_code"] = credit_code
        fields["has_party_branch"] = bool(data.get("has_party_branch"))
    return fields


def _place_update(*, actor, obj, action: str, data: dict):
    """Change a saved place or organisation: the same checks as its creation, the row locked
    and taken through the actor's jurisdiction (its grid now and the new one), each changed
    field audited as old → new."""
    require(actor, "registry.edit")
    model = type(obj)
    # of=self: the scoping join must not lock the grid's area row (it would hold up every
    # other edit in that grid and any rename of the area until this commits)
    locked = (
        model.objects.visible_to(actor).select_for_update(of=("self",)).filter(pk=obj.pk).first()
    )
    if locked is None:
        raise NotFoundError(_("记录不存在或不在您的管辖范围内"))
    given = {k: v for k, v in data.items() if v is not None}  # None: leave as it is
    fields = _place_fields(actor, model, {**_current(locked), **given})
    changed = {
        name: [_audit_value(getattr(locked, name)), _audit_value(value)]
        for name, value in fields.items()
        if getattr(locked, name) != value
    }
    if not changed:
        return locked
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save(update_fields=list(changed))
    # as for households: a phone is kept masked in the log, free-text notes only as changed
    if "contact_phone" in changed:
        changed["contact_phone"] = [mask_phone(v) for v in changed["contact_phone"]]
    if "notes" in changed:
        changed["notes"] = True
    audit_record(actor=actor, action=action, obj=locked, detail=changed)
    return locked


def _current(obj) -> dict:
    names = ["grid", "name", "kind", "address", "contact_name", "contact_phone", "notes"]
    if isinstance(obj, Organisation):
        names += ["credit_code", "has_party_branch"]
    return {name: getattr(obj, name) for name in names}


def _audit_value(value):
    return value.name if isinstance(value, Area) else value


@transaction.atomic
def place_create(
    *,
    actor,
    grid,
    name: str,
    kind: str,
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    notes: str = "",
) -> Place:
    """A place (地/物) in a grid: shop, market, rented house, danger spot..."""
    require(actor, "registry.edit")
    data = dict(grid=grid, name=name, kind=kind, address=address, notes=notes)
    data.update(contact_name=contact_name, contact_phone=contact_phone)
    place = Place.objects.create(**_place_fields(actor, Place, data))
    audit_record(actor=actor, action="registry.place.create", obj=place, detail={"kind": kind})
    return place


@transaction.atomic
def place_update(*, actor, place: Place, **data) -> Place:
    """Change a place: any of the fields place_create takes (grid inside the jurisdiction)."""
    return _place_update(actor=actor, obj=place, action="registry.place.update", data=data)


@transaction.atomic
def organisation_create(
    *,
    actor,
    grid,
    name: str,
    kind: str,
    credit_code: str = "",
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    has_party_branch: bool = False,
    notes: str = "",
) -> Organisation:
    """An organisation in a grid: enterprise, social organisation, 两新组织."""
    require(actor, "registry.edit")
    data = dict(grid=grid, name=name, kind=kind, credit_code=credit_code, address=address)
    data.update(contact_name=contact_name, contact_phone=contact_phone, notes=notes)
    data.update(has_party_branch=has_party_branch)
    org = Organisation.objects.create(**_place_fields(actor, Organisation, data))
    audit_record(actor=actor, action="registry.organisation.create", obj=org, detail={"kind": kind})
    return org


@transaction.atomic
def organisation_update(*, actor, organisation: Organisation, **data) -> Organisation:
    """Change an organisation: any of the fields organisation_create takes."""
    return _place_update(
        actor=actor, obj=organisation, action="registry.organisation.update", data=data
    )
