"""The JSON API (/api/, OpenAPI at /api/openapi.json, docs at /api/docs).

Each minqing app with an api.py exposing `router` is mounted at /api/<label>/.
Domain errors become JSON in one place here. A caller is either a logged-in session (CSRF
enforced) or a personal API token (`Authorization: Bearer mq_…`, accounts/tokens.py).
The OpenAPI document and the docs are for logged-in users (session or token) only.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, django_auth

from minqing.accounts.tokens import authenticate_request
from minqing.core.errors import DomainError
from minqing.core.plugins import app_module, minqing_apps


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`: the token's user, with its role and jurisdiction."""

    def authenticate(self, request, token):
        return authenticate_request(request, token)


token_auth = TokenAuth()


def logged_in_docs(view):
    """The OpenAPI document and Swagger UI: a session or a token, else the login page (or
    401 for a script)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            header = request.headers.get("Authorization", "")
            if header.lower().startswith("bearer ") and token_auth(request) is not None:
                return view(request, *args, **kwargs)
            if header or request.path.endswith(".json"):
                return JsonResponse({"detail": _("请先登录"), "code": "unauthorized"}, status=401)
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "type": "string"},
        "code": {"title": "Code", "type": "string"},
        "errors": {"title": "Errors"},
    },
    "required": ["detail"],
}
# Every operation can answer these; documented once here so a new endpoint is covered too.
COMMON_ERRORS = {
    "400": gettext_lazy("输入有误(含非法字符、超出范围的数值、格式不对的参数)"),
    "401": gettext_lazy("未登录或令牌无效"),
    "403": gettext_lazy("角色无权执行此操作"),
    "404": gettext_lazy("记录不存在或不在您的管辖范围内"),
    "409": gettext_lazy("与已有数据冲突或状态不允许"),
}
# Throttled operations (the public ones, core/public.py) can also answer this.
THROTTLED = {"429": gettext_lazy("请求过于频繁，请稍后再试")}


# What core.middleware.BadInputMiddleware refuses with 400, written into the document so
# clients (and schemathesis) know it: integers fit in 64 bits, text holds no NUL byte.
INT_BOUND = 2**63 - 1
NO_NUL = "^[^\x00]*$"


def _document_input_limits(node) -> None:
    if isinstance(node, list):
        for item in node:
            _document_input_limits(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        node.setdefault("minimum", -INT_BOUND)
        node.setdefault("maximum", INT_BOUND)
    elif node.get("type") == "string" and node.get("format") not in ("binary", "uuid"):
        node.setdefault("pattern", NO_NUL)
    for value in node.values():
        _document_input_limits(value)


class MinqingAPI(NinjaAPI):
    def _throttled_operation_ids(self) -> set[str]:
        return {
            op.operation_id or self.get_openapi_operation_id(op)
            for bound in self._get_bound_routers()
            for path_view in bound.path_operations.values()
            for op in path_view.operations
            if op.throttle_objects
        }

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        _document_input_limits(schema.get("paths", {}))
        _document_input_limits(schema.get("components", {}))
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        throttled = self._throttled_operation_ids()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                # ninja keys an operation's own codes by int (409), ours are str: one key each,
                # or the JSON holds "409" twice and Swagger UI refuses the document
                responses = {str(k): v for k, v in operation.get("responses", {}).items()}
                operation["responses"] = responses
                errors = dict(COMMON_ERRORS)
                if operation.get("operationId") in throttled:
                    errors.update(THROTTLED)
                for status, description in errors.items():
                    responses.setdefault(status, {"description": str(description), **ref})
        return schema


api = MinqingAPI(
    title="Minqing 民情 API",
    version="1",
    auth=[token_auth, django_auth],
    urls_namespace="api",
    docs_decorator=logged_in_docs,
    description=(
        "基层治理平台 JSON 接口。所有列表和查询都限定在当前用户的管辖范围内。"
        "认证: 登录会话(需 CSRF 令牌)或个人 API 令牌 `Authorization: Bearer mq_…`"
        "(在“API 令牌”页面创建)。"
    ),
)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(
        request, {"detail": _("记录不存在或不在您的管辖范围内"), "code": "not_found"}, status=404
    )


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    """Malformed input answers 400 with the fields at fault, like the services' own errors."""
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors
    ]
    return api.create_response(
        request, {"detail": _("输入有误"), "code": "invalid", "errors": errors}, status=400
    )


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return api.create_response(
        request, {"detail": _("请先登录或提供有效的 API 令牌"), "code": "unauthorized"}, status=401
    )


def _mount() -> None:
    for config in minqing_apps():
        module = app_module(config, "api")
        if module is not None and hasattr(module, "router"):
            api.add_router(f"/{config.label}/", module.router, tags=[str(config.verbose_name)])


_mount()


@csrf_exempt
def not_found(request):
    """/api/ paths no operation matches (e.g. a non-numeric id) answer JSON, not a page."""
    return JsonResponse(
        {"detail": _("记录不存在或不在您的管辖范围内"), "code": "not_found"}, status=404
    )
