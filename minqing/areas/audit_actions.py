"""Words for the areas app's audit actions."""

from django.utils.translation import gettext_lazy as _

from minqing.core.audit import register_action

register_action("area.create", _("新增区域"))
register_action("area.rename", _("区域改名"))
