from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "minqing.accounts"
    label = "accounts"
    verbose_name = _("账号与单位")

    def ready(self) -> None:
        from minqing.core.proc_cache import bump_on_change

        from . import signals  # noqa: F401
        from .models import ApiToken, Jurisdiction, User

        bump_on_change("api-tokens", ApiToken, User, Jurisdiction)
