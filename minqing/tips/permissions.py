"""Who may do what with tips. Reading a tip is decided by TipQuerySet.visible_to, not here."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import register
from minqing.core.roles import ALL_ROLES, Role

register("tips.handle", roles={Role.POLITICAL_LEGAL}, label=_("阅读和核查扫黑除恶线索"))
register("tips.stats", roles=ALL_ROLES, label=_("查看线索统计(仅数量)"))
