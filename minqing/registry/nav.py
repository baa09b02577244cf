"""Navigation entries and the home-page panel of the registry."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import has_perm
from minqing.core.plugins import register_home_panel, register_nav

register_nav(label=_("户籍台账"), url_name="registry:households", perm="registry.view", order=20)
register_nav(label=_("居民查询"), url_name="registry:residents", perm="registry.view", order=21)
register_nav(label=_("重点人群"), url_name="registry:tags", perm="registry.view", order=22)
register_nav(label=_("场所与组织"), url_name="registry:places", perm="registry.view", order=23)


def _home_counts(request):
    """The overview of the user's jurisdiction (counts, key groups, one row per child
    area), from the kept summaries."""
    if not has_perm(request.user, "registry.view"):
        return None
    from .summaries import overview_context

    return overview_context(fetched_by=request.user)


register_home_panel(template="registry/_home_panel.html", context=_home_counts, order=20)
