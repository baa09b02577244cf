"""The registry's own section of the household page (core.sections, page
"registry.household"): moves into, out of and within the household. Other apps (visits,
appeals...) register theirs the same way in their own `sections.py`."""

from django.utils.translation import gettext_lazy as _

from minqing.core.sections import register_section

HOUSEHOLD_PAGE = "registry.household"


def _moves(request, household):
    from .selectors import household_moves
    from .services import move_correctable_by

    # the page looked the household up through the viewer's scope (core.sections)
    moves = household_moves(fetched_by=request.user, household=household, scoped=True)
    corrected = {m.corrects_id for m in moves if m.corrects_id}
    for m in moves:
        m.is_corrected = m.pk in corrected
        m.can_correct = move_correctable_by(request.user, m, corrected=m.is_corrected)
    return {"moves": moves}


register_section(
    HOUSEHOLD_PAGE,
    title=_("迁入迁出记录"),
    template="registry/_section_moves.html",
    context=_moves,
    order=10,
)
