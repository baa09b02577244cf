"""Registry test data. Residents get valid, unique 身份证号 and their search keys filled."""

from datetime import date

import factory

from minqing.core.idcard import make_id_number
from minqing.registry.models import Household, Relation, Resident, Tag, TagPeriod
from minqing.registry.services import resident_fill_keys


class HouseholdFactory(factory.django.DjangoModelFactory):
    """Pass grid=... (a grid from the `tree` fixture)."""

    class Meta:
        model = Household

    number = factory.Sequence(lambda n: f"H{n:06d}")
    address = factory.Sequence(lambda n: f"湖南省湘潭市昭山镇七星村{n}组{n}号")
    phone = factory.Sequence(lambda n: f"0731-8{n:06d}")


class ResidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resident

    household = factory.SubFactory(HouseholdFactory)
    name = factory.Iterator(["李明", "王芳", "刘伟", "陈静", "杨洋"])
    id_number = factory.Sequence(
        lambda n: make_id_number("430302", date(1960 + n % 50, 1 + n % 12, 1 + n % 28), n % 1000)
    )
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    relation = Relation.OTHER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        resident = model_class(*args, **kwargs)
        resident_fill_keys(resident)
        resident.save()
        if resident.relation == Relation.HEAD:
            Household.objects.filter(pk=resident.household_id).update(head=resident)
            resident.household.head = resident
        return resident


def tag(code: str) -> Tag:
    """A system tag, seeded by migration 0002."""
    return Tag.objects.get(code=code)


def period(*, tag_code: str, household=None, resident=None, start, end=None, reason="测试"):
    """A tag period written directly (tests of the history query)."""
    return TagPeriod.objects.create(
        tag=tag(tag_code),
        household=household or resident.household,
        resident=resident,
        start_date=start,
        start_reason=reason,
        end_date=end,
        end_reason="退出" if end else "",
    )
