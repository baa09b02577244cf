"""Appeals JSON API. Thin: parse, look the appeal up through its scope, call one service.
Public operations (auth=None, throttled per client, audit channel "public") sit under
/api/appeals/public/: filing from the web form, tracking and rating with the code."""

import json

from django.http import Http404, HttpRequest, HttpResponse
from ninja import File, Router, UploadedFile
from ninja.pagination import paginate
from ninja.responses import NinjaJSONEncoder, Status

from minqing.areas.models import Area, Level
from minqing.core.attachments import attachment_response
from minqing.core.paging import MappedRows
from minqing.core.permissions import require
from minqing.core.public import public_channel, public_throttles
from minqing.core.scoping import get_visible_or_404
from minqing.core.timeline import timeline_for

from . import routing, selectors, services
from .models import Appeal, Category, Channel, Meeting, Reception
from .public import track_view
from .schemas import (
    AppealDetailOut,
    AppealIn,
    AppealOut,
    AssignIn,
    AttachmentOut,
    CategoryOut,
    CommentIn,
    DuplicateVerdictIn,
    FiledOut,
    MediateIn,
    MeetingIn,
    MeetingOut,
    PublicAppealIn,
    RateIn,
    ReasonIn,
    RecategoriseIn,
    ReceptionIn,
    ReceptionOut,
    ReplyIn,
    ResolveIn,
    SuggestIn,
    TimelineOut,
    TrackOut,
    appeal_out,
    meeting_out,
    reception_out,
)

router = Router()

_DETAIL = ("category", "area", "handling_area", "owner", "unit")


def _appeal(request, pk: int) -> Appeal:
    require(request.user, "appeals.view")
    return get_visible_or_404(Appeal.objects.select_related(*_DETAIL), request.user, pk=pk)


def _detail(request, appeal) -> dict:
    appeal = Appeal.objects.select_related(*_DETAIL).get(pk=appeal.pk)
    return appeal_out(appeal, detail=True, user=request.user)


@router.get("/categories", response=list[CategoryOut])
def categories(request):
    """The active categories, with deadlines per level and their extra questions."""
    return list(Category.objects.filter(is_active=True))


@router.get("/", response=list[AppealOut])
@paginate
def list_appeals(
    request,
    state: str = "",
    category: str = "",
    area_id: int | None = None,
    unit_id: int | None = None,
    overdue: bool = False,
    kind: str = "",
    q: str = "",
):
    """Appeals in the caller's jurisdiction, plus those given to them or their unit."""
    require(request.user, "appeals.view")
    qs = selectors.appeal_list(
        fetched_by=request.user,
        state=state,
        category=category,
        area_id=area_id,
        unit_id=unit_id,
        overdue=overdue,
        kind=kind,
        q=q,
    )
    return MappedRows(qs, appeal_out)


@router.get("/duties", response=list[AppealOut])
@paginate
def duties(request):
    """My duties (履职清单): what I should act on now, overdue first."""
    require(request.user, "appeals.view")
    return MappedRows(selectors.appeal_duties(fetched_by=request.user), appeal_out)


@router.get("/stats")
def stats(request):
    """Matters solved per level (小事不出村) and micro-matters claimed per leader."""
    require(request.user, "appeals.view")
    return {
        "solved_by_level": selectors.solved_by_level(fetched_by=request.user),
        "leaders": list(selectors.leader_claims(fetched_by=request.user)),
    }


@router.post("/suggest")
def suggest(request, payload: SuggestIn):
    """智能派单: proposed categories (with their default unit) and likely duplicates among
    the open matters of the same village. A proposal only: the dispatcher decides."""
    require(request.user, "appeals.file")
    text = payload.content[:5000]
    duplicates = []
    if payload.area_id:
        area = Area.objects.visible_to(request.user).filter(pk=payload.area_id).first()
        if area is not None and area.level >= Level.VILLAGE:
            duplicates = [
                {"id": a.pk, "title": a.title, "state": a.state, "score": s}
                for a, s in routing.duplicate_suggest(
                    fetched_by=request.user, text=text, area=area, category_id=payload.category_id
                )
            ]
    return {"categories": routing.route_suggest(text), "duplicates": duplicates}


@router.post("/", response={201: FiledOut})
def create(request, payload: AppealIn):
    """Officers' intake from any channel (walk-in, hotline, letter, visit, own entry)."""
    appeal, code = services.appeal_file(actor=request.user, **payload.dict())
    return Status(
        201,
        {
            "id": appeal.pk,
            "tracking_code": code,
            "state": appeal.state,
            "expected_datetime": appeal.due_at,
        },
    )


