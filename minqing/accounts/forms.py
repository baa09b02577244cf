from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from minqing.core.roles import Role


class LoginForm(AuthenticationForm):
    """The login form; throttling is done by django-axes (accounts/throttle.py) for this
    page and /admin/login/ alike."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码不对，请重试。"),
    }


class UserCreateForm(forms.Form):
    """A new staff account as an administrator fills it in; the rules are the services'
    (accounts.services.user_create) and the area/unit lookups' (areas_from_text, unit_by_name)."""

    username = forms.CharField(label=_("用户名"), max_length=150)
    full_name = forms.CharField(label=_("姓名"), max_length=40)
    role = forms.ChoiceField(label=_("角色"))
    areas = forms.CharField(
        label=_("管辖区域"),
        max_length=2000,
        help_text=_("区域名称或区划代码,多个用顿号分开,例如:七星村、鹤岭镇"),
    )
    unit = forms.CharField(label=_("单位"), max_length=100, required=False)
    phone = forms.CharField(label=_("手机号"), max_length=30, required=False)
    password1 = forms.CharField(label=_("初始密码"), max_length=128, strip=False)
    password2 = forms.CharField(label=_("再输一次初始密码"), max_length=128, strip=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [
            (value, label)
            for value, label in Role.choices
            if value != Role.ADMIN or actor.is_superuser
        ]

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致"))
        return data
