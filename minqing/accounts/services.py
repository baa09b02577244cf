"""Accounts: creating staff, giving roles and jurisdictions. Every change is audited."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from minqing.areas.services import may_hold
from minqing.core.audit import audit_record
from minqing.core.errors import (
    Conflict,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
    conflict_on,
)
from minqing.core.permissions import require
from minqing.core.plugins import unit_work
from minqing.core.roles import Role
from minqing.core.scoping import jurisdiction_paths, path_q

from .models import Jurisdiction, Unit, UnitKind, User
from .signals import scope_changed


def _check_areas(actor, areas) -> None:
    if not areas:
        raise ValidationFailed(_("至少指定一个管辖区域"))
    for area in areas:
        if not may_hold(actor, area) and not actor.is_superuser:
            raise PermissionDeniedError(_("区域 %(a)s 不在您的管辖范围内") % {"a": area.name})


def users_manageable_by(actor):
    """The accounts an administrator may change: not superusers, and every area they hold
    inside the administrator's jurisdiction (a county leader who also holds one village of
    the township is not the township administrator's to edit, or to reset the password of)."""
    if actor.is_superuser and actor.is_active:
        return User.objects.all()
    paths = jurisdiction_paths(actor)
    if not paths:
        return User.objects.none()
    inside = Jurisdiction.objects.filter(path_q(paths, "area__path")).values("user")
    outside = Jurisdiction.objects.exclude(path_q(paths, "area__path")).values("user")
    return User.objects.filter(is_superuser=False, pk__in=inside).exclude(pk__in=outside)


def _check_target(actor, user) -> None:
    if actor.is_superuser:
        return
    if not users_manageable_by(actor).filter(pk=user.pk).exists():
        raise PermissionDeniedError(_("账号 %(u)s 不在您的管辖范围内") % {"u": user.username})


@transaction.atomic
def unit_create(*, actor, name: str, kind: str, area, phone: str = "") -> Unit:
    require(actor, "accounts.manage")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("名称不能为空"))
    _check_areas(actor, [area])
    with conflict_on({"unit_unique_name_in_area": _("该区域已有同名单位")}):
        unit = Unit.objects.create(name=name, kind=kind, area=area, phone=phone)
    audit_record(actor=actor, action="unit.create", obj=unit, area=area)
    return unit


@transaction.atomic
def unit_update(
    *, actor, unit: Unit, name=None, kind=None, phone=None, is_active=None, **_ignored
) -> Unit:
    """Rename a unit, change its kind or phone, switch it off or on. Its area stays (matters
    and accounts hang on it). A unit that still has open work (an app's register_unit_work)
    is not switched off: the message says what to hand over first."""
    require(actor, "accounts.manage")
    locked = (  # of=self: not the area rows the scoping joins
        Unit.objects.visible_to(actor).select_for_update(of=("self",)).filter(pk=unit.pk).first()
    )
    if locked is None:
        raise NotFoundError(_("单位不存在或不在您的管辖范围内"))
    new = {}
    if name is not None:
        new["name"] = (name or "").strip()
        if not new["name"]:
            raise ValidationFailed(_("名称不能为空"))
    if kind is not None:
        if kind not in UnitKind.values:
            raise ValidationFailed(_("请选择单位类型"))
        new["kind"] = kind
    if phone is not None:
        new["phone"] = (phone or "").strip()[:32]
    if is_active is not None:
        new["is_active"] = bool(is_active)
    changed = {f: [getattr(locked, f), v] for f, v in new.items() if getattr(locked, f) != v}
    if not changed:
        return locked
    if changed.get("is_active") == [True, False]:
        work = unit_work(locked)
        if work:
            raise Conflict(
                _("%(unit)s还有%(work)s,请先转交再停用")
                % {"unit": locked.name, "work": "、".join(f"{what} {n} 项" for what, n in work)}
            )
    for field, (_old, value) in changed.items():
        setattr(locked, field, value)
    with conflict_on({"unit_unique_name_in_area": _("该区域已有同名单位")}):
        locked.save(update_fields=list(changed))
    audit_record(actor=actor, action="unit.update", obj=locked, area=locked.area, detail=changed)
    return locked


