"""Visits JSON API: visits, offline sync, due list, coverage, the offline pack for the phone.
Thin: parse, look objects up through the scoping queryset, call one service or selector."""

from uuid import UUID

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from minqing.areas.models import Area
from minqing.core.permissions import require
from minqing.core.public import public_channel, public_throttles
from minqing.core.schemas import IsoDate
from minqing.core.scoping import get_visible_or_404
from minqing.registry.models import Household, Tag

from . import selectors, services
from .models import Survey, SyncConflict, Visit
from .schemas import (
    ConflictOut,
    CoverageOut,
    DueOut,
    NoteIn,
    OfflinePackOut,
    PairingEndIn,
    PairingIn,
    PairingOut,
    PhotoOut,
    PublicAnswerIn,
    PublicResponseOut,
    ResponseOut,
    SurveyAnswerIn,
    SurveyOut,
    SurveyResultsOut,
    SyncIn,
    SyncResultOut,
    VisitIn,
    VisitOut,
    pairing_out,
    visit_out,
)

router = Router()


def _kwargs(body: VisitIn) -> dict:
    data = body.dict()
    return services.visit_payload_kwargs(data) | {"client_id": data["client_id"]}


@router.get("/visits", response=list[VisitOut])
@paginate
def list_visits(
    request,
    household_id: int | None = None,
    area_id: int | None = None,
    start: IsoDate | None = None,
    end: IsoDate | None = None,
):
    """Visits in the caller's jurisdiction, newest first; filter by household, area, dates."""
    require(request.user, "visits.view")
    qs = Visit.objects.visible_to(request.user)
    if household_id is not None:
        qs = qs.filter(household_id=household_id)
    if area_id is not None:
        qs = qs.within(get_visible_or_404(Area, request.user, pk=area_id))
    if start is not None:
        qs = qs.filter(visited_at__gte=selectors.day_start(start))
    if end is not None:
        qs = qs.filter(visited_at__lt=selectors.day_start(end) + timezone.timedelta(days=1))
    return [visit_out(v) for v in selectors.visit_rows(qs.order_by("-visited_at", "-id"))]


@router.post("/visits", response={201: VisitOut, 200: VisitOut})
def create_visit(request, body: VisitIn):
    """Record a visit with its findings. With `client_id`, the same upload again answers 200
    with the visit already stored."""
    if body.client_id is not None:
        existing = services.visit_by_client_id(actor=request.user, client_id=body.client_id)
        if existing is not None:
            return Status(200, visit_out(_visit(request, existing.pk)))
    visit = services.visit_record(actor=request.user, **_kwargs(body))
    return Status(201, visit_out(_visit(request, visit.pk)))


def _visit(request, pk: int) -> Visit:
    return get_visible_or_404(selectors.visit_rows(Visit.objects.all()), request.user, pk=pk)


@router.get("/visits/{int:visit_id}", response=VisitOut)
def get_visit(request, visit_id: int):
    require(request.user, "visits.view")
    return visit_out(_visit(request, visit_id))


@router.post("/visits/{int:visit_id}/notes", response={201: VisitOut})
def add_note(request, visit_id: int, body: NoteIn):
    """补记: add a dated note (visits are not edited after 24 hours)."""
    visit = _visit(request, visit_id)
    services.visit_add_note(actor=request.user, visit=visit, text=body.text)
    return Status(201, visit_out(_visit(request, visit_id)))


@router.post("/sync", response=list[SyncResultOut])
def sync(request, body: SyncIn):
    """Visits queued offline, in one request: each stored once (by client_id); one that
    cannot be stored is kept as a conflict and listed for the cadre."""
    items = [v.model_dump() for v in body.visits]
    # the user itself, not the request's lazy wrapper: hundreds of rows read it
    results = services.visit_sync(
        actor=getattr(request.user, "_wrapped", request.user), items=items
    )
    # Already in the documented shape: serialised as is, not re-validated row by row.
    return JsonResponse(results, safe=False)


