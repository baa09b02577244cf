"""Navigation entries and the home-page due list of the visits app."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import has_perm
from minqing.core.plugins import register_home_panel, register_nav

register_nav(label=_("走访"), url_name="visits:due", perm="visits.view", order=30)
register_nav(label=_("民情日志"), url_name="visits:log", perm="visits.view", order=31)
register_nav(label=_("走访覆盖"), url_name="visits:coverage", perm="visits.coverage", order=32)
register_nav(label=_("问卷"), url_name="visits:surveys", perm="visits.view", order=33)
register_nav(label=_("结对帮扶"), url_name="visits:pairings", perm="visits.view", order=34)


def _due_panel(request):
    """The cadre's due and overdue households, nearest first (五必访 and follow-ups)."""
    if not has_perm(request.user, "visits.record"):
        return None
    from django.utils import timezone

    from .selectors import due_list

    today = timezone.localdate()
    items, total = due_list(fetched_by=request.user, today=today, limit=8)
    return {"items": items, "total": total, "today": today}


register_home_panel(template="visits/_home_panel.html", context=_due_panel, order=10)
