"""For bench/bench_pages.py only (installed when MINQING_BENCH=1): each response says how
long its templates took and how many queries it ran (X-Template-Ms, X-Queries)."""

import threading
import time

from django.db import connection
from django.template import base

_local = threading.local()
_render = base.Template.render


def _timed_render(self, context):
    depth = getattr(_local, "depth", None)
    if depth is None:  # outside a measured request
        return _render(self, context)
    _local.depth = depth + 1
    start = time.perf_counter()
    try:
        return _render(self, context)
    finally:
        _local.depth -= 1
        if _local.depth == 0:
            _local.spent += time.perf_counter() - start


base.Template.render = _timed_render


class BenchTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _local.depth, _local.spent = 0, 0.0
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        try:
            with connection.execute_wrapper(count):
                response = self.get_response(request)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
        finally:
            spent = _local.spent
            _local.depth = None
        response["X-Template-Ms"] = f"{spent * 1000:.1f}"
        response["X-Queries"] = str(queries[0])
        return response


# The floor: a bare view behind the same middleware (session, user, CSRF, OTP...) that runs
# the hand-written SQL of a page and returns its rows, so a reader sees how much of a page's
# time is the product and how much is Django and HTTP. The statements come from the file
# named by MINQING_BENCH_FLOOR (written by bench/bench_pages.py before the server starts):
# {"key": {"statements": [...], "params": {...}}}; never from the request.
_floor_pages = None


def floor_view(request, key):
    import json
    import os

    from django.http import Http404, HttpResponse

    global _floor_pages
    if _floor_pages is None:
        path = os.environ.get("MINQING_BENCH_FLOOR")
        _floor_pages = json.loads(open(path).read()) if path else {}
    page = _floor_pages.get(key)
    if page is None:
        raise Http404
    out = []
    with connection.cursor() as cur:
        for sql in page["statements"]:
            cur.execute(sql, page["params"])
            out.extend(cur.fetchall())
    return HttpResponse("\n".join(map(repr, out)), content_type="text/plain; charset=utf-8")