@router.post("/visits/{int:visit_id}/photos", response={201: PhotoOut, 200: PhotoOut})
def add_photo(request, visit_id: int, client_id: Form[str] = "", file: File[UploadedFile] = None):
    """A photo queued offline with a visit, sent after the visit was synced (multipart:
    `file`, and `client_id` generated on the phone: the same photo is stored once)."""
    visit = get_visible_or_404(Visit, request.user, pk=visit_id)
    if file is None:
        from minqing.core.errors import ValidationFailed

        raise ValidationFailed(_("请选择照片"))
    before = visit.photos.filter(client_id=client_id).exists() if _is_uuid(client_id) else False
    photo = services.visit_photo_add(
        actor=request.user, visit=visit, upload=file, client_id=client_id
    )
    out = {"id": photo.pk, "visit_id": photo.visit_id, "content_type": photo.content_type}
    return Status(200 if before else 201, out)


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@router.get("/conflicts", response=list[ConflictOut])
def conflicts(request, open_only: bool = True, client_id: Query[list[UUID]] = None):
    """The caller's offline visits kept on sync; `client_id` (repeatable, up to 200) asks
    for those only, resolved or not: the phone learns how the conflicts its photos wait
    on were resolved (stored: `visit_id`; dismissed: `resolved_at` without a visit)."""
    qs = SyncConflict.objects.of(request.user)
    if client_id:
        return list(qs.filter(client_id__in=client_id[:200]))
    return list(qs.open() if open_only else qs)


@router.post("/conflicts/{int:conflict_id}/retry", response={201: VisitOut})
def conflict_retry(request, conflict_id: int):
    conflict = get_object_or_404(SyncConflict.objects.of(request.user), pk=conflict_id)
    visit = services.sync_conflict_retry(actor=request.user, conflict=conflict)
    return Status(201, visit_out(_visit(request, visit.pk)))


@router.post("/conflicts/{int:conflict_id}/dismiss", response=ConflictOut)
def conflict_dismiss(request, conflict_id: int):
    conflict = get_object_or_404(SyncConflict.objects.of(request.user), pk=conflict_id)
    return services.sync_conflict_dismiss(actor=request.user, conflict=conflict)


def due_out(item, today) -> dict:
    h = item.household
    return {
        "household_id": item.household_id,
        "household_number": h.number,
        "head_name": h.head.name if h.head_id else "",
        "address": h.address,
        "grid_name": h.grid.name,
        "due": item.due,
        "overdue_days": item.overdue_days(today),
        "reasons": item.reasons,
        "last_visited_at": item.last_visited_at,
    }


@router.get("/due", response=list[DueOut])
def due(request, horizon_days: int = selectors.DUE_HORIZON_DAYS, limit: int = 200):
    """Households due or overdue for a visit (must-visit rules and follow-ups), nearest
    first."""
    require(request.user, "visits.view")
    today = timezone.localdate()
    items, _total = selectors.due_list(
        fetched_by=request.user,
        today=today,
        limit=max(1, min(limit, 1000)),
        horizon_days=max(0, min(horizon_days, 366)),
    )
    return [due_out(i, today) for i in items]


@router.get("/coverage", response=CoverageOut)
def coverage(request, area_id: int, start: IsoDate, end: IsoDate):
    """全覆盖 for an area and a period: visited / total by grid, village, grid worker, rule."""
    require(request.user, "visits.coverage")
    area = get_visible_or_404(Area, request.user, pk=area_id)
    if end < start:
        start, end = end, start
    r = selectors.coverage(fetched_by=request.user, area=area, start=start, end=end)
    return {
        "area_id": area.pk,
        "start": start,
        "end": end,
        "total": r.total,
        "visited": r.visited,
        "unvisited": r.unvisited,
        "rate": r.rate,
        "by_grid": [_row(x["grid"], x) for x in r.by_grid],
        "by_village": [_row(x["area"], x) for x in r.by_village],
        "by_cadre": [
            {
                "user_id": x["user"].pk if x["user"] else None,
                "name": str(x["user"]) if x["user"] else "",
                "total": x["total"],
                "visited": x["visited"],
                "unvisited": x["unvisited"],
            }
            for x in r.by_cadre
        ],
        "by_rule": [
            {
                "rule_id": x["rule"].pk,
                "name": x["rule"].name,
                "required": x["required"],
                "total": x["total"],
                "compliant": x["compliant"],
            }
            for x in r.by_rule
        ],
    }


def _row(area, x) -> dict:
    return {
        "area_id": area.pk,
        "name": area.name,
        "total": x["total"],
        "visited": x["visited"],
        "unvisited": x["unvisited"],
    }


@router.get("/offline-pack", response=OfflinePackOut)
def offline_pack(request):
    """What the phone keeps for offline work: the due list and the jurisdiction's households
    (masked phone, no 身份证号), with their living members for the visit form."""
    require(request.user, "visits.record")
    today = timezone.localdate()
    items, _total = selectors.due_list(fetched_by=request.user, today=today, limit=500)
    households, truncated = selectors.offline_households(fetched_by=request.user)
    return {
        "generated_at": timezone.now(),
        "due": [due_out(i, today) for i in items],
        "households": households,
        "truncated": truncated,
        "tags": [
            {"code": t.code, "name": t.name, "personal": t.scope == Tag.Scope.RESIDENT}
            for t in Tag.objects.order_by("order", "name")
        ],
    }


