"""Changes to the area tree. Every change writes an audit event."""

from django.db import transaction
from django.utils.translation import gettext as _

from minqing.core.audit import audit_record
from minqing.core.errors import PermissionDeniedError, ValidationFailed, conflict_on
from minqing.core.permissions import require
from minqing.core.scoping import covers

from .models import CODE_DIGITS, GRID_CODE_LENGTH, Area, Level

LEVEL_WORDS = {
    Level.CITY: ("市/州", "市", "州", "地级市", "city"),
    Level.COUNTY: ("区/县", "区县", "区", "县", "县级市", "county"),
    Level.TOWNSHIP: ("乡镇/街道", "乡镇", "乡", "镇", "街道", "township"),
    Level.VILLAGE: ("村/社区", "村", "社区", "village"),
    Level.GRID: ("网格", "grid"),
}
_LEVEL_LOOKUP = {w: lvl for lvl, words in LEVEL_WORDS.items() for w in words}
_LEVEL_LOOKUP.update({str(int(lvl)): lvl for lvl in Level})


def parse_level(text: str) -> Level | None:
    return _LEVEL_LOOKUP.get(text.strip().lower()) if text else None


def significant(code: str, level: int) -> str:
    return code if level == Level.GRID else code[: CODE_DIGITS[Level(level)]]


def code_problem(*, level: int, code: str, parent: tuple[int, str] | None) -> str | None:
    """Why a code cannot stand at this level under this parent (level, code), or None."""
    if not code.isdigit():
        return _("区划代码只能是数字")
    if level == Level.GRID:
        if len(code) != GRID_CODE_LENGTH:
            return _("网格代码应为 15 位(所属村的 12 位代码 + 3 位序号)")
    else:
        digits = CODE_DIGITS[Level(level)]
        if len(code) != 12:
            return _("区划代码应为 12 位")
        if code[digits:] != "0" * (12 - digits):
            return _("%(level)s的区划代码应为前 %(n)d 位有效、其余为 0") % {
                "level": Level(level).label,
                "n": digits,
            }
    if parent is not None:
        parent_level, parent_code = parent
        if not code.startswith(significant(parent_code, parent_level)):
            return _("区划代码 %(code)s 与上级代码 %(parent)s 不相符") % {
                "code": code,
                "parent": parent_code,
            }
    return None


def may_hold(actor, parent: Area | None) -> bool:
    """Areas are created under an area in the actor's jurisdiction; roots by superusers."""
    if actor.is_superuser:
        return True
    if parent is None:
        return False
    return covers(actor, parent.path)


@transaction.atomic
def area_create(*, actor, level: int, code: str, name: str, parent: Area | None = None) -> Area:
    require(actor, "areas.manage")
    name = (name or "").strip()
    code = (code or "").strip()
    if not name:
        raise ValidationFailed(_("名称不能为空"))
    if not may_hold(actor, parent):
        raise PermissionDeniedError(_("上级区域不在您的管辖范围内"))
    expected = Level.CITY if parent is None else parent.level + 1
    if parent is not None and level != expected:
        raise ValidationFailed(
            _("层级顺序不对:%(parent)s的下级应是%(child)s")
            % {"parent": Level(parent.level).label, "child": Level(expected).label}
        )
    problem = code_problem(
        level=level, code=code, parent=(parent.level, parent.code) if parent else None
    )
    if problem:
        raise ValidationFailed(problem)
    taken = _("区划代码 %(code)s 已存在") % {"code": code}
    with conflict_on({"areas_area_code_key": taken, "areas_area_path_key": taken}):
        area = Area.objects.create(
            level=level,
            code=code,
            name=name,
            parent=parent,
            path=Area.build_path(parent.path if parent else "", code),
        )
    audit_record(actor=actor, action="area.create", obj=area, detail={"code": code})
    return area


@transaction.atomic
def area_rename(*, actor, area: Area, name: str) -> Area:
    require(actor, "areas.manage")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("名称不能为空"))
    if not may_hold(actor, area.parent):
        raise PermissionDeniedError(_("上级区域不在您的管辖范围内"))
    area = Area.objects.select_for_update().get(pk=area.pk)
    old = area.name
    area.name = name
    area.save(update_fields=["name"])
    audit_record(actor=actor, action="area.rename", obj=area, detail={"from": old, "to": name})
    return area
