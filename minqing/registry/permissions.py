"""Who may do what in the registry (the one table; see core/permissions.py)."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import register
from minqing.core.roles import ALL_ROLES, Role

EDITORS = {Role.GRID_WORKER, Role.VILLAGE_CADRE, Role.TOWNSHIP_STAFF, Role.ADMIN}

register("registry.view", roles=ALL_ROLES, label=_("查看户籍台账"))
register("registry.edit", roles=EDITORS, label=_("登记、修改户和居民，迁入迁出"))
register("registry.tag", roles=EDITORS, label=_("认定、退出重点人群"))
register("registry.manage_tags", roles={Role.ADMIN}, label=_("新增重点人群标签"))
register(
    "registry.reveal_id",
    roles={Role.VILLAGE_CADRE, Role.TOWNSHIP_STAFF, Role.POLITICAL_LEGAL, Role.ADMIN},
    label=_("查看完整身份证号和手机号（留痕）"),
)
register(
    "registry.import",
    roles={Role.VILLAGE_CADRE, Role.TOWNSHIP_STAFF, Role.ADMIN},
    label=_("导入台账"),
)
register("registry.export", roles=ALL_ROLES - {Role.GRID_WORKER}, label=_("导出台账"))
register(
    "registry.correct_move",
    roles={Role.TOWNSHIP_STAFF, Role.ADMIN},
    label=_("更正以前的迁移和死亡登记"),
)
