"""Search (繁/简, pinyin, initials, id and phone tails, address), filters, scoping and the
"who carried tag T on day D" query."""

from datetime import date

import pytest

from minqing.core.idcard import make_id_number
from minqing.registry import selectors
from minqing.registry.models import Relation, ResidentStatus
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period, tag

ZHANG_ID = make_id_number("430302", date(1962, 5, 8), 111)


@pytest.fixture
def people(tree):
    """张德书's household in 七星村 (洋县 address), 李秀英's in 昭山村 (address written
    in traditional characters), and 陈国强's in 鹤岭村 (another township)."""
    zhang_hh = HouseholdFactory(
        grid=tree.grids["七星村1"], number="QX-0001", address="陕西省洋县七星路 12 号"
    )
    zhang = ResidentFactory(
        household=zhang_hh,
        name="张德书",
        id_number=ZHANG_ID,
        phone="13812345678",
        relation=Relation.HEAD,
    )
    li_hh = HouseholdFactory(
        grid=tree.grids["昭山村1"], number="ZS-0001", address="湖南省湘潭縣昭山鎮 3 號"
    )
    li = ResidentFactory(
        household=li_hh, name="李秀英", phone="13900009999", relation=Relation.HEAD
    )
    chen_hh = HouseholdFactory(grid=tree.grids["鹤岭村1"], number="HL-0001", address="鹤岭村")
    chen = ResidentFactory(household=chen_hh, name="陈国强", relation=Relation.HEAD)
    return type(
        "P",
        (),
        {
            "zhang": zhang,
            "zhang_hh": zhang_hh,
            "li": li,
            "li_hh": li_hh,
            "chen": chen,
            "chen_hh": chen_hh,
        },
    )


def hh_numbers(user, **kwargs):
    return set(
        selectors.household_search(fetched_by=user, **kwargs).values_list("number", flat=True)
    )


def resident_names(user, **kwargs):
    return set(selectors.resident_search(fetched_by=user, **kwargs).values_list("name", flat=True))


@pytest.mark.parametrize(
    "q",
    ["张德书", "張德書", "张德", "德书", "zhangdeshu", "ZhangDeShu", "zhang", "zds", "ZDS", "zd"],
)
def test_name_pinyin_and_initials_find_zhang(users, people, q):
    assert resident_names(users.admin, q=q) == {"张德书"}
    assert hh_numbers(users.admin, q=q) == {"QX-0001"}


@pytest.mark.parametrize("q", ["wangwu", "王五", "xyz"])
def test_names_that_are_not_there_find_nothing(users, people, q):
    assert resident_names(users.admin, q=q) == set()


def test_traditional_query_finds_simplified_address_and_back(users, people):
    assert hh_numbers(users.admin, q="洋縣") == {"QX-0001"}  # 繁 → 简
    assert hh_numbers(users.admin, q="洋县") == {"QX-0001"}
    assert hh_numbers(users.admin, q="湘潭县") == {"ZS-0001"}  # 简 → 繁 (stored 湘潭縣)
    assert hh_numbers(users.admin, q="昭山镇") == {"ZS-0001"}
    assert resident_names(users.admin, q="洋縣") == {"张德书"}


def test_id_search_takes_the_full_number_only(users, people):
    """The ID mask shows no digit after the region: no part of an ID matches anyone."""
    assert resident_names(users.admin, q=ZHANG_ID) == {"张德书"}
    assert hh_numbers(users.admin, q=ZHANG_ID) == {"QX-0001"}
    for part in (ZHANG_ID[-4:], ZHANG_ID[-6:], ZHANG_ID[:10], ZHANG_ID[6:14], ZHANG_ID[:17]):
        assert resident_names(users.admin, q=part) == set(), part


def test_phone_tail_search(users, people):
    assert resident_names(users.admin, q="5678") == {"张德书"}
    assert resident_names(users.admin, q="13812345678") == {"张德书"}
    assert hh_numbers(users.admin, q="9999") == {"ZS-0001"}


def test_household_number_search(users, people):
    assert hh_numbers(users.admin, q="QX-0001") == {"QX-0001"}


def test_search_stays_within_jurisdiction(users, people):
    assert resident_names(users.cadre) == {"张德书"}
    assert resident_names(users.township) == {"张德书", "李秀英"}
    assert resident_names(users.outsider) == {"陈国强"}
    assert resident_names(users.outsider, q="张德书") == set()
    assert hh_numbers(users.outsider, q="zds") == set()


def test_grid_filter_takes_a_subtree_and_ignores_foreign_areas(users, tree, people):
    assert hh_numbers(users.township, grid_id=tree.qixing.pk) == {"QX-0001"}
    assert hh_numbers(users.township, grid_id=tree.grids["昭山村1"].pk) == {"ZS-0001"}
    # An area outside the jurisdiction gives nothing, not its rows.
    assert hh_numbers(users.township, grid_id=tree.helingcun.pk) == set()
    assert resident_names(users.township, grid_id=tree.grids["鹤岭村1"].pk) == set()
    assert hh_numbers(users.township, grid_id="not-a-number") == set()