@router.get("/{int:pk}", response=AppealDetailOut)
def detail(request, pk: int):
    return appeal_out(_appeal(request, pk), detail=True, user=request.user)


@router.get("/{int:pk}/timeline", response=list[TimelineOut])
def timeline(request, pk: int):
    return timeline_for(_appeal(request, pk), fetched_by=request.user)


def _action(name, schema=None):
    """One POST endpoint per workflow action, each calling its service."""

    def make(call):
        if schema is None:

            def endpoint(request, pk: int, payload: CommentIn):
                appeal = _appeal(request, pk)
                return _detail(request, call(request, appeal, payload))

        else:

            def endpoint(request, pk: int, payload: schema):  # type: ignore[valid-type]
                appeal = _appeal(request, pk)
                return _detail(request, call(request, appeal, payload))

        endpoint.__name__ = f"appeal_{name}"
        router.post(f"/{{int:pk}}/{name}", response=AppealDetailOut, url_name=f"appeal_{name}")(
            endpoint
        )
        return call

    return make


@_action("claim")
def _claim(request, a, p):
    return services.appeal_claim(actor=request.user, appeal=a, comment=p.comment)


@_action("assign", AssignIn)
def _assign(request, a, p):
    return services.appeal_assign(actor=request.user, appeal=a, **p.dict())


@_action("start")
def _start(request, a, p):
    return services.appeal_start(actor=request.user, appeal=a, comment=p.comment)


@_action("return", ReasonIn)
def _return(request, a, p):
    return services.appeal_return(actor=request.user, appeal=a, reason=p.reason)


@_action("escalate", ReasonIn)
def _escalate(request, a, p):
    return services.appeal_escalate(actor=request.user, appeal=a, reason=p.reason)


@_action("supervise", CommentIn)
def _supervise(request, a, p):
    return services.appeal_supervise(actor=request.user, appeal=a, comment=p.comment)


@_action("resolve", ResolveIn)
def _resolve(request, a, p):
    return services.appeal_resolve(actor=request.user, appeal=a, **p.dict())


@_action("rate", RateIn)
def _rate(request, a, p):
    return services.appeal_rate(actor=request.user, appeal=a, **p.dict())


@_action("reopen", ReasonIn)
def _reopen(request, a, p):
    return services.appeal_reopen(actor=request.user, appeal=a, reason=p.reason)


@_action("archive")
def _archive(request, a, p):
    return services.appeal_archive(actor=request.user, appeal=a, comment=p.comment)


@_action("mediate", MediateIn)
def _mediate(request, a, p):
    return services.dispute_mediate(actor=request.user, appeal=a, **p.dict())


@_action("recategorise", RecategoriseIn)
def _recategorise(request, a, p):
    return services.appeal_recategorise(actor=request.user, appeal=a, **p.dict())


@router.get("/{int:pk}/duplicates")
def duplicates(request, pk: int):
    """Likely duplicates of this matter among the open matters of its village (a proposal),
    and the pairs already judged."""
    a = _appeal(request, pk)
    require(request.user, "appeals.file")
    return {
        "proposed": [
            {"id": o.pk, "title": o.title, "state": o.state, "score": s}
            for o, s in selectors.duplicate_proposals(fetched_by=request.user, appeal=a)
        ],
        "judged": [
            {"id": o.pk, "title": o.title, "state": o.state, "same": same}
            for o, same in selectors.duplicate_verdicts(fetched_by=request.user, appeal=a)
        ],
    }


@router.post("/{int:pk}/duplicates", response={201: dict})
def judge_duplicate(request, pk: int, payload: DuplicateVerdictIn):
    """A dispatcher's verdict on a proposed duplicate: the same matter or not. Later
    suggestions learn from it."""
    v = services.duplicate_judge(actor=request.user, appeal=_appeal(request, pk), **payload.dict())
    other = v.second_id if v.first_id == pk else v.first_id
    return Status(201, {"id": pk, "other_id": other, "same": v.same})


@router.post("/{int:pk}/replies", response={201: TimelineOut})
def reply(request, pk: int, payload: ReplyIn):
    r = services.appeal_reply(actor=request.user, appeal=_appeal(request, pk), **payload.dict())
    title = "答复群众" if r.is_public else "内部备注"
    return Status(
        201,
        {
            "at": r.at,
            "kind": "reply",
            "title": title,
            "text": r.text,
            "actor": str(r.author),
        },
    )


