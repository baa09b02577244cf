"""The JSON API (/api/, OpenAPI at /api/openapi.json, docs at /api/docs).

Each minqing app with an api.py exposing `router` is mounted at /api/<label>/.
Domain errors become JSON in one place here.
"""

from django.http import Http404
from ninja import NinjaAPI
from ninja.security import django_auth

from minqing.core.errors import DomainError
from minqing.core.plugins import app_module, minqing_apps

api = NinjaAPI(
    title="Minqing 民情 API",
    version="1",
    auth=django_auth,
    urls_namespace="api",
    description="基层治理平台 JSON 接口。所有列表和查询都限定在当前用户的管辖范围内。",
)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(
        request, {"detail": "记录不存在或不在您的管辖范围内", "code": "not_found"}, status=404
    )


def _mount() -> None:
    for config in minqing_apps():
        module = app_module(config, "api")
        if module is not None and hasattr(module, "router"):
            api.add_router(f"/{config.label}/", module.router, tags=[str(config.verbose_name)])


_mount()
