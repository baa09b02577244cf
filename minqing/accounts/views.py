from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import render

from minqing.core.permissions import require
from minqing.core.roles import Role

from .models import Jurisdiction, User


def staff_list(*, fetched_by, role: str = "", q: str = ""):
    """Staff whose jurisdiction lies inside the viewer's, with their areas (no query per row)."""
    require(fetched_by, "accounts.view")
    qs = (
        User.objects.visible_to(fetched_by)
        .filter(is_active=True)
        .select_related("unit")
        .prefetch_related(
            Prefetch("jurisdictions", queryset=Jurisdiction.objects.select_related("area"))
        )
        .order_by("role", "username")
    )
    if role:
        qs = qs.filter(role=role)
    if q:
        qs = qs.filter(username__icontains=q) | qs.filter(
            last_name__icontains=q[:1], first_name__icontains=q[1:]
        )
    return qs


@login_required
def index(request):
    qs = staff_list(
        fetched_by=request.user,
        role=request.GET.get("role", ""),
        q=request.GET.get("q", "").strip(),
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/index.html",
        {"page": page, "roles": Role.choices, "filters": request.GET, "query": query.urlencode()},
    )
