from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TipsConfig(AppConfig):
    name = "minqing.tips"
    label = "tips"
    verbose_name = _("扫黑除恶线索")

    def ready(self):
        from minqing.core.workflow import register_workflow

        from .models import Tip, TipEvent
        from .workflow import TIP_FLOW

        register_workflow(TIP_FLOW, model=Tip, event_model=TipEvent, case_field="tip")
