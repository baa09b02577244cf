from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import register
from minqing.core.roles import ALL_ROLES, Role

register("areas.view", roles=ALL_ROLES, label=_("查看区域"))
register("areas.manage", roles={Role.ADMIN}, label=_("新建、导入、改名区域"))
register("areas.export", roles=ALL_ROLES - {Role.GRID_WORKER}, label=_("导出区域"))
