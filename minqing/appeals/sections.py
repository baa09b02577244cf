"""The appeals section of the household page (core.sections, page registry.household) and
the likely duplicates section of the appeal page (appeals.detail)."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import has_perm
from minqing.core.sections import register_section


def _household_appeals(request, household):
    if not has_perm(request.user, "appeals.view"):
        return None
    from minqing.core.compiled import rows, scope_values

    # compiled once per connection and shape of scope (core.compiled)
    values = {"h": household.pk, **scope_values(request.user)}
    return {"appeals": rows("household-appeals", values, _household_appeals_query)}


def _household_appeals_query(values):
    from minqing.core.compiled import viewer

    from .models import Appeal

    return (
        Appeal.objects.visible_by_area(viewer(values))  # the household itself is in my area
        .filter(household_id=values["h"])
        .select_related("category")
        .order_by("-created_at")[:20]
    )


register_section(
    "registry.household",
    title=_("诉求"),
    template="appeals/_household_section.html",
    context=_household_appeals,
    order=30,
)


def _appeal_duplicates(request, appeal):
    # loaded after the page (htmx): the detail page does not wait for the suggestion
    if not has_perm(request.user, "appeals.file"):
        return None
    return {"appeal": appeal}


register_section(
    "appeals.detail",
    title=_("可能重复的事项"),
    template="appeals/_duplicates_section.html",
    context=_appeal_duplicates,
    order=20,
)
