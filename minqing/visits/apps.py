from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "minqing.visits"
    label = "visits"
    verbose_name = _("走访")

    def ready(self) -> None:
        from minqing.accounts.models import Jurisdiction, User
        from minqing.areas.models import Area
        from minqing.core.proc_cache import bump_on_change

        from .selectors import COVERAGE_AREAS

        # coverage's grids with their grid workers
        bump_on_change(COVERAGE_AREAS, Area, User, Jurisdiction)
