"""Login throttling on django-axes, with two counters and two limits.

- username + address: LOGIN_FAILURE_LIMIT failures lock that username from that address;
  a colleague behind the same office NAT (same address, other username) can still log in.
- address alone: LOGIN_ADDRESS_FAILURE_LIMIT failures lock the address for every username
  (password spraying: one guess for each of many usernames).

Counters live in the cache (Redis when REDIS_URL is set, shared by every process) and
expire after LOGIN_LOCKOUT_SECONDS. Every lockout and every refused attempt is audited.
"""

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache, get_cache_timeout, get_client_cache_keys, get_client_username
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import render
from django.utils.translation import gettext as _


def login_username(request, credentials) -> str:
    """The username as counted: case and surrounding spaces do not make a new counter."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None and request.method == "POST":
        raw = request.POST.get("username")
    return str(raw or "").strip().lower()[:150]


class LoginThrottleHandler(AxesCacheHandler):
    """AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]: the first
    cache key counts one username from one address, the second the address alone."""

    def __init__(self):
        pass  # the cache is looked up per call (see below), not kept from start-up

    @property
    def cache(self):
        """The cache of this thread (django.core.cache.caches), Redis with REDIS_URL."""
        return get_cache()

    def _counts(self, request, credentials) -> tuple[int, int]:
        pair_key, address_key = get_client_cache_keys(request, credentials)
        return self.cache.get(pair_key, 0), self.cache.get(address_key, 0)

    def get_failures(self, request, credentials=None) -> int:
        pair, address = self._counts(request, credentials)
        if address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(pair, settings.LOGIN_FAILURE_LIMIT)
        return pair

    def is_locked(self, request, credentials=None) -> bool:
        return self.get_failures(request, credentials) >= settings.LOGIN_FAILURE_LIMIT

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None:
            return
        username = get_client_username(request, credentials)
        if getattr(request, "axes_locked_out", False):
            # Refused by the throttle: not counted (the lock would never end), but audited.
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes", request=request, username=username, ip_address=request.axes_ip_address
            )
            return
        if self.is_whitelisted(request, credentials):
            return
        timeout = get_cache_timeout(request)
        for key in get_client_cache_keys(request, credentials):
            if not self.cache.add(key=key, value=1, timeout=timeout):
                self.cache.incr(key=key, delta=1)
                self.cache.touch(key=key, timeout=timeout)
        failures = self.get_failures(request, credentials)
        request.axes_failures_since_start = failures
        if failures >= settings.LOGIN_FAILURE_LIMIT:
            request.axes_locked_out = True
            request.axes_credentials = credentials
            request.minqing_lock_started = True
            user_locked_out.send(
                "axes", request=request, username=username, ip_address=request.axes_ip_address
            )


def lockout_response(request, original_response=None, credentials=None):
    """The login page (or the admin's) says why, with 429; no session is started."""
    message = _("登录失败次数过多,请 %(minutes)d 分钟后再试。") % {
        "minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    }
    return render(
        request,
        "registration/locked_out.html",
        {"message": message, "admin": request.path.startswith("/admin/")},
        status=429,
    )


@receiver(user_locked_out)
def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """`auth.lockout` when failures reach a limit, `auth.login_throttled` for every attempt
    refused while locked; both on the area of the account, like failed logins."""
    from .signals import login_refused_record

    started = bool(getattr(request, "minqing_lock_started", False))
    login_refused_record(
        username=username or "",
        action="auth.lockout" if started else "auth.login_throttled",
        detail={
            "path": getattr(request, "path", "")[:100],
            "failures": getattr(request, "axes_failures_since_start", None),
        },
    )
