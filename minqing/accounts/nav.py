from django.utils.translation import gettext_lazy as _

from minqing.core.plugins import register_nav

register_nav(label=_("人员"), url_name="accounts:index", perm="accounts.view", order=95)
# Everyone's own account: in the menu for every role.
register_nav(label=_("API 令牌"), url_name="accounts:tokens", order=190)
register_nav(label=_("修改密码"), url_name="accounts:password_change", order=195)
