from django.utils.translation import gettext_lazy as _

from minqing.core.plugins import register_nav

register_nav(label=_("首页"), url_name="home", order=0)
register_nav(label=_("审计日志"), url_name="core:audit", perm="core.view_audit", order=900)
