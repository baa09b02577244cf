"""Words for the accounts app's audit actions."""

from django.utils.translation import gettext_lazy as _

from minqing.core.audit import register_action

register_action("auth.login", _("登录"))
register_action("auth.login_failed", _("登录失败"))
register_action("auth.logout", _("退出登录"))
register_action("auth.login_throttled", _("登录尝试过多被拒"))
register_action("unit.create", _("新增单位"))
register_action("unit.update", _("修改单位"))
register_action("user.create", _("新增账号"))
register_action("user.role", _("修改角色"))
register_action("user.jurisdiction", _("修改管辖区域"))
register_action("auth.password_change", _("修改密码"))
register_action("auth.password_set", _("管理员重设密码"))
