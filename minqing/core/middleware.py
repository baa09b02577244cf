from dataclasses import asdict

from csp import constants as _csp_constants
from csp import middleware as _csp_middleware
from csp import utils as _csp_utils
from django.conf import settings

from .context import request_context


def client_address(request) -> str | None:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Makes the source address of a staff action known to the audit log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "api" if request.path.startswith("/api/") else "web"
        with request_context(address=client_address(request), channel=channel):
            return self.get_response(request)


class DomainErrorMiddleware:
    """A DomainError that escapes a page view becomes a page with its message and status
    (the API turns them into JSON in minqing/api.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.shortcuts import render

        from .errors import DomainError

        if not isinstance(exception, DomainError):
            return None
        if request.headers.get("HX-Request"):
            from django.http import HttpResponse
            from django.utils.html import escape

            return HttpResponse(
                f'<p class="error">{escape(str(exception.message))}</p>', status=exception.status
            )
        return render(request, "core/error.html", {"error": exception}, status=exception.status)


# Integers the databases can hold (PostgreSQL bigint, SQLite INTEGER).
_INT_MAX = 2**63 - 1


def _bad_value(value) -> str | None:
    """Why a value from the outside cannot reach the database, or None."""
    if isinstance(value, str):
        return "nul" if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "range" if abs(value) > _INT_MAX else None
    if isinstance(value, float):
        return "range" if value != value or value in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        for item in value.values():
            if reason := _bad_value(item):
                return reason
    if isinstance(value, list):
        for item in value:
            if reason := _bad_value(item):
                return reason
    return None


def _numeric_out_of_range(value: str) -> bool:
    """A whole number no database column holds (ids, offsets, levels, pages). Text that
    only looks like a number is not affected: an 身份证号 or phone has at most 18 digits."""
    text = value.strip()
    text = text[1:] if text[:1] in "+-" else text
    return text.isascii() and text.isdigit() and int(text) > _INT_MAX


class BadInputMiddleware:
    """Input no page or endpoint can store or look up answers 400 with a clear message,
    before any view runs: NUL bytes in any parameter, form field, path or JSON text, and
    numbers (ids, offsets, pages) the database cannot hold. Without this they reach the
    database driver and come back as 500s."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reason = self._check(request)
        if reason is not None:
            return self._refuse(request, reason)
        return self.get_response(request)

    def _check(self, request) -> str | None:
        if "\x00" in request.path or "%00" in request.META.get("PATH_INFO", ""):
            return "nul"
        for segment in request.path.split("/"):
            if _numeric_out_of_range(segment):
                return "range"
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                return "nul"
            if any(_numeric_out_of_range(v) for v in values):
                return "range"
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            content_type = request.content_type or ""
            if content_type == "application/x-www-form-urlencoded":
                for name, values in request.POST.lists():
                    if "\x00" in name or any("\x00" in v for v in values):
                        return "nul"
            elif content_type.endswith("json"):
                import json

                try:
                    body = json.loads(request.body or b"null")
                except ValueError:
                    return None  # malformed JSON: the endpoint answers 400 itself
                return _bad_value(body)
        return None

    def _refuse(self, request, reason: str):
        from django.http import HttpResponse, JsonResponse
        from django.shortcuts import render
        from django.utils.html import escape
        from django.utils.translation import gettext as _

        from .errors import ValidationFailed

        message = (
            _("输入中含有不允许的空字符(NUL),请删除后重试")
            if reason == "nul"
            else _("输入中的数字超出了允许的范围")
        )
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": message, "code": "invalid"},
                status=400,
                json_dumps_params={"ensure_ascii": False},
            )
        if request.headers.get("HX-Request"):
            return HttpResponse(f'<p class="error">{escape(message)}</p>', status=400)
        return render(request, "core/error.html", {"error": ValidationFailed(message)}, status=400)


class CSPMiddleware(_csp_middleware.CSPMiddleware):
    """django-csp's middleware with the header text built once per process instead of on
    every response (~0.1 ms of dictionary copying and joining each time): the policy comes
    from settings, so only the request's nonce changes, and it is put into the kept text
    in place of a marker. A response given its own policy (django-csp's decorators) is
    built as django-csp does; a change of the setting (tests) builds the text again."""

    _MARKER = "minqing-csp-nonce-marker"

    def __init__(self, get_response):
        super().__init__(get_response)
        self._kept = {}

    def _policy(self, parts, report_only: bool) -> str:
        if parts.config is not None or parts.update is not None or parts.replace is not None:
            return _csp_utils.build_policy(**asdict(parts), report_only=report_only)
        name = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
        setting = getattr(settings, name, None)
        key = (report_only, bool(parts.nonce))
        kept = self._kept.get(key)
        if kept is None or kept[0] is not setting:
            text = _csp_utils.build_policy(
                nonce=self._MARKER if parts.nonce else None, report_only=report_only
            )
            kept = self._kept[key] = (setting, text)
        return kept[1].replace(self._MARKER, parts.nonce) if parts.nonce else kept[1]

    def process_response(self, request, response):
        # django-csp 4.0's process_response, with _policy() for build_policy(**asdict(...))
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for report_only, header, exempt, name in (
            (False, _csp_constants.HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (
                True,
                _csp_constants.HEADER_REPORT_ONLY,
                "_csp_exempt_ro",
                "CONTENT_SECURITY_POLICY_REPORT_ONLY",
            ),
        ):
            parts = self.get_policy_parts(
                request=request, response=response, report_only=report_only
            )
            policy = self._policy(parts, report_only)
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = _csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
