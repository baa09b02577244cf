from django.utils.translation import pgettext_lazy

from minqing.core.plugins import register_nav

register_nav(
    label=pgettext_lazy("navigation", "区域"), url_name="areas:index", perm="areas.view", order=90
)
