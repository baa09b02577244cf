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

from minqing.areas.selectors import areas_from_text
from minqing.core.audit import audit_record
from minqing.core.errors import DomainError
from minqing.core.forms import submit
from minqing.core.permissions import has_perm, require
from minqing.core.roles import Role

from .forms import UserCreateForm
from .models import Jurisdiction, User
from .otp import otp_required
from .selectors import unit_by_name, units_offered
from .services import staff_phone, user_create
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
        {
            "page": page,
            "roles": Role.choices,
            "filters": request.GET,
            "query": query.urlencode(),
            "may_create": has_perm(request.user, "accounts.manage"),
        },
    )


@login_required
def user_new(request):
    """An administrator creates a staff account inside their jurisdiction: role, areas by name
    or code, unit, a first password the owner must change at the first login."""
    require(request.user, "accounts.manage")
    form = UserCreateForm(request.POST or None, actor=request.user)

    def create(data):
        return user_create(
            actor=request.user,
            username=data["username"],
            password=data["password1"],
            role=data["role"],
            full_name=data["full_name"].strip(),
            unit=unit_by_name(fetched_by=request.user, text=data["unit"]),
            areas=areas_from_text(fetched_by=request.user, text=data["areas"]),
            phone=staff_phone(data["phone"]),
        )

    outcome = submit(request, form, create)
    if outcome.done:
        messages.success(
            request,
            _("账号 %(u)s 已创建。请把初始密码当面告诉本人,首次登录时须修改。")
            % {"u": outcome.value.username},
        )
        return redirect("accounts:index")
    return render(
        request,
        "accounts/user_new.html",
        {"form": form, "units": units_offered(fetched_by=request.user)},
        status=outcome.status,
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
        user = self.request.user
        if user.must_change_password:
            user.must_change_password = False
            user.save(update_fields=["must_change_password"])
        audit_record(actor=user, action="auth.password_change", obj=user)
        messages.success(self.request, _("密码已修改"))
        return response
