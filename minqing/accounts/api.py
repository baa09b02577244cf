from ninja import Router
from ninja.pagination import paginate

from .schemas import StaffOut
from .views import staff_list

router = Router()


@router.get("/staff", response=list[StaffOut])
@paginate
def list_staff(request, role: str = "", q: str = ""):
    """Staff within the caller's jurisdiction."""
    return [
        {
            "id": u.pk,
            "username": u.username,
            "name": str(u),
            "role": u.role,
            "role_label": str(u.get_role_display()),
            "unit": str(u.unit) if u.unit_id else None,
            "areas": [j.area.name for j in u.jurisdictions.all()],
        }
        for u in staff_list(fetched_by=request.user, role=role, q=q)
    ]
