from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from minqing.core.middleware import client_address


class ThrottledAuthenticationForm(AuthenticationForm):
    """Blocks a username (from one address) after repeated failures, for a while."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码不对,请重试。"),
        "throttled": _("登录失败次数过多,请 %(minutes)d 分钟后再试。"),
    }

    def _key(self) -> str:
        username = (self.data.get("username") or "").strip().lower()
        return f"login-fail:{client_address(self.request)}:{username}"

    def clean(self):
        key = self._key()
        limit = settings.LOGIN_FAILURE_LIMIT
        if cache.get(key, 0) >= limit:
            from .signals import login_refused_record

            login_refused_record(
                username=(self.data.get("username") or "").strip(), action="auth.login_throttled"
            )
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": settings.LOGIN_LOCKOUT_SECONDS // 60},
            )
        try:
            return super().clean()
        except ValidationError:
            cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)
            raise
