"""Sections of the household page that other apps add without editing the registry.

An app (visits, appeals, aid, benefits...) writes a `sections.py` of its own:

    from minqing.registry.sections import register_household_section

    def _visits(request, household):
        return {"visits": visit_list(fetched_by=request.user, household=household)[:10]}

    register_household_section(
        title=_("走访记录"), template="visits/_household_section.html", context=_visits, order=20
    )

Every app's `sections.py` is imported the first time a household page is shown. The context
callable gets (request, household) — the household was already looked up through the
scoping queryset — and returns a dict, or None to leave the section out (e.g. a role that
may not see it). The template is rendered with that dict plus `household` and `title`,
inside a card under the title.
"""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class HouseholdSection:
    title: object
    template: str
    context: object  # callable(request, household) -> dict | None
    order: int


_SECTIONS: list[HouseholdSection] = []
_discovered = False


def register_household_section(*, title, template: str, context, order: int = 100) -> None:
    """Add a section; registering the same template twice keeps the first."""
    if any(s.template == template for s in _SECTIONS):
        return
    _SECTIONS.append(HouseholdSection(title=title, template=template, context=context, order=order))
    _SECTIONS.sort(key=lambda s: s.order)


def registered_sections() -> list[HouseholdSection]:
    _discover()
    return list(_SECTIONS)


def household_sections(request, household) -> list[dict]:
    """The sections of one household page, in order, each rendered to HTML with its own
    context plus `household` and `title`."""
    sections = []
    for section in registered_sections():
        ctx = section.context(request, household)
        if ctx is None:
            continue
        html = render_to_string(
            section.template,
            {**ctx, "household": household, "title": section.title},
            request=request,
        )
        sections.append({"title": section.title, "template": section.template, "html": html})
    return sections


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("sections")


# The registry's own section: moves into, out of and within the household.


def _moves(request, household):
    from .selectors import household_moves
    from .services import move_correctable_by

    moves = household_moves(fetched_by=request.user, household=household)
    corrected = {m.corrects_id for m in moves if m.corrects_id}
    for m in moves:
        m.is_corrected = m.pk in corrected
        m.can_correct = move_correctable_by(request.user, m, corrected=m.is_corrected)
    return {"moves": moves}


register_household_section(
    title=_("迁入迁出记录"), template="registry/_section_moves.html", context=_moves, order=10
)
