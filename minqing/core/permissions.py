"""The one permission module: roles decide actions.

Each app declares its permissions in its own `permissions.py` with `register(...)`;
views, API and services ask `has_perm` / `require`. Django's `user.has_perm("app.x")`
and `{{ perms.app.x }}` in templates answer through RoleBackend, from the same table.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.backends import ModelBackend

from .errors import PermissionDeniedError
from .roles import ALL_ROLES


@dataclass(frozen=True)
class Permission:
    name: str
    roles: frozenset
    label: str


_REGISTRY: dict[str, Permission] = {}


def register(name: str, *, roles: Iterable[str], label: str = "") -> str:
    roles = frozenset(roles)
    unknown = roles - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles for {name}: {sorted(unknown)}")
    _REGISTRY[name] = Permission(name=name, roles=roles, label=label)
    return name


def registered() -> dict[str, Permission]:
    return dict(_REGISTRY)


def has_perm(user, name: str) -> bool:
    if name not in _REGISTRY:
        raise KeyError(f"permission {name!r} is not registered")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.role in _REGISTRY[name].roles


def require(user, name: str) -> None:
    if not has_perm(user, name):
        raise PermissionDeniedError()


class RoleBackend(ModelBackend):
    """Password auth as usual; permission checks come from the role table above."""

    def get_user(self, user_id):
        """The session's user read with their unit (a join, not a second query where a page
        names it, e.g. the home page)."""
        from django.contrib.auth import get_user_model

        from .usercache import load

        model = get_user_model()

        def read():
            try:
                return model._default_manager.select_related("unit").get(pk=user_id)
            except model.DoesNotExist:
                return None

        # with Redis, from the shared cache while the user is unchanged (core.usercache)
        user = load(user_id, read)
        return user if user is not None and self.user_can_authenticate(user) else None

    def has_perm(self, user_obj, perm, obj=None):
        if perm in _REGISTRY:
            return has_perm(user_obj, perm)
        # Django admin asks for model permissions: administrators manage back-office data.
        if not user_obj.is_active:
            return False
        return user_obj.is_superuser or (user_obj.is_staff and user_obj.role == "admin")

    def has_module_perms(self, user_obj, app_label):
        return user_obj.is_active and (
            user_obj.is_superuser or (user_obj.is_staff and user_obj.role == "admin")
        )


def _register_core() -> None:
    from django.utils.translation import gettext_lazy as _

    from .roles import Role

    register("core.view_audit", roles={Role.SUPERVISOR, Role.ADMIN}, label=_("查看审计日志"))


_register_core()
