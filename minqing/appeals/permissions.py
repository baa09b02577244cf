"""Who may do what with appeals (the one table; see core/permissions.py)."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import register
from minqing.core.roles import ALL_ROLES, Role

HANDLERS = {
    Role.GRID_WORKER,
    Role.VILLAGE_CADRE,
    Role.TOWNSHIP_STAFF,
    Role.DEPARTMENT_STAFF,
    Role.LEADER,
    Role.ADMIN,
}

register("appeals.view", roles=ALL_ROLES - {Role.POLITICAL_LEGAL}, label=_("查看诉求"))
register("appeals.file", roles=HANDLERS, label=_("登记诉求"))
register("appeals.claim", roles=HANDLERS, label=_("认领诉求"))
register(
    "appeals.assign",
    roles={Role.TOWNSHIP_STAFF, Role.DEPARTMENT_STAFF, Role.LEADER, Role.ADMIN},
    label=_("交办、上报、重新交办诉求"),
)
register("appeals.handle", roles=HANDLERS, label=_("办理、办结、退回诉求"))
register("appeals.supervise", roles={Role.SUPERVISOR, Role.LEADER, Role.ADMIN}, label=_("督办诉求"))
register(
    "appeals.archive",
    roles={Role.VILLAGE_CADRE, Role.TOWNSHIP_STAFF, Role.ADMIN},
    label=_("回访、归档诉求"),
)
register(
    "appeals.export",
    roles=ALL_ROLES - {Role.GRID_WORKER, Role.POLITICAL_LEGAL},
    label=_("导出诉求"),
)
register("appeals.meetings", roles=HANDLERS | {Role.SUPERVISOR}, label=_("记录排查例会和接访"))
