"""The hand-over of a need or dispute found on a visit to the appeals intake (channel 走访):
each becomes an appeal (or a dispute) on the household, in the same transaction as the visit."""

from django.utils.translation import gettext as _

from minqing.appeals.models import Category, Channel, Kind
from minqing.appeals.services import appeal_file
from minqing.core.errors import ValidationFailed

FALLBACK_CATEGORY = "other"


def intake_category(category=None) -> Category:
    """The category chosen on the form, else 其他 (the township re-sorts it when claiming)."""
    if category is not None:
        pk = category.pk if isinstance(category, Category) else category
        found = Category.objects.filter(pk=pk, is_active=True).first()
        if found is None:
            raise ValidationFailed(_("请选择有效的诉求类别"))
        return found
    found = (
        Category.objects.filter(code=FALLBACK_CATEGORY, is_active=True).first()
        or Category.objects.filter(is_active=True).first()
    )
    if found is None:
        raise ValidationFailed(_("还没有启用的诉求类别,请联系管理员"))
    return found


def raise_appeal(*, actor, household, kind: str, text: str, category: Category, place: str = ""):
    """File the finding through the appeals intake; returns the appeal."""
    appeal, _code = appeal_file(
        actor=actor,
        channel=Channel.VISIT,
        category_id=category.pk,
        area_id=household.grid_id,
        household_id=household.pk,
        content=text,
        location=place,
        kind=Kind.DISPUTE if kind == "dispute" else Kind.APPEAL,
    )
    return appeal
