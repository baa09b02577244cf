"""`minqing demo` gives the demo area a believable registry, and running it twice adds nothing."""

import io

import pytest
from django.db.models import F

from minqing.accounts import demo as accounts_demo
from minqing.accounts.models import User
from minqing.areas import demo as areas_demo
from minqing.core.idcard import parse_id_number
from minqing.registry import demo, selectors
from minqing.registry.models import (
    Household,
    Move,
    Organisation,
    Place,
    Relation,
    Resident,
    ResidentStatus,
    TagPeriod,
)


@pytest.fixture
def built(db):
    out = io.StringIO()
    areas_demo.build(stdout=out)
    accounts_demo.build(stdout=out)
    demo.build(stdout=out)
    return out.getvalue()


def test_demo_size_and_summary(built):
    households = Household.objects.count()
    residents = Resident.objects.count()
    assert 450 <= households <= 550
    assert 1400 <= residents <= 1900
    assert Place.objects.exists() and Organisation.objects.exists()
    assert f"户籍台账: {households} 户, {residents} 人" in built


def test_running_twice_adds_nothing(built):
    before = [
        m.objects.count() for m in (Household, Resident, TagPeriod, Move, Place, Organisation)
    ]
    out = io.StringIO()
    demo.build(stdout=out)
    after = [m.objects.count() for m in (Household, Resident, TagPeriod, Move, Place, Organisation)]
    assert after == before
    assert "已存在" in out.getvalue()


def test_demo_people_are_valid(built):
    for number, gender, birth in Resident.objects.values_list("id_number", "gender", "birth_date"):
        info = parse_id_number(number)
        assert (info.gender, info.birth_date) == (gender, birth)
    assert not Resident.objects.filter(name_pinyin="").exists()
    # Every household has exactly one head, and it is a living member with relation head.
    assert not Household.objects.filter(head__isnull=True).exists()
    assert not Household.objects.exclude(head__household=F("pk")).exists()
    assert (
        not Resident.objects.filter(relation=Relation.HEAD)
        .exclude(household__head=F("pk"))
        .exists()
    )


def test_demo_tags_have_history(built):
    codes = set(TagPeriod.objects.values_list("tag__code", flat=True))
    assert {"poverty_enrolled", "dibao", "left_behind_child", "empty_nest", "party_member"} <= codes
    assert TagPeriod.objects.filter(end_date__isnull=False).exists()
    assert not TagPeriod.objects.filter(end_date__lt=F("start_date")).exists()
    # 建档立卡贫困户 are in 昭山镇, as in the seeds.
    poverty = TagPeriod.objects.filter(tag__code="poverty_enrolled")
    assert not poverty.exclude(household__grid__path__contains="430372100000.").exists()
    # The dead and the departed carry no open tags.
    gone = Resident.objects.exclude(status=ResidentStatus.LIVING)
    assert gone.exists()
    assert not TagPeriod.objects.filter(resident__in=gone, end_date__isnull=True).exists()
    assert (
        Move.objects.filter(kind=Move.Kind.DEATH).count() == gone.filter(status="deceased").count()
    )


def test_demo_logins_see_their_part(built):
    cadre = User.objects.get(username="cadre")
    township = User.objects.get(username="township")
    found = selectors.resident_search(fetched_by=cadre, q="zds")
    assert "张德书" in set(found.values_list("name", flat=True))
    cadre_count = selectors.household_search(fetched_by=cadre).count()
    township_count = selectors.household_search(fetched_by=township).count()
    assert 0 < cadre_count < township_count < Household.objects.count()
