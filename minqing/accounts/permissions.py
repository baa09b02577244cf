from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import register
from minqing.core.roles import Role

register("accounts.manage", roles={Role.ADMIN}, label=_("管理账号与单位"))
register(
    "accounts.view", roles={Role.ADMIN, Role.SUPERVISOR, Role.TOWNSHIP_STAFF}, label=_("查看账号")
)
