from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppealsConfig(AppConfig):
    name = "minqing.appeals"
    label = "appeals"
    verbose_name = _("诉求")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import workflow  # noqa: F401  registers the appeal workflow
