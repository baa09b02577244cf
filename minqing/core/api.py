from django.http import Http404
from ninja import Router
from ninja.pagination import paginate

from .inbox import router as inbox_router
from .models import Job
from .permissions import has_perm, registered
from .schemas import AuditEventOut, JobOut, MeOut, job_out
from .views import audit_filter

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
        return job_out(Job.objects.visible_to(request.user).get(pk=job_id))
    except Job.DoesNotExist:
        raise Http404
