"""Who may do what with visits (the one table; see core/permissions.py)."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import register
from minqing.core.roles import ALL_ROLES, Role

VISITORS = {
    Role.GRID_WORKER,
    Role.VILLAGE_CADRE,
    Role.TOWNSHIP_STAFF,
    Role.LEADER,
    Role.ADMIN,
}

register("visits.view", roles=ALL_ROLES, label=_("查看走访记录和民情日志"))
register("visits.record", roles=VISITORS, label=_("登记走访"))
register(
    "visits.coverage",
    roles=ALL_ROLES - {Role.GRID_WORKER},
    label=_("查看走访覆盖情况"),
)
register("visits.manage_rules", roles={Role.ADMIN}, label=_("设置必访规则"))
register(
    "visits.manage_surveys",
    roles={Role.TOWNSHIP_STAFF, Role.ADMIN},
    label=_("发布和结束问卷"),
)
register(
    "visits.manage_pairings",
    roles={Role.VILLAGE_CADRE, Role.TOWNSHIP_STAFF, Role.ADMIN},
    label=_("管理结对帮扶"),
)
