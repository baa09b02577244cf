from django.utils.translation import gettext_lazy as _

from minqing.core.plugins import register_nav

register_nav(label=_("区域"), url_name="areas:index", perm="areas.view", order=90)
