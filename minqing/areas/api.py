from ninja import File, Router, UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from minqing.core.imports import import_start
from minqing.core.permissions import require
from minqing.core.schemas import JobOut, job_out
from minqing.core.scoping import get_visible_or_404

from .models import Area
from .schemas import AreaIn, AreaOut, AreaRenameIn
from .services import area_create, area_rename

router = Router()


@router.get("/", response=list[AreaOut])
@paginate
def list_areas(request, parent_id: int | None = None, level: int | None = None, q: str = ""):
    """Areas in the caller's jurisdiction, optionally the children of one area."""
    require(request.user, "areas.view")
    qs = Area.objects.visible_to(request.user).order_by("path")
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    if level is not None:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(name__contains=q)
    return qs


@router.get("/{int:area_id}", response=AreaOut)
def get_area(request, area_id: int):
    require(request.user, "areas.view")
    return get_visible_or_404(Area, request.user, pk=area_id)


@router.post("/", response={201: AreaOut})
def create_area(request, payload: AreaIn):
    parent = (
        get_visible_or_404(Area, request.user, pk=payload.parent_id)
        if payload.parent_id is not None
        else None
    )
    area = area_create(
        actor=request.user, parent=parent, level=payload.level, code=payload.code, name=payload.name
    )
    return Status(201, area)


@router.patch("/{int:area_id}", response=AreaOut)
def rename_area(request, area_id: int, payload: AreaRenameIn):
    area = get_visible_or_404(Area, request.user, pk=area_id)
    return area_rename(actor=request.user, area=area, name=payload.name)


@router.post("/import", response={202: JobOut})
def import_areas(request, file: UploadedFile = File(...)):
    """Upload an xlsx/csv of areas; all-or-nothing. Poll /api/core/jobs/{id}."""
    job = import_start(actor=request.user, kind="areas", upload=file)
    job.refresh_from_db()
    return Status(202, job_out(job))
