"""Logins, failed logins and logouts go to the audit log like any staff action. Events
about an account hang on the area of its jurisdiction, so supervisors above see them."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from minqing.core.audit import audit_record, home_area_id


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
    login_refused_record(username=credentials.get("username", ""))
