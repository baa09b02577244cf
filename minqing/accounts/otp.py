"""Second factor (TOTP through django-otp) after the password, for the roles that need it.

Political-legal officers read crime tips, so their password alone is not enough: after the
usual login, `SecondFactorMiddleware` sends them to enrol a TOTP app (first time only) or to
type the current code; until then every page redirects there and the API answers 403.
The login form itself is untouched (its throttle belongs to accounts/forms.py).
"""

import base64

import segno
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from minqing.core.audit import audit_record

OPEN_PATHS = ("/accounts/otp/", "/logout/", "/static/", "/i18n/", "/jsi18n/", "/healthz")
PASSWORD_CHANGE_PATH = "/accounts/password/"


def otp_required(user) -> bool:
    return bool(user.is_authenticated and getattr(user, "role", "") in settings.OTP_REQUIRED_ROLES)


def confirmed_device(user):
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


class SecondFactorMiddleware:
    """The steps between the password and the site: the second factor for the roles that need
    one, then (accounts an administrator made) the change of the initial password."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and otp_required(user)
            and not user.is_verified()
            and not request.path.startswith(OPEN_PATHS)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": _("请先完成双因素验证"), "code": "otp_required"}, status=403
                )
            if request.headers.get("HX-Request"):
                # a fragment (the inbox badge) must not swap the whole verify page into the
                # page that asks for it: refuse it, the page itself is already the verify step
                return HttpResponse(status=403)
            return redirect(f"{reverse('accounts:otp_verify')}?next={request.path}")
        if (
            user is not None
            and getattr(user, "must_change_password", False)
            and not request.path.startswith((*OPEN_PATHS, PASSWORD_CHANGE_PATH))
        ):
            # an account an administrator made: its first password was typed by someone else
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": _("请先修改初始密码"), "code": "password_change_required"},
                    status=403,
                )
            if request.headers.get("HX-Request"):
                return HttpResponse(status=403)
            return redirect(reverse("accounts:password_change"))
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("动态验证码"),
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


def _safe_next(request) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") else reverse("home")


@login_required
def verify(request):
    """The step after the password: the six-digit code of the enrolled device."""
    device = confirmed_device(request.user)
    if device is None:
        return redirect(f"{reverse('accounts:otp_setup')}?next={_safe_next(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _info = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["token"].strip()):
            otp_login(request, device)
            audit_record(actor=request.user, action="accounts.otp_verify", obj=request.user)
            return redirect(_safe_next(request))
        audit_record(actor=request.user, action="accounts.otp_failed", obj=request.user)
        form.add_error("token", _("验证码不对或已过期,请重试。"))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _safe_next(request)})


@login_required
def setup(request):
    """Enrol a TOTP app. Without a confirmed device anyone logged in may enrol one; with one,
    only a session already verified by it may replace it."""
    user = request.user
    existing = confirmed_device(user)
    if existing is not None and not user.is_verified():
        return redirect("accounts:otp_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="TOTP", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            TOTPDevice.objects.filter(user=user, confirmed=True).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit_record(actor=user, action="accounts.otp_enrol", obj=user)
            return redirect(_safe_next(request))
        form.add_error("token", _("验证码不对,请检查手机时间后重试。"))
    secret = base64.b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4)
    return render(
        request,
        "accounts/otp_setup.html",
        {"form": form, "secret": secret, "qr": qr, "next": _safe_next(request)},
    )