def staff_phone(value) -> str:
    """A staff member's phone, by the same rule as residents' (registry.rules.clean_phone)."""
    from minqing.registry.rules import RuleError, clean_phone

    try:
        return clean_phone(value)
    except RuleError as exc:
        raise ValidationFailed(str(exc)) from exc


@transaction.atomic
def user_create(
    *,
    actor,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
    unit: Unit | None = None,
    areas=(),
    phone: str = "",
    check_password: bool = True,
    must_change_password: bool = True,
) -> User:
    """A staff account: role decides actions, areas decide what they see. Its owner changes
    the password the administrator typed at the first login (must_change_password)."""
    require(actor, "accounts.manage")
    username = (username or "").strip()
    if not username:
        raise ValidationFailed(_("用户名不能为空"))
    if role not in Role.values:
        raise ValidationFailed(_("未知角色"))
    if role == Role.ADMIN and not actor.is_superuser:
        raise PermissionDeniedError(_("只有超级管理员能创建系统管理员"))
    areas = list(dict.fromkeys(areas))
    _check_areas(actor, areas)
    if unit is not None and not Unit.objects.visible_to(actor).filter(pk=unit.pk).exists():
        raise PermissionDeniedError(_("单位 %(u)s 不在您的管辖范围内") % {"u": unit.name})
    user = User(
        username=username,
        role=role,
        unit=unit,
        phone=phone,
        must_change_password=must_change_password,
    )
    if full_name:
        user.last_name, user.first_name = full_name[:1], full_name[1:]
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationFailed("；".join(exc.messages))
    user.set_password(password)
    user.is_staff = role == Role.ADMIN
    with conflict_on({"accounts_user_username_key": _("用户名 %(u)s 已被使用") % {"u": username}}):
        user.save()
    Jurisdiction.objects.bulk_create([Jurisdiction(user=user, area=a) for a in areas])
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        area=areas[0],
        detail={"role": role, "areas": [a.code for a in areas]},
    )
    return user


@transaction.atomic
def user_set_jurisdiction(*, actor, user: User, areas) -> User:
    """Both the user and every granted area must lie inside the actor's jurisdiction."""
    require(actor, "accounts.manage")
    _check_target(actor, user)
    areas = list(dict.fromkeys(areas))
    _check_areas(actor, areas)
    user = User.objects.select_for_update().get(pk=user.pk)  # one change at a time
    old = sorted(user.jurisdictions.values_list("area__code", flat=True))
    Jurisdiction.objects.filter(user=user).delete()
    with conflict_on({"jurisdiction_unique": _("该用户的管辖区域刚被他人修改,请刷新后重试")}):
        Jurisdiction.objects.bulk_create([Jurisdiction(user=user, area=a) for a in areas])
    scope_changed(user.pk)  # bulk_create sends no post_save
    user._jurisdiction_paths = None
    audit_record(
        actor=actor,
        action="user.jurisdiction",
        obj=user,
        area=areas[0],  # the supervisors of the granted area see the change
        detail={"from": old, "to": sorted(a.code for a in areas)},
    )
    return user


@transaction.atomic
def user_set_role(*, actor, user: User, role: str) -> User:
    require(actor, "accounts.manage")
    _check_target(actor, user)
    if role not in Role.values:
        raise ValidationFailed(_("未知角色"))
    if Role.ADMIN in (role, user.role) and not actor.is_superuser:
        raise PermissionDeniedError(_("只有超级管理员能授予或收回系统管理员角色"))
    old = user.role
    user.role = role
    user.is_staff = role == Role.ADMIN
    user.save(update_fields=["role", "is_staff"])
    scope_changed(user.pk)
    audit_record(actor=actor, action="user.role", obj=user, detail={"from": old, "to": role})
    # (the event hangs on the user's jurisdiction: core.audit.area_of)
    return user
