from django.http import Http404
from ninja import Router
from ninja.pagination import paginate

from .audit import audit_filter
from .inbox import router as inbox_router
from .jobs import alive
from .models import Job
from .permissions import has_perm, registered
from .schemas import AuditEventOut, JobCommitIn, JobOut, JobRemapIn, MeOut, job_out

router = Router()
router.add_router("", inbox_router)


@router.get("/me", response=MeOut)
def me(request):
    """Who am I: role, unit, jurisdiction and the permissions my role grants."""
    user = request.user
    return {
        "id": user.pk,
        "username": user.username,
        "name": str(user),
        "role": user.role,
        "role_label": str(user.get_role_display()),
        "unit": str(user.unit) if user.unit_id else None,
        "areas": [
            {"id": j.area_id, "code": j.area.code, "name": j.area.name}
            for j in user.jurisdictions.select_related("area")
        ],
        "permissions": sorted(p for p in registered() if has_perm(user, p)),
    }


@router.get("/audit", response=list[AuditEventOut])
@paginate
def audit_events(
    request,
    actor: str = "",
    action: str = "",
    target_type: str = "",
    target_id: str = "",
    date_from: str = "",
    date_to: str = "",
):
    """The audit log within the caller's jurisdiction (supervisors, administrators)."""
    params = {
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "date_from": date_from,
        "date_to": date_to,
    }
    return audit_filter(request.user, params)


@router.get("/jobs/{uuid:job_id}", response=JobOut)
def job(request, job_id):
    try:
        job = Job.objects.visible_to(request.user).get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404
    return job_out(alive(job))


@router.post("/jobs/{uuid:job_id}/commit", response=JobOut)
def job_commit(request, job_id, payload: JobCommitIn):
    """Commit an import that passed its dry run (status preview)."""
    from .imports import import_commit

    job = import_commit(actor=request.user, job_id=job_id, strategy=payload.strategy)
    job.refresh_from_db()
    return job_out(job)


@router.post("/jobs/{uuid:job_id}/cancel", response=JobOut)
def job_cancel(request, job_id):
    """Cancel an import after its dry run: nothing is written."""
    from .imports import import_cancel

    return job_out(import_cancel(actor=request.user, job_id=job_id))


@router.post("/jobs/{uuid:job_id}/mapping", response=JobOut)
def job_remap(request, job_id, payload: JobRemapIn):
    """Map columns by hand (or ignore them) and run the dry run again; remembered."""
    from .imports import import_remap

    job = import_remap(actor=request.user, job_id=job_id, mapping=payload.mapping)
    job.refresh_from_db()
    return job_out(job)
