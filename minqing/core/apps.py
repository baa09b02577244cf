import sys

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "minqing.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        from . import plugins

        plugins.autodiscover()
        from .case_models import CalendarDay
        from .proc_cache import bump_on_change

        bump_on_change("calendar", CalendarDay)
        if sys.argv[1:2] == ["runserver"]:
            from .periodic import start_inline_scheduler

            start_inline_scheduler()
