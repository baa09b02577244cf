"""How the audit browser speaks of the registry: action words, objects as named links (one
query per object type for a page of events), and filters by person and by household."""

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from minqing.core.audit import register_action, register_audit_filter, register_target

ACTIONS = {
    "registry.household.create": _("登记新户"),
    "registry.household.update": _("修改户信息"),
    "registry.household.reveal_phone": _("查看户联系电话"),
    "registry.resident.create": _("登记居民"),
    "registry.resident.update": _("修改居民信息"),
    "registry.resident.move": _("迁移登记"),
    "registry.resident.move_correct": _("更正迁移登记"),
    "registry.resident.reveal_id": _("查看身份证号"),
    "registry.resident.reveal_phone": _("查看手机号"),
    "registry.identity_lookup": _("按完整号码查找"),
    "registry.resident.id_conflict": _("身份证号重复（辖区外已登记）"),
    "registry.resident.id_conflict_refused": _("身份证号重复查询过多被拒"),
    "registry.tag.give": _("认定重点人群"),
    "registry.tag.remove": _("退出重点人群"),
    "registry.tag.create": _("新增重点人群标签"),
    "registry.place.create": _("登记场所"),
    "registry.organisation.create": _("登记组织"),
    "registry.place.update": _("修改场所"),
    "registry.organisation.update": _("修改组织"),
    "registry.import": _("导入台账"),
    "registry.export": _("导出台账"),
    "registry.demo": _("生成演示数据"),
}
# Move kinds in words, for the detail column of registry.resident.move events.
MOVE_KINDS = {"in": _("迁入"), "out": _("迁出"), "transfer": _("户间迁移"), "death": _("死亡")}
_TAG_NAMES: dict[str, str] = {}


def _tag_name(code: str) -> str:
    if code not in _TAG_NAMES:  # one query the first time an unknown code shows up
        from .models import Tag

        _TAG_NAMES.update(Tag.objects.values_list("code", "name"))
    return _TAG_NAMES.get(code, code)


def _reason(detail) -> str:
    return _("原因：%(r)s") % {"r": detail["reason"]} if detail.get("reason") else ""


def _move(detail) -> str:
    kind = MOVE_KINDS.get(detail.get("kind"), "")
    return f"{kind} {detail.get('date', '')}".strip()


def _correction(detail) -> str:
    kind = MOVE_KINDS.get(detail.get("kind"), "")
    return _("撤销 %(date)s 的%(kind)s；原因：%(r)s") % {
        "date": detail.get("date", ""),
        "kind": kind,
        "r": detail.get("reason", ""),
    }


def _tag(detail) -> str:
    name = _tag_name(detail.get("tag", ""))
    reason = detail.get("reason")
    return f"{name}（{reason}）" if reason else name


DESCRIBE = {
    "registry.household.reveal_phone": _reason,
    "registry.resident.reveal_id": _reason,
    "registry.resident.reveal_phone": _reason,
    "registry.resident.move": _move,
    "registry.resident.move_correct": _correction,
    "registry.tag.give": _tag,
    "registry.tag.remove": _tag,
}
for code, label in ACTIONS.items():
    register_action(code, label, describe=DESCRIBE.get(code))


def _households(user, ids):
    from .models import Household

    rows = Household.objects.visible_to(user).filter(pk__in=_ints(ids)).select_related("head")
    return {h.pk: (h.label, reverse("registry:household", args=[h.pk])) for h in rows}


def _residents(user, ids):
    from .models import Resident

    rows = (
        Resident.objects.visible_to(user)
        .filter(pk__in=_ints(ids))
        .select_related("household__head")
        .only(
            "id",
            "name",
            "household__id",
            "household__address",
            "household__number",
            "household__head__name",
            "household__head_id",
        )
    )
    return {
        r.pk: (
            f"{r.name}（{r.household.name}）",
            reverse("registry:household", args=[r.household_id]) + f"#r{r.pk}",
        )
        for r in rows
    }


def _tags(user, ids):
    from .models import Tag

    return {
        t.pk: (t.name, reverse("registry:tag", args=[t.code]))
        for t in Tag.objects.filter(pk__in=_ints(ids))
    }


def _ints(ids):
    return [int(i) for i in ids if str(i).isdigit()]


register_target("registry.household", _households)
register_target("registry.resident", _residents)
register_target("registry.tag", _tags)

LIMIT = 200  # a filter names a few people or households, not a village


def _person_filter(user, text):
    """Events about residents (in the jurisdiction) whose name, pinyin or initials match."""
    from .models import Resident
    from .selectors import resident_search

    ids = list(
        resident_search(fetched_by=user, q=text).order_by().values_list("pk", flat=True)[:LIMIT]
    )
    if not ids:
        return None
    return Q(target_type=Resident._meta.label_lower, target_id__in=[str(i) for i in ids])


def _household_filter(user, text):
    """Events about matching households (name of a member, address, number) and about the
    people who live or lived in them."""
    from .models import Household, Move, Resident
    from .selectors import household_search

    households = list(
        household_search(fetched_by=user, q=text).order_by().values_list("pk", flat=True)[:LIMIT]
    )
    if not households:
        return None
    people = set(
        Resident.objects.filter(household_id__in=households).values_list("pk", flat=True)
    ) | set(
        Move.objects.filter(
            Q(from_household_id__in=households) | Q(to_household_id__in=households)
        ).values_list("resident_id", flat=True)
    )
    cond = Q(target_type=Household._meta.label_lower, target_id__in=[str(i) for i in households])
    if people:
        cond |= Q(target_type=Resident._meta.label_lower, target_id__in=[str(i) for i in people])
    return cond


register_audit_filter(
    name="person", label=_("居民"), build=_person_filter, placeholder=_("姓名或拼音")
)
register_audit_filter(
    name="household",
    label=_("户"),
    build=_household_filter,
    placeholder=_("户主姓名、住址或户编号"),
)
