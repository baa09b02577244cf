"""Navigation: officers get the tips; everyone gets the counts."""

from django.utils.translation import gettext_lazy as _

from minqing.core.plugins import register_home_panel, register_nav

register_nav(label=_("线索"), url_name="tips:index", perm="tips.handle", order=40)
register_nav(label=_("线索统计"), url_name="tips:stats", perm="tips.stats", order=41)


def _home(request):
    """Officers: open tips, theirs, and reminders; counts only, no content."""
    from .models import Tip, is_tip_officer
    from .selectors import reminders_for

    user = request.user
    if not is_tip_officer(user):
        return None
    from django.db.models import Count, Q

    counts = Tip.objects.visible_to(user).aggregate(
        open=Count("pk", filter=Q(state__in=["received", "verifying", "substantiated"])),
        mine=Count("pk", filter=Q(handler=user) & ~Q(state__in=list(FINAL))),
    )
    return {**counts, "reminders": reminders_for(user=user).count()}


FINAL = ("filed", "transferred", "unfounded", "rejected")

register_home_panel(template="tips/_home_panel.html", context=_home, order=40)
