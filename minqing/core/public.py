"""Public endpoints: what residents and tipsters use without an account.

- Tracking codes: 16 characters of Crockford base32 from `secrets` (80 bits), shown in
  groups of four; only an HMAC of the code is stored (`tracking_hash`), so a database dump
  does not reveal codes and a lookup is one indexed equality on the hash. Wrong and unknown
  codes get the same answer (there is no difference to time: both are one missing row).
- `public_throttles(...)`: django-ninja throttles per client address for public operations.
- `public_channel(request)`: the audit rows written while serving a public request carry
  channel "public" and the client address, and no user.
- `PublicAPIMiddleware`: public API requests skip the middleware that serves sessions and
  logins (PUBLIC_API_SKIPS), and decide their language the cheaper way (PUBLIC_API_REPLACES).
Public API operations are declared with `auth=None`, so no login cookie (and no CSRF
token) is needed; they never read `request.user`.
"""

import hashlib
import hmac
import math
import re
import secrets
from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from ninja.throttling import SimpleRateThrottle

from .context import request_context
from .middleware import client_address

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 16  # 16 x 5 bits = 80 bits
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_tracking_code() -> str:
    """CODE_LENGTH characters, each 5 bits of one `secrets.token_bytes` draw (uniform)."""
    n = int.from_bytes(secrets.token_bytes((CODE_LENGTH * 5 + 7) // 8), "big")
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return "".join(c for c in (code or "").upper() if c.isalnum()).translate(_CONFUSABLE)


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@lru_cache(maxsize=4)
def _tracking_key(secret: str) -> bytes:
    return hashlib.sha256(b"minqing-tracking:" + secret.encode()).digest()


def tracking_hash(code: str) -> str:
    """HMAC-SHA256 of the normalised code with a key derived from SECRET_KEY."""
    key = _tracking_key(settings.SECRET_KEY)
    # hmac.digest: the same MAC in one C call (hmac.new builds two hash objects in Python)
    return hmac.digest(key, normalise_code(code).encode(), "sha256").hex()


def plausible_code(code: str) -> bool:
    c = normalise_code(code)
    return len(c) == CODE_LENGTH and all(ch in ALPHABET for ch in c)


class PublicThrottle(SimpleRateThrottle):
    """Per client address and per operation scope, whether or not a session exists.

    Counted in fixed windows of the rate's duration: the current window's count plus the
    previous one's, weighted by how much of it still lies in the last `duration` seconds
    (rounded up, so a burst at the end of a window still counts in full). Each request
    costs one read of two small counters and one atomic add/incr, whatever the rate;
    ninja's sliding log read and rewrote the client's whole list of timestamps on every
    request (at a high rate, thousands of them), and two processes sharing Redis could
    both read the same list and lose each other's request."""

    def __init__(self, scope: str, rate: str):
        self.scope = scope
        super().__init__(rate)

    def get_cache_key(self, request):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def allow_request(self, request) -> bool:
        key = self.get_cache_key(request)
        if key is None or self.num_requests is None:
            return True
        now = self.timer()
        window, into = divmod(now, self.duration)
        window = int(window)
        current, previous = f"{key}:{window}", f"{key}:{window - 1}"
        counts = self.cache.get_many([current, previous])
        carried = math.ceil(counts.get(previous, 0) * (1 - into / self.duration))
        if counts.get(current, 0) + carried >= self.num_requests:
            self._wait = self.duration - into
            return False
        try:  # the window's counter exists but for the window's first request: one call
            self.cache.incr(current)
        except ValueError:
            if not self.cache.add(current, 1, 2 * self.duration):
                self.cache.incr(current)  # another process made it meanwhile
        return True

    def wait(self) -> float | None:
        """Seconds to the end of the current window (the Retry-After of a refusal)."""
        return getattr(self, "_wait", None)


def public_throttles(scope: str, rate: str | None = None):
    """Throttles for a public operation: `rate` or settings.PUBLIC_THROTTLE_RATES[scope]."""
    rates = getattr(settings, "PUBLIC_THROTTLE_RATES", {})
    return [PublicThrottle(scope, rate or rates.get(scope, "30/m"))]


# What a public operation (auth=None, cookie-less) does not use: no session, login, second
# factor, jurisdiction cache, messages or login lockout, no static file, no page error.
PUBLIC_API_SKIPS = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "minqing.accounts.otp.SecondFactorMiddleware",
        "minqing.core.scoping.JurisdictionCacheMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
        "minqing.core.middleware.DomainErrorMiddleware",
    }
)
# ... and what it takes in place of: the language chosen as Django's LocaleMiddleware does,
# kept per distinct request (PublicLocaleMiddleware).
PUBLIC_API_REPLACES = {
    "django.middleware.locale.LocaleMiddleware": "minqing.core.public.PublicLocaleMiddleware",
}
_PUBLIC_API = re.compile(r"/api/[^/]+/public/")


class PublicLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware for public operations, the same language, headers and
    translated messages, cheaper: with no URL under i18n_patterns (a language prefix), the
    language depends only on the language cookie and Accept-Language, so it is worked out
    by Django once per distinct pair (a few hundred kept) and the path is never parsed for
    a prefix (twice a request). With i18n_patterns, exactly Django's."""

    KEEP = 256
    LONGEST = 200  # a longer header is worked out each time, never kept

    def __init__(self, get_response):
        super().__init__(get_response)
        self.prefixes = is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0]
        self.chosen: dict[tuple, str] = {}

    def process_request(self, request):
        if self.prefixes or hasattr(request, "urlconf"):
            return super().process_request(request)
        meta = request.META
        accept = meta.get("HTTP_ACCEPT_LANGUAGE", "")
        cookie = (
            request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) if "HTTP_COOKIE" in meta else None
        )
        key = (cookie, accept)
        language = self.chosen.get(key)
        if language is None:
            language = translation.get_language_from_request(request)
            if len(accept) <= self.LONGEST and len(cookie or "") <= self.LONGEST:
                if len(self.chosen) >= self.KEEP:
                    self.chosen.clear()
                self.chosen[key] = language
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        if self.prefixes or hasattr(request, "urlconf"):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class _PublicHandler(BaseHandler):
    """Django's middleware chain (as BaseHandler.load_middleware builds it, synchronous)
    from a given list."""

    def __init__(self, paths):
        self._view_middleware, self._template_response_middleware = [], []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(paths):
            try:
                mw = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(mw, "process_view"):
                self._view_middleware.insert(0, mw.process_view)
            if hasattr(mw, "process_template_response"):
                self._template_response_middleware.append(mw.process_template_response)
            if hasattr(mw, "process_exception"):
                self._exception_middleware.append(mw.process_exception)
            handler = convert_exception_to_response(mw)
        self._middleware_chain = handler


class PublicAPIMiddleware:
    """Public operations (/api/<app>/public/…, all declared auth=None) go through the rest of
    the middleware minus PUBLIC_API_SKIPS: the security headers (this one sits after
    SecurityMiddleware), language, CSRF rules, X-Frame-Options, CSP, the request context and
    the bad-input guard stay; a session cookie is not read and no user is loaded (it is an
    AnonymousUser, which is all such an operation may see). A fifth of intake's CPU was the
    full stack. Every other request takes the full stack."""

    def __init__(self, get_response):
        from django.contrib.auth.models import AnonymousUser

        self.anonymous = AnonymousUser
        self.get_response = get_response
        rest = list(settings.MIDDLEWARE)
        mine = f"{__name__}.{type(self).__name__}"
        rest = rest[rest.index(mine) + 1 :] if mine in rest else rest
        self.public = _PublicHandler(
            [PUBLIC_API_REPLACES.get(m, m) for m in rest if m not in PUBLIC_API_SKIPS]
        )

    def __call__(self, request):
        if _PUBLIC_API.match(request.path_info) is None:
            return self.get_response(request)
        request.user = self.anonymous()
        return self.public._middleware_chain(request)


@contextmanager
def public_channel(request):
    with request_context(address=client_address(request), channel="public"):
        yield
