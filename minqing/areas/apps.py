from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AreasConfig(AppConfig):
    name = "minqing.areas"
    label = "areas"
    verbose_name = _("区域")

    def ready(self):
        from minqing.core.proc_cache import bump_on_change

        from .models import Area

        bump_on_change("areas", Area)  # areas.selectors' per-process copy
