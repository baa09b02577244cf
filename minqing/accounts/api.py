from ninja import Router
from ninja.pagination import paginate
from ninja.responses import Status

from minqing.areas.selectors import areas_from_text
from minqing.core.permissions import require

from .schemas import StaffIn, StaffOut
from .selectors import unit_by_name
from .services import staff_phone, user_create
from .views import staff_list

router = Router()


@router.get("/staff", response=list[StaffOut])
@paginate
def list_staff(request, role: str = "", q: str = ""):
    """Staff within the caller's jurisdiction (one page of them, with their areas)."""
    return staff_list(fetched_by=request.user, role=role, q=q)


@router.post("/staff", response={201: StaffOut})
def create_staff(request, payload: StaffIn):
    """An administrator creates an account inside their jurisdiction (accounts.manage)."""
    require(request.user, "accounts.manage")
    user = user_create(
        actor=request.user,
        username=payload.username,
        password=payload.password,
        role=payload.role,
        full_name=payload.full_name.strip(),
        unit=unit_by_name(fetched_by=request.user, text=payload.unit),
        areas=areas_from_text(fetched_by=request.user, text="、".join(payload.areas)),
        phone=staff_phone(payload.phone),
    )
    return Status(201, staff_list(fetched_by=request.user).get(pk=user.pk))
