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
