"""Personal API tokens: creating, revoking and authenticating them.

A token is `mq_` + 43 url-safe characters (256 bits). Only its SHA-256 is stored (a slow
hash adds nothing for a random secret of this size); the first characters are kept to tell
tokens apart on the page. Other apps authenticate a raw token with `authenticate_token`.
"""

import copy
import hashlib
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.core.audit import audit_record
from minqing.core.context import set_credential
from minqing.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.permissions import has_perm

from .models import ApiToken, User

TOKEN_PREFIX = "mq_"
# last_used_at (and a `token.use` audit row) is written at most this often per token.
USE_RECORD_INTERVAL = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _may_manage_tokens_of(actor: User, user: User) -> bool:
    if actor.pk == user.pk:
        return True
    # An administrator makes tokens for (service) accounts inside their jurisdiction.
    return has_perm(actor, "accounts.manage") and (
        User.objects.visible_to(actor).filter(pk=user.pk).exists()
    )


def _second_factor_valid_since():
    return timezone.now() - timedelta(days=settings.OTP_TOKEN_MAX_AGE_DAYS)


@transaction.atomic
def api_token_create(
    *, actor: User, user: User, name: str, second_factor: bool = False
) -> tuple[ApiToken, str]:
    """Returns the token row and the raw secret; the secret is never stored or shown again.

    `second_factor` says the actor's session passed its second factor. An account whose role
    needs one gets tokens only from itself in such a session: otherwise an administrator (or
    a stolen password) could mint a token that reads what the second factor guards."""
    from .otp import otp_required

    name = (name or "").strip()
    if not name or "\x00" in name:
        raise ValidationFailed(_("请写明令牌的用途"))
    if len(name) > 100:
        raise ValidationFailed(_("用途最多 100 个字"))
    if not user.is_active or not _may_manage_tokens_of(actor, user):
        raise PermissionDeniedError(_("您无权为该账号创建令牌"))
    guarded = otp_required(user)
    if guarded and (actor.pk != user.pk or not second_factor):
        raise PermissionDeniedError(_("该账号须双因素验证:令牌只能由本人在通过动态验证码后创建"))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:10],
        digest=_digest(raw),
        created_by=actor,
        second_factor_at=timezone.now() if guarded else None,
    )
    audit_record(
        actor=actor,
        action="token.create",
        obj=token,
        area=_user_area(user),
        detail={"user": user.username, "name": name},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if not _may_manage_tokens_of(actor, token.user):
        raise NotFoundError()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="token.revoke",
            obj=token,
            area=_user_area(token.user),
            detail={"user": token.user.username},
        )
    return token


def tokens_of(*, fetched_by: User):
    """The tokens a user manages on their page: their own, and those they made for service
    accounts still inside their jurisdiction."""
    from .services import users_manageable_by

    mine = Q(user=fetched_by)
    if has_perm(fetched_by, "accounts.manage"):
        mine |= Q(created_by=fetched_by, user__in=users_manageable_by(fetched_by))
    return ApiToken.objects.filter(mine).select_related("user", "created_by")


def token_owner_for(*, actor: User, username: str) -> User:
    """The account a token is made for: oneself, or (administrators) a service account in
    their jurisdiction, named by username."""
    from .services import users_manageable_by

    username = (username or "").strip()
    if not username or username == actor.username:
        return actor
    if has_perm(actor, "accounts.manage"):
        user = users_manageable_by(actor).filter(username=username, is_active=True).first()
        if user is not None:
            return user
    raise ValidationFailed(_("账号 %(u)s 不存在或不在您的管辖范围内") % {"u": username[:150]})


# Tokens seen lately, per process: digest -> (time seen, token with its user). A hit is
# reused for TOKEN_CACHE_SECONDS at most, and every copy is dropped when a token, a user or
# a jurisdiction changes (core.proc_cache: at once here, within a second elsewhere when a
# shared cache is set), so a revoked token or a deactivated user stops at once.
TOKEN_CACHE_SECONDS = 5.0


def authenticate_token(raw: str | None) -> ApiToken | None:
    """The active token a raw token string is, or None. Pure: no write, no audit. Requests
    use `authenticate_request`, which also attributes the request to the token."""
    from .otp import otp_required

    raw = (raw or "").strip()
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    from minqing.core.proc_cache import process_cached

    digest = _digest(raw)
    seen = process_cached("api-tokens", dict)
    hit = seen.get(digest)
    now = time.monotonic()
    if hit is None or now - hit[0] > TOKEN_CACHE_SECONDS:
        token = ApiToken.objects.active().select_related("user").filter(digest=digest).first()
        if token is None or not token.user.is_active:
            seen.pop(digest, None)
            return None
        if len(seen) > 10_000:
            seen.clear()
        hit = seen[digest] = (now, token)
    token = copy.copy(hit[1])  # a request's own copies: per-request caches stay its own
    token.user = copy.copy(token.user)
    token._cached = hit[1]
    if otp_required(token.user) and (
        # made without the second factor (before the role needed one, say) or too long ago
        token.second_factor_at is None or token.second_factor_at < _second_factor_valid_since()
    ):
        return None
    return token


def authenticate_request(request, raw: str | None) -> User | None:
    """For any endpoint that takes a token (the API's Bearer auth, Open311's api_key): sets
    request.user to the token's user (its role and jurisdiction), marks every audit row of
    the request with the token and channel `api`, and records the use (a `token.use`
    audit event and last_used_at, at most once a minute per token)."""
    token = authenticate_token(raw)
    if token is None:
        return None
    user = token.user
    request.user = user
    set_credential(f"token:{token.prefix}")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= USE_RECORD_INTERVAL:
        updated = ApiToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at).update(
            last_used_at=now
        )
        # This process's copy knows of the write (or another process's): no retry each time.
        getattr(token, "_cached", token).last_used_at = now
        if updated:
            audit_record(
                actor=user,
                action="token.use",
                obj=token,
                area=_user_area(user),
                detail={"path": request.path[:100]},
            )
    return user


def _user_area(user: User):
    return user.jurisdictions.values_list("area_id", flat=True).first()
