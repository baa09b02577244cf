"""Open311 GeoReport v2 (JSON) mapped onto categories and appeals, so existing Open311
clients can file and follow matters.

    GET  /open311/v2/services.json              categories
    GET  /open311/v2/services/{code}.json       a category's extra questions as attributes
    POST /open311/v2/requests.json              file (anonymous, throttled per client; or
                                                as an officer with `api_key`)
    GET  /open311/v2/requests.json              requests by service_request_id (codes), or
                                                an officer's scoped list
    GET  /open311/v2/requests/{id}.json         one request

Mapping: `jurisdiction_id` names the village or grid by its area code (Open311 has no area
tree); `service_request_id` for residents is the tracking code (unguessable; the numeric id
is never accepted anonymously); `expected_datetime` is the deadline. Officers reading with
a session see their scoped requests by numeric id. `api_key` is an officer's personal API
token (`minqing.accounts.tokens.authenticate_request`): with it, POST files as that officer
(attributed to them, their jurisdiction checked as for their own entry, audited with the
token as credential; the answer's service_request_id is the numeric id and the resident's
tracking code is in service_notice) and GET shows their scoped requests. An invalid or
revoked api_key is refused with 403, never treated as anonymous; without api_key POST is
anonymous (throttled) and GET uses the session. A session never files (POST is CSRF-exempt).
Errors follow the spec: a list of {"code", "description"}.
"""

from datetime import datetime

from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.tokens import authenticate_request
from minqing.areas.models import Area
from minqing.core.errors import DomainError
from minqing.core.permissions import has_perm
from minqing.core.public import plausible_code, public_channel, public_throttles

from . import services
from .models import Appeal, Category, Channel, State

CLOSED = {State.RESOLVED, State.REVISITED, State.ARCHIVED}


def _error(status: int, description) -> JsonResponse:
    return JsonResponse(
        [{"code": status, "description": str(description)}], status=status, safe=False
    )


def _iso(dt):
    return timezone.localtime(dt).isoformat(timespec="seconds") if dt else None


def _service(c: Category) -> dict:
    return {
        "service_code": c.code,
        "service_name": c.name,
        "description": c.description,
        "metadata": bool(c.questions),
        "type": "realtime",
        "keywords": ",".join(c.description.split()[:8]),
        "group": "诉求",
    }


@require_GET
def services_list(request):
    return JsonResponse([_service(c) for c in Category.objects.filter(is_active=True)], safe=False)


@require_GET
def service_definition(request, code):
    c = Category.objects.filter(code=code, is_active=True).first()
    if c is None:
        return _error(404, "未知的服务类别")
    attrs = [
        {
            "variable": True,
            "code": q["key"],
            "datatype": "string",
            "required": bool(q.get("required")),
            "datatype_description": "",
            "order": i + 1,
            "description": q.get("label", q["key"]),
        }
        for i, q in enumerate(c.questions or [])
    ]
    return JsonResponse({"service_code": c.code, "attributes": attrs})


def _request_out(a: Appeal, *, request_id: str, officer: bool) -> dict:
    notes = a.replies.public().order_by("-at", "-id").first()
    return {
        "service_request_id": request_id,
        "status": "closed" if a.state in CLOSED else "open",
        "status_notes": notes.text if notes else str(State(a.state).label),
        "service_name": a.category.name,
        "service_code": a.category.code,
        "description": a.content if officer else "",
        "agency_responsible": a.handling_area.name,
        "service_notice": "",
        "requested_datetime": _iso(a.created_at),
        "updated_datetime": _iso(a.state_changed_at),
        "expected_datetime": _iso(a.due_at) if a.state not in CLOSED else None,
        "address": a.location if officer else "",
        "address_id": a.area.code if officer else "",
        "zipcode": "",
        "lat": float(a.latitude) if officer and a.latitude is not None else None,
        "long": float(a.longitude) if officer and a.longitude is not None else None,
        "media_url": "",
    }


def _officer(request):
    user = getattr(request, "user", None)
    return user if user is not None and has_perm(user, "appeals.view") else None


class _BadKey(Exception):
    pass


def _api_key_user(request):
    """The officer an `api_key` names (request.user becomes them), None without api_key;
    raises _BadKey for an invalid or revoked key, which must never pass as anonymous."""
    source = request.POST if request.method == "POST" else request.GET
    raw = source.get("api_key", request.GET.get("api_key"))
    if raw is None:
        return None
    user = authenticate_request(request, raw)
    if user is None:
        raise _BadKey
    return user


def _bad_key() -> JsonResponse:
    return _error(403, "api_key 无效或已吊销")


