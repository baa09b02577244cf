from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """The login form; throttling is done by django-axes (accounts/throttle.py) for this
    page and /admin/login/ alike."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码不对，请重试。"),
    }