def test_tag_filter_uses_current_tags_only(users, people):
    period(tag_code="dibao", household=people.zhang_hh, start=date(2020, 1, 1))
    period(tag_code="dibao", household=people.li_hh, start=date(2019, 1, 1), end=date(2021, 1, 1))
    period(tag_code="party_member", resident=people.li, start=date(2000, 7, 1))
    assert hh_numbers(users.township, tag="dibao") == {"QX-0001"}
    # A household tag reaches every member; a personal tag reaches its person and household.
    assert resident_names(users.township, tag="dibao") == {"张德书"}
    assert resident_names(users.township, tag="party_member") == {"李秀英"}
    assert hh_numbers(users.township, tag="party_member") == {"ZS-0001"}
    assert hh_numbers(users.township, tag="no_such_tag") == set()


def test_status_filter(users, people):
    people.li.status = ResidentStatus.MOVED_OUT
    people.li.save()
    assert resident_names(users.township, status="living") == {"张德书"}
    assert resident_names(users.township, status="moved_out") == {"李秀英"}
    assert hh_numbers(users.township, status="living") == {"QX-0001"}
    assert hh_numbers(users.township, status="empty") == {"ZS-0001"}
    assert hh_numbers(users.township, status="bogus") == set()


def test_tag_carriers_on_a_day(users, people):
    """Who carried 低保 on a given day: one query, history included."""
    dibao = tag("dibao")
    period(tag_code="dibao", household=people.zhang_hh, start=date(2020, 1, 1))
    period(tag_code="dibao", household=people.li_hh, start=date(2019, 1, 1), end=date(2021, 1, 1))
    period(tag_code="dibao", household=people.chen_hh, start=date(2018, 1, 1))

    def carriers(user, day):
        return {
            p.household.number for p in selectors.tag_carriers(fetched_by=user, tag=dibao, day=day)
        }

    assert carriers(users.township, date(2018, 6, 1)) == set()
    assert carriers(users.township, date(2020, 6, 1)) == {"QX-0001", "ZS-0001"}
    assert carriers(users.township, date(2021, 1, 1)) == {"QX-0001"}  # ended that day
    assert carriers(users.township, date(2020, 1, 1)) == {"QX-0001", "ZS-0001"}  # started that day
    assert carriers(users.admin, date(2020, 6, 1)) == {"QX-0001", "ZS-0001", "HL-0001"}
    assert carriers(users.cadre, date(2020, 6, 1)) == {"QX-0001"}


def test_tag_carriers_is_one_query(users, people, django_assert_num_queries):
    dibao = tag("dibao")
    period(tag_code="dibao", household=people.zhang_hh, start=date(2020, 1, 1))
    period(tag_code="dibao", household=people.li_hh, start=date(2019, 1, 1))
    users.township.jurisdiction_paths()
    with django_assert_num_queries(1):
        rows = list(
            selectors.tag_carriers(fetched_by=users.township, tag=dibao, day=date(2021, 1, 1))
        )
        assert {r.household.grid.name for r in rows} == {"七星村第1网格", "昭山村第1网格"}


def test_registry_counts(users, people):
    assert selectors.registry_counts(fetched_by=users.township) == {
        "households": 2,
        "residents": 2,
        "tagged": 0,
    }
    assert selectors.registry_counts(fetched_by=users.cadre)["households"] == 1


def test_tag_list_counts_only_the_jurisdiction(users, people):
    period(tag_code="dibao", household=people.zhang_hh, start=date(2020, 1, 1))
    period(tag_code="dibao", household=people.chen_hh, start=date(2020, 1, 1))
    counts = {t.code: t.current_count for t in selectors.tag_list(fetched_by=users.township)}
    assert counts["dibao"] == 1
    assert counts["orphan"] == 0


def test_matched_members_names_who_matched_in_one_query(tree, django_assert_num_queries):
    from minqing.registry.selectors import matched_members
    from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

    h = HouseholdFactory(grid=tree.grids["七星村1"], number="MM-1")
    head = ResidentFactory(household=h, name="唐超德", relation="head")
    wife = ResidentFactory(household=h, name="易燕芳", relation="spouse")
    other = HouseholdFactory(grid=tree.grids["七星村1"], number="MM-2")
    ResidentFactory(household=other, name="易燕芳", relation="head")
    with django_assert_num_queries(1):
        found = matched_members(q="yiyanfang", household_ids=[h.pk, other.pk])
    assert [r.pk for r in found[h.pk]] == [wife.pk]
    assert other.pk not in found  # the head is named anyway: no 匹配成员 line for it
    assert matched_members(q="tangchaode", household_ids=[h.pk]) == {}
    assert head.pk
    assert matched_members(q="", household_ids=[h.pk]) == {}


def test_members_of_a_scoped_household_are_those_visible_to_the_viewer(users, people):
    """The household page leaves the members' scope check out (`scoped=True`: it looked
    the household up through the viewer's scope): a resident is scoped by its household's
    grid alone, so every viewer who sees the household sees the same members, in order."""
    from minqing.registry.models import Household

    hh = people.zhang_hh
    ResidentFactory(household=hh, name="张小燕", relation=Relation.CHILD)
    ResidentFactory(household=hh, name="张老三", status=ResidentStatus.MOVED_OUT)
    for viewer in (users.grid, users.cadre, users.township, users.leader, users.admin):
        assert Household.objects.visible_to(viewer).filter(pk=hh.pk).exists()
        history = selectors.household_tag_history(fetched_by=viewer, household=hh, scoped=True)
        checked = selectors.household_members(fetched_by=viewer, household=hh, history=history)
        scoped = selectors.household_members(
            fetched_by=viewer, household=hh, history=history, scoped=True
        )
        assert [m.pk for m in scoped] == [m.pk for m in checked] and len(scoped) == 3
