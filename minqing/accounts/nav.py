from django.utils.translation import gettext_lazy as _

from minqing.core.plugins import register_nav

register_nav(label=_("人员"), url_name="accounts:index", perm="accounts.view", order=95)
