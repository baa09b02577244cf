"""Appeal test data: filed through the service, so every appeal has its CREATE event."""

from minqing.accounts.models import Unit, UnitKind
from minqing.appeals.models import Category
from minqing.appeals.services import appeal_file


def category(code="road") -> Category:
    return Category.objects.get(code=code)


def file_appeal(*, actor, area, code="road", content="村里的路烂了,下雨天走不得", **kw):
    appeal, tracking = appeal_file(
        actor=actor,
        channel=kw.pop("channel", "officer"),
        category_id=category(code).pk,
        area_id=area.pk,
        content=content,
        **kw,
    )
    appeal.tracking_code = tracking
    return appeal


def unit(*, area, name="交通局", kind=UnitKind.COUNTY_DEPARTMENT) -> Unit:
    return Unit.objects.create(area=area, name=name, kind=kind)
