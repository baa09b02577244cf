from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from minqing.core.audit import audit_record
from minqing.core.errors import DomainError
from minqing.core.permissions import has_perm, require
from minqing.core.roles import Role

from .models import Jurisdiction, User
from .otp import otp_required
from .tokens import api_token_create, api_token_revoke, token_owner_for, tokens_of


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


@login_required
def tokens(request):
    """The caller's personal API tokens: create (the secret is shown once), list, revoke."""
    created = None
    error = None
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                token = get_object_or_404(
                    tokens_of(fetched_by=request.user), pk=_int(request.POST["revoke"])
                )
                api_token_revoke(actor=request.user, token=token)
                messages.success(request, _("令牌 %(p)s… 已吊销") % {"p": token.prefix})
                return redirect("accounts:tokens")
            owner = token_owner_for(actor=request.user, username=request.POST.get("user", ""))
            token, raw = api_token_create(
                actor=request.user,
                user=owner,
                name=request.POST.get("name", ""),
                second_factor=request.user.is_verified(),
            )
            created = {"token": token, "raw": raw}
        except DomainError as exc:
            error = exc.message
    response = render(
        request,
        "accounts/tokens.html",
        {
            "tokens": tokens_of(fetched_by=request.user),
            "created": created,
            "error": error,
            "for_others": has_perm(request.user, "accounts.manage"),
            "otp_days": settings.OTP_TOKEN_MAX_AGE_DAYS if otp_required(request.user) else None,
        },
        status=400 if error else 200,
    )
    response["Cache-Control"] = "no-store"  # the new secret must not stay in a cache
    return response


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404


class PasswordChange(auth_views.PasswordChangeView):
    """Every user changes their own password; the rules of AUTH_PASSWORD_VALIDATORS apply."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(actor=self.request.user, action="auth.password_change", obj=self.request.user)
        messages.success(self.request, _("密码已修改"))
        return response