# ---------------------------------------------------------------- questionnaires


def _survey_out(s) -> dict:
    return {
        "id": s.pk,
        "title": s.title,
        "description": s.description,
        "area_id": s.area_id,
        "status": s.status,
        "created_at": s.created_at,
        "questions": list(s.questions.all()),
    }


@router.get("/surveys", response=list[SurveyOut])
def list_surveys(request):
    """Surveys of the caller's areas (and of the areas above them, which they fill)."""
    require(request.user, "visits.view")
    qs = Survey.objects.visible_to(request.user).prefetch_related("questions")
    return [_survey_out(s) for s in qs]


@router.get("/surveys/{int:survey_id}/results", response=SurveyResultsOut)
def survey_results(request, survey_id: int, area_id: int, start: IsoDate, end: IsoDate):
    """Counts per option, average scores, texts, and the satisfaction index per area."""
    require(request.user, "visits.view")
    survey = get_visible_or_404(Survey, request.user, pk=survey_id)
    area = get_visible_or_404(Area, request.user, pk=area_id)
    res = selectors.survey_results(
        fetched_by=request.user, survey=survey, area=area, start=start, end=end
    )
    index = selectors.satisfaction_index(fetched_by=request.user, area=area, start=start, end=end)
    return {
        "survey_id": survey.pk,
        "area_id": area.pk,
        "start": start,
        "end": end,
        "responses": res["responses"],
        "questions": [
            {
                "question_id": r["question"].pk,
                "kind": r["question"].kind,
                "text": r["question"].text,
                "options": r.get("options"),
                "average": r.get("average"),
                "count": r.get("count"),
                "texts": r.get("texts"),
            }
            for r in res["questions"]
        ],
        "satisfaction": [
            {"area_id": g["area"].pk, "name": g["area"].name, "index": g["index"], "n": g["n"]}
            for g in index
        ],
    }


@router.post("/surveys/{int:survey_id}/responses", response={201: ResponseOut})
def answer_survey(request, survey_id: int, body: SurveyAnswerIn):
    """A cadre records a household's answers (one per household; refused once closed)."""
    survey = get_visible_or_404(Survey, request.user, pk=survey_id)
    household = get_visible_or_404(Household, request.user, pk=body.household_id)
    visit = None
    if body.visit_id is not None:
        visit = get_visible_or_404(Visit, request.user, pk=body.visit_id)
    r = services.survey_answer(
        actor=request.user, survey=survey, household=household, answers=body.answers, visit=visit
    )
    return Status(201, r)


@router.post(
    "/public/surveys/{token}/responses",
    response={201: PublicResponseOut},
    auth=None,
    throttle=public_throttles("survey_answer", "10/m"),
)
def answer_survey_public(request, token: str, body: PublicAnswerIn):
    """The public link: a resident answers without an account, naming the household by its
    number and the last four digits of its phone. Throttled per address."""
    with public_channel(request):
        services.survey_answer_public(
            token=token,
            household_number=body.household_number,
            phone_tail=body.phone_tail,
            answers=body.answers,
        )
    return Status(201, {"ok": True})


# ---------------------------------------------------------------- pairings (结对帮扶)


@router.get("/pairings", response=list[PairingOut])
@paginate
def list_pairings(request, cadre_id: int | None = None, include_ended: bool = False):
    """Pairings the caller sees (their jurisdiction, and their own), households in order."""
    from .models import Pairing

    require(request.user, "visits.view")
    qs = Pairing.objects.visible_to(request.user).select_related("cadre", "household")
    if not include_ended:
        qs = qs.filter(end_date__isnull=True)
    if cadre_id is not None:
        qs = qs.filter(cadre_id=cadre_id)
    return [pairing_out(p) for p in qs.order_by("household_id", "-start_date", "-id")]


@router.post("/pairings", response={201: PairingOut})
def create_pairing(request, body: PairingIn):
    """结对: a cadre becomes answerable for a household (409 if already paired)."""
    household = get_visible_or_404(Household, request.user, pk=body.household_id)
    pairing = services.pairing_create(
        actor=request.user,
        cadre=body.cadre_id,
        household=household,
        start_date=body.start_date or timezone.localdate(),
    )
    return Status(201, pairing_out(pairing))


@router.post("/pairings/{int:pairing_id}/end", response=PairingOut)
def end_pairing(request, pairing_id: int, body: PairingEndIn):
    from .models import Pairing

    pairing = get_object_or_404(Pairing.objects.visible_by_area(request.user), pk=pairing_id)
    pairing = services.pairing_end(
        actor=request.user,
        pairing=pairing,
        end_date=body.end_date or timezone.localdate(),
        reason=body.reason,
    )
    return pairing_out(pairing)
