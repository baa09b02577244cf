from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "minqing.registry"
    label = "registry"
    verbose_name = _("户籍台账")

    def ready(self):
        from minqing.core.proc_cache import bump_on_change

        from . import summaries  # noqa: F401  (connects the handlers that keep the summaries)
        from .forms import TAGS_CACHE
        from .models import Tag

        bump_on_change(TAGS_CACHE, Tag)
