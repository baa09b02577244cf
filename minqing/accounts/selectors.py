"""Reads of accounts data that pages and the API share."""

import unicodedata

from django.utils.translation import gettext as _

from minqing.core.errors import ValidationFailed

from .models import Unit

# Above this many units a form offers no list of them (a city administrator's 3,000 units
# would be a page of options); the name is typed and looked up.
UNIT_CHOICES_LIMIT = 200


def units_offered(*, fetched_by) -> list[str]:
    """The names of the active units a form may list for `fetched_by`, or [] if too many."""
    names = list(
        Unit.objects.visible_to(fetched_by)
        .filter(is_active=True)
        .order_by("name")
        .values_list("name", flat=True)[: UNIT_CHOICES_LIMIT + 1]
    )
    return names if len(names) <= UNIT_CHOICES_LIMIT else []


def unit_by_name(*, fetched_by, text: str) -> Unit | None:
    """The active unit of exactly this name among those `fetched_by` sees; None for empty."""
    name = unicodedata.normalize("NFKC", text or "").strip()
    if not name:
        return None
    hits = list(Unit.objects.visible_to(fetched_by).filter(is_active=True, name=name)[:6])
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ValidationFailed(
            _("有 %(k)d 个单位叫“%(n)s”,请联系上级管理员区分") % {"k": len(hits), "n": name[:40]}
        )
    raise ValidationFailed(_("在您的管辖范围内没有单位“%(n)s”") % {"n": name[:40]})
