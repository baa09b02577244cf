"""The household page's visits section (core.sections, page registry.household)."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import has_perm
from minqing.core.sections import register_section


def _visits(request, household):
    if not has_perm(request.user, "visits.view"):
        return None
    from .selectors import household_visits, open_surveys_for

    can_record = has_perm(request.user, "visits.record")
    return {
        "visits": household_visits(fetched_by=request.user, household=household),
        "can_record": can_record,
        "surveys": open_surveys_for(fetched_by=request.user, household=household)
        if can_record
        else [],
    }


register_section(
    "registry.household",
    title=_("走访记录"),
    template="visits/_household_section.html",
    context=_visits,
    order=20,
)
