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
