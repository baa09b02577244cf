from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppealsConfig(AppConfig):
    name = "minqing.appeals"
    label = "appeals"
    verbose_name = _("诉求")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from minqing.areas.models import Area
        from minqing.core.proc_cache import bump_on_change

        from . import routing, workflow  # noqa: F401  workflow registers the appeal workflow
        from .models import Category

        bump_on_change("appeal-categories", Category)
        bump_on_change("appeal-categories-all", Category)
        bump_on_change(routing.ROUTER_VERSION, Category)  # the router is built from them
        bump_on_change("appeal-areas", Area)
        bump_on_change("appeal-waiting-areas", Area)
