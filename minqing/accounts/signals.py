"""Logins, failed logins and logouts go to the audit log like any staff action. Events
about an account hang on the area of its jurisdiction, so supervisors above see them."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from minqing.core.audit import audit_record, home_area_id
from minqing.core.usercache import user_changed, users_changed


def _area_of_username(username: str) -> int | None:
    from .models import User

    user = User.objects.filter(username=username).only("pk").first() if username else None
    return home_area_id(user)


def login_refused_record(*, username: str, action: str = "auth.login_failed", detail=None):
    """A refused login (wrong password, or throttled): no actor, the account's area."""
    username = str(username or "")[:150]
    audit_record(
        actor=None,
        action=action,
        area=_area_of_username(username),
        detail={"username": username, **(detail or {})},
    )


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.login", obj=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="auth.logout", obj=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    if getattr(request, "axes_locked_out", False) and not getattr(
        request, "minqing_lock_started", False
    ):
        return  # refused by the throttle before any password check: auth.login_throttled
    login_refused_record(username=credentials.get("username", ""))


from . import throttle  # noqa: E402, F401  (lockouts are audited by its receiver)


def scope_changed(user_id) -> None:
    """The user's jurisdiction or role changed: sessions recompute their kept paths."""
    from .models import User

    User.objects.filter(pk=user_id).update(scope_version=F("scope_version") + 1)


@receiver(post_save, sender="accounts.Jurisdiction")
@receiver(post_delete, sender="accounts.Jurisdiction")
def on_jurisdiction_change(sender, instance, **kwargs):
    # any writer (services, admin, factories); bulk_create sends no signal: the services
    # that use it call scope_changed themselves
    scope_changed(instance.user_id)


@receiver(m2m_changed, sender="accounts.Jurisdiction")
def on_areas_change(sender, instance, action, reverse, pk_set, **kwargs):
    # user.areas.add/remove/clear (and area.staff...): bulk writes of the through table
    from .models import Jurisdiction, User

    if reverse and action == "pre_clear":  # area.staff.clear(): every user of that area
        users = list(Jurisdiction.objects.filter(area=instance).values_list("user_id", flat=True))
        User.objects.filter(pk__in=users).update(scope_version=F("scope_version") + 1)
    elif action.startswith("post_") and not reverse:
        scope_changed(instance.pk)
    elif action.startswith("post_") and pk_set:
        User.objects.filter(pk__in=pk_set).update(scope_version=F("scope_version") + 1)


@receiver(post_save, sender="accounts.User")
@receiver(post_delete, sender="accounts.User")
def on_user_change(sender, instance, **kwargs):
    # password, activation, role...: the cached copy of the session's user is dropped
    # everywhere after the commit (core.usercache)
    user_changed(instance.pk)


@receiver(post_save, sender="accounts.Unit")
@receiver(post_delete, sender="accounts.Unit")
def on_unit_change(sender, instance, **kwargs):
    users_changed()  # the session's user is cached with their unit
