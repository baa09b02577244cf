"""Navigation: officers get the tips; everyone gets the counts."""

from django.utils.translation import gettext_lazy as _

from minqing.core.plugins import register_nav

register_nav(label=_("线索"), url_name="tips:index", perm="tips.handle", order=40)
register_nav(label=_("线索统计"), url_name="tips:stats", perm="tips.stats", order=41)
