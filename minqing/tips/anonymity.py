"""The tip endpoints know nothing about who calls them.

`anonymous_endpoint` wraps a public tip view: before the view runs it removes the client
address, user agent, referrer, forwarding headers and cookies from the request, and runs it
in a request context with no address (so audit rows get none) on channel "tip"; after it,
it drops any cookie and tells browsers and proxies not to keep or pass on anything. The
views use no session, no CSRF token (nothing to forge: there is no account) and no
messages framework, so nothing needs a cookie. Receipt codes travel only in POST bodies,
never in a URL that a log line would carry.
"""

from functools import wraps

from django.views.decorators.csrf import csrf_exempt

from minqing.core.context import request_context

IDENTIFYING_META = (
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "HTTP_USER_AGENT",
    "HTTP_REFERER",
    "HTTP_COOKIE",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
    "HTTP_VIA",
    "HTTP_CLIENT_IP",
    "HTTP_CF_CONNECTING_IP",
    "HTTP_TRUE_CLIENT_IP",
)


def scrub(request) -> None:
    for key in IDENTIFYING_META:
        request.META.pop(key, None)
    request.COOKIES = {}


def anonymous_endpoint(view):
    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        scrub(request)
        with request_context(address=None, channel="tip"):
            response = view(request, *args, **kwargs)
        response.cookies.clear()
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex"
        return response

    return wrapped


class TipPrivacyMiddleware:
    """Outermost guard for /tips/public/: whatever a later middleware added, the response
    carries no Set-Cookie, and the request reaches the stack without identifying headers."""

    PREFIX = "/tips/public/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.PREFIX):
            return self.get_response(request)
        scrub(request)
        response = self.get_response(request)
        response.cookies.clear()
        return response