@router.get("/{int:pk}/attachments", response=list[AttachmentOut])
def attachments(request, pk: int):
    appeal = _appeal(request, pk)
    return [
        {
            "id": f.pk,
            "name": f.original_name,
            "content_type": f.content_type,
            "size": f.size,
            "is_public": f.is_public,
        }
        for f in appeal.attachments.all()
    ]


@router.post("/{int:pk}/attachments", response={201: AttachmentOut})
def attach(request, pk: int, file: UploadedFile = File(...), is_public: bool = False):
    row = services.appeal_attach(
        actor=request.user, appeal=_appeal(request, pk), upload=file, is_public=is_public
    )
    return Status(
        201,
        {
            "id": row.pk,
            "name": row.original_name,
            "content_type": row.content_type,
            "size": row.size,
            "is_public": row.is_public,
        },
    )


@router.get("/{int:pk}/attachments/{int:att}")
def download(request, pk: int, att: int):
    """Scoped and audited: the appeal through its scope, then its own attachment."""
    appeal = _appeal(request, pk)
    row = appeal.attachments.filter(pk=att).first()
    if row is None:
        raise Http404
    return attachment_response(row, actor=request.user)


# ---- screening meetings and reception duty ------------------------------------------------


@router.get("/meetings", response=list[MeetingOut])
@paginate
def meetings(request):
    require(request.user, "appeals.view")
    qs = (
        Meeting.objects.visible_to(request.user)
        .select_related("area")
        .prefetch_related("appeals")
        .order_by("-held_on", "-id")
    )
    return MappedRows(qs, meeting_out)


@router.get("/meetings/missing")
def meetings_missing(request):
    """Villages without this week's meeting, townships without this half-month's."""
    require(request.user, "appeals.view")
    return [
        {"id": a.pk, "name": a.name, "level": a.level}
        for a in services.meetings_missing(fetched_by=request.user)
    ]


@router.post("/meetings", response={201: MeetingOut})
def meeting_create(request, payload: MeetingIn):
    m = services.meeting_record(actor=request.user, **payload.dict())
    return Status(201, meeting_out(m))


@router.get("/meetings/{int:pk}", response=MeetingOut)
def meeting_detail(request, pk: int):
    require(request.user, "appeals.view")
    return meeting_out(
        get_visible_or_404(Meeting.objects.select_related("area"), request.user, pk=pk)
    )


@router.get("/receptions", response=list[ReceptionOut])
@paginate
def receptions(request):
    require(request.user, "appeals.view")
    qs = Reception.objects.visible_to(request.user).select_related("receiver")
    return MappedRows(qs, reception_out)


@router.post("/receptions", response={201: ReceptionOut})
def reception_create(request, payload: ReceptionIn):
    r = services.reception_record(actor=request.user, **payload.dict())
    return Status(201, reception_out(r))


# ---- public: no account, no login cookie, throttled per client -----------------------------


@router.post(
    "/public/appeals",
    response={201: FiledOut},
    auth=None,
    throttle=public_throttles("appeal_file"),
)
def public_file(request: HttpRequest, payload: PublicAppealIn):
    """The resident's web form: no account; keep the returned tracking code."""
    with public_channel(request):
        appeal, code = services.appeal_file(actor=None, channel=Channel.WEB, **payload.dict())
    # FiledOut, written as ninja's renderer writes it, without validating our own four values
    # back through the schema on every filing (the schema still documents the answer)
    body = {
        "id": appeal.pk,
        "tracking_code": code,
        "state": str(appeal.state),
        "expected_datetime": appeal.due_at,
    }
    return HttpResponse(
        json.dumps(body, cls=NinjaJSONEncoder),
        status=201,
        content_type="application/json; charset=utf-8",
    )


@router.get(
    "/public/track/{code}",
    response=TrackOut,
    auth=None,
    throttle=public_throttles("appeal_track"),
)
def public_track(request: HttpRequest, code: str):
    """State, promised date and public replies; the same 404 for wrong and unknown codes."""
    return track_view(services.appeal_by_code(code))


@router.post(
    "/public/track/{code}/rate",
    response=TrackOut,
    auth=None,
    throttle=public_throttles("appeal_track"),
)
def public_rate(request: HttpRequest, code: str, payload: RateIn):
    """满意 / 基本满意 / 不满意 (不满意 reopens the matter, with the reason)."""
    with public_channel(request):
        appeal = services.appeal_by_code(code)
        appeal = services.appeal_rate(actor=None, appeal=appeal, channel="web", **payload.dict())
    return track_view(Appeal.objects.select_related("category").get(pk=appeal.pk))