def _by_codes(codes: list[str]) -> list[dict]:
    out = []
    for code in codes[:20]:
        if not plausible_code(code):
            continue
        try:
            a = services.appeal_by_code(code)
        except DomainError:
            continue
        out.append(_request_out(a, request_id=code, officer=False))
    return out


def _parse_dt(value):
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return dt if timezone.is_aware(dt) else timezone.make_aware(dt)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def requests_json(request):
    try:
        key_user = _api_key_user(request)
    except _BadKey:
        return _bad_key()
    if request.method == "POST":
        return _create(request, actor=key_user)
    ids = [i.strip() for i in request.GET.get("service_request_id", "").split(",") if i.strip()]
    officer = _officer(request)
    if ids and not all(i.isdigit() for i in ids):
        return JsonResponse(_by_codes(ids), safe=False)
    if officer is None:
        return JsonResponse([], safe=False)  # anonymous: only by tracking code
    qs = Appeal.objects.visible_to(officer).select_related("category", "handling_area", "area")
    if ids:
        qs = qs.filter(pk__in=[int(i) for i in ids])
    if codes := request.GET.get("service_code"):
        qs = qs.filter(category__code__in=codes.split(","))
    status = request.GET.get("status", "")
    if status == "open":
        qs = qs.exclude(state__in=CLOSED)
    elif status == "closed":
        qs = qs.filter(state__in=CLOSED)
    end = _parse_dt(request.GET.get("end_date", "")) or timezone.now()
    start = _parse_dt(request.GET.get("start_date", "")) or end - timezone.timedelta(days=90)
    qs = qs.filter(created_at__gte=start, created_at__lte=end).order_by("-created_at")[:1000]
    return JsonResponse(
        [_request_out(a, request_id=str(a.pk), officer=True) for a in qs], safe=False
    )


@require_GET
def request_json(request, request_id):
    try:
        _api_key_user(request)
    except _BadKey:
        return _bad_key()
    if not request_id.isdigit():
        found = _by_codes([request_id])
        return JsonResponse(found, safe=False) if found else _error(404, "查询码不正确")
    officer = _officer(request)
    a = (
        Appeal.objects.visible_to(officer)
        .select_related("category", "handling_area", "area")
        .filter(pk=int(request_id))
        .first()
        if officer
        else None
    )
    if a is None:
        return _error(404, "查询码不正确")
    return JsonResponse([_request_out(a, request_id=str(a.pk), officer=True)], safe=False)


def _create(request, *, actor=None):
    if actor is None:
        throttle = public_throttles("appeal_file")[0]
        if not throttle.allow_request(request):
            return _error(429, "提交过于频繁,请稍后再试")
    p = request.POST
    category = Category.objects.filter(code=p.get("service_code", ""), is_active=True).first()
    if category is None:
        return _error(400, "未知的服务类别(service_code)")
    area = Area.objects.filter(code=p.get("jurisdiction_id", "") or p.get("address_id", "")).first()
    if area is None:
        return _error(400, "请用 jurisdiction_id 给出所在村(社区)或网格的区划代码")
    answers = {k[len("attribute[") : -1]: v for k, v in p.items() if k.startswith("attribute[")}
    name = f"{p.get('last_name', '')}{p.get('first_name', '')}".strip()
    fields = dict(
        channel=Channel.OPEN311,
        category_id=category.pk,
        area_id=area.pk,
        content=p.get("description", ""),
        location=p.get("address_string", "")[:200],
        contact_name=name[:50],
        contact_phone=p.get("phone", "")[:20],
        answers=answers,
        latitude=p.get("lat"),
        longitude=p.get("long"),
    )
    try:
        if actor is not None:
            appeal, code = services.appeal_file(actor=actor, **fields)
        else:
            with public_channel(request):
                appeal, code = services.appeal_file(actor=None, **fields)
    except DomainError as exc:
        return _error(exc.status, exc.message)
    if actor is not None:
        out = {
            "service_request_id": str(appeal.pk),
            "service_notice": f"已受理,群众查询码:{code}",
            "account_id": None,
        }
    else:
        out = {
            "service_request_id": code,
            "service_notice": "已受理,请保存查询码(service_request_id)",
            "account_id": None,
        }
    return JsonResponse([out], status=201, safe=False)


urlpatterns = [
    path("services.json", services_list, name="open311_services"),
    path("services/<str:code>.json", service_definition, name="open311_service"),
    path("requests.json", requests_json, name="open311_requests"),
    path("requests/<str:request_id>.json", request_json, name="open311_request"),
]
