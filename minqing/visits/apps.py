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
        from minqing.registry.models import Tag

        from .models import VisitRule
        from .selectors import COVERAGE_AREAS, COVERAGE_RULES

        # coverage's grids with their grid workers, and its rules
        bump_on_change(COVERAGE_AREAS, Area, User, Jurisdiction)
        bump_on_change(COVERAGE_RULES, VisitRule, Tag)
