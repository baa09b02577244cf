"""The kept grid summaries equal a recount after every kind of change, and the overview
sums them over a subtree in a fixed number of queries."""

from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from minqing.core.scoping import jurisdiction_paths
from minqing.registry import services
from minqing.registry.models import (
    GridSummary,
    Household,
    Move,
    Resident,
    ResidentStatus,
    TagPeriod,
)
from minqing.registry.summaries import overview, summaries_check, summaries_rebuild
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, tag
from minqing.registry.tests.test_import import GOOD, run

pytestmark = pytest.mark.django_db


def assert_kept():
    assert summaries_check() == []


@pytest.fixture
def city(tree, users):
    h1 = HouseholdFactory(grid=tree.grids["七星村1"])
    h2 = HouseholdFactory(grid=tree.grids["七星村2"])
    a = ResidentFactory(household=h1, relation="head")
    b = ResidentFactory(household=h1)
    c = ResidentFactory(household=h2, relation="head")
    return h1, h2, a, b, c


def test_creates_are_counted(city, tree, users):
    assert_kept()
    s = GridSummary.objects.get(grid=tree.grids["七星村1"])
    assert (s.households, s.residents) == (1, 2)
    h = services.household_create(
        actor=users.cadre, grid=tree.grids["七星村1"], address="七星村1组"
    )
    services.resident_create(
        actor=users.cadre,
        household=h,
        name="赵六",
        id_number=ResidentFactory.build().id_number,
        relation="head",
    )
    s.refresh_from_db()
    assert (s.households, s.residents) == (2, 3)
    assert_kept()


def test_moves_deaths_and_tags_keep_the_counts(city, tree, users):
    h1, h2, a, b, c = city
    services.resident_move(
        actor=users.township,
        resident=b,
        kind=Move.Kind.TRANSFER,
        date=date(2025, 1, 2),
        to_household=h2,
        relation="other",
    )
    assert_kept()
    g2 = GridSummary.objects.get(grid=tree.grids["七星村2"])
    assert g2.residents == 2
    services.resident_move(
        actor=users.township, resident=c, kind=Move.Kind.DEATH, date=date(2025, 2, 1)
    )
    assert_kept()
    g2.refresh_from_db()
    assert g2.residents == 1
    services.tag_give(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        start_date=date(2025, 1, 1),
        reason="收入低",
    )
    services.tag_give(
        actor=users.township,
        tag=tag("disabled"),
        resident=a,
        start_date=date(2025, 1, 1),
        reason="残疾证",
    )
    assert_kept()
    assert GridSummary.objects.get(grid=tree.grids["七星村1"]).tagged == 2
    services.tag_remove(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        end_date=date(2025, 3, 1),
        reason="收入提高",
    )
    assert_kept()
    assert GridSummary.objects.get(grid=tree.grids["七星村1"]).tagged == 1
    # a household moved to another grid takes its people and tags along
    services.household_update(
        actor=users.township,
        household=h1,
        grid=tree.grids["昭山村1"],
        number=h1.number,
        address=h1.address,
        phone=None,
        notes="",
    )
    assert_kept()
    assert GridSummary.objects.get(grid=tree.grids["七星村1"]).households == 0
    assert GridSummary.objects.get(grid=tree.grids["昭山村1"]).tagged == 1


def test_imports_are_counted(tree, users):
    job = run(users.township, GOOD)
    assert job.status == "done", job.result
    assert_kept()
    total = overview(fetched_by=users.township)["totals"]
    assert total["households"] == 2
    assert total["residents"] == 4  # one 迁出


def test_check_finds_drift_and_rebuild_repairs_it(city, tree):
    GridSummary.objects.filter(grid=tree.grids["七星村1"]).update(residents=99)
    with pytest.raises(CommandError):
        call_command("summaries", "--check")
    summaries_rebuild()
    assert_kept()
    call_command("summaries", "--check")


def test_overview_sums_a_subtree_in_constant_queries(city, tree, users, django_assert_num_queries):
    TagPeriod.objects.create(
        tag=tag("dibao"), household=city[1], start_date=date(2024, 1, 1), start_reason="x"
    )
    jurisdiction_paths(users.township)  # a page has them from the session
    # the child areas' sums (the totals are their sum), the key groups; the child areas and
    # the tags once per process, then from its copies
    with django_assert_num_queries(4):
        got = overview(fetched_by=users.township, area=tree.zhaoshan)
    with django_assert_num_queries(2):
        again = overview(fetched_by=users.township, area=tree.zhaoshan)
    assert again["totals"] == got["totals"] == {"households": 2, "residents": 3, "tagged": 1}
    rows = {r["area"].name: (r["households"], r["residents"], r["tagged"]) for r in got["rows"]}
    assert rows == {"七星村": (2, 3, 1), "昭山村": (0, 0, 0)}
    assert {t["tag"].code: t["count"] for t in got["tags"]}["dibao"] == 1
    # the outsider's jurisdiction holds none of it
    assert overview(fetched_by=users.outsider)["totals"]["households"] == 0


def test_overview_totals_equal_a_recount_at_every_level(city, tree, users):
    """The totals are summed from the children's rows (a village, a township) or read for a
    grid (no children): either way what a count over the rows gives."""
    TagPeriod.objects.create(
        tag=tag("dibao"), household=city[1], start_date=date(2024, 1, 1), start_reason="x"
    )
    for area in (tree.county, tree.zhaoshan, tree.qixing, tree.grids["七星村1"]):
        households = Household.objects.filter(grid__path__startswith=area.path)
        want = {
            "households": households.count(),
            "residents": Resident.objects.filter(
                household__in=households, status=ResidentStatus.LIVING
            ).count(),
            "tagged": TagPeriod.objects.filter(
                household__in=households, end_date__isnull=True
            ).count(),
        }
        got = overview(fetched_by=users.leader, area=area)
        assert got["totals"] == want, area.name
        assert want["households"] > 0
    # and a jurisdiction's (the leader holds the county): the same as the county's
    assert (
        overview(fetched_by=users.leader)["totals"]
        == overview(fetched_by=users.leader, area=tree.county)["totals"]
    )


@pytest.mark.parametrize(
    "kind,params",
    [
        ("households", {}),
        ("households", {"tag": "dibao"}),
        ("households", {"tag": "disabled"}),  # personal tag: counted by the query
        ("residents", {}),
        ("residents", {"status": "living"}),
        ("residents", {"tag": "disabled"}),
        ("households", {"grid_id": "qixing"}),
    ],
)
def test_list_totals_from_the_summaries_equal_the_count(city, tree, users, kind, params):
    from minqing.registry import selectors

    h1, h2, a, b, c = city
    services.tag_give(
        actor=users.township,
        tag=tag("dibao"),
        household=h1,
        start_date=date(2025, 1, 1),
        reason="收入低",
    )
    services.tag_give(
        actor=users.township,
        tag=tag("disabled"),
        resident=a,
        start_date=date(2025, 1, 1),
        reason="残疾证",
    )
    services.resident_move(
        actor=users.township, resident=c, kind=Move.Kind.DEATH, date=date(2025, 2, 1)
    )
    if params.get("grid_id") == "qixing":
        params = {"grid_id": tree.qixing.pk}
    search = selectors.household_search if kind == "households" else selectors.resident_search
    counted = search(fetched_by=users.township, **params).count()
    kept = selectors.kept_count(fetched_by=users.township, kind=kind, **params)
    assert kept is None or kept == counted
    if params.get("tag") != "disabled" or kind == "residents":
        assert kept is not None  # answered from the summaries


def test_home_and_area_pages_do_not_count_rows_per_request(
    client, city, tree, users, django_assert_max_num_queries
):
    from minqing.conftest import login

    login(client, users.township)
    client.get("/")  # warm the per-process caches
    client.get(f"/areas/{tree.zhaoshan.pk}/")
    # the visits due panel adds 4 (rules, tag periods with their last visit, follow-ups,
    # households); none grows with the rows, as the second half checks
    with django_assert_max_num_queries(18) as home:
        assert client.get("/").status_code == 200
    with django_assert_max_num_queries(14) as area:
        assert client.get(f"/areas/{tree.zhaoshan.pk}/").status_code == 200
    for _i in range(10):
        h = HouseholdFactory(grid=tree.grids["昭山村1"])
        ResidentFactory(household=h, relation="head")
    with django_assert_max_num_queries(len(home)):
        page = client.get("/")
    assert "12</span>" in page.content.decode()  # 2 + 10 households, from the summaries
    with django_assert_max_num_queries(len(area)):
        client.get(f"/areas/{tree.zhaoshan.pk}/")


@pytest.mark.postgres
@pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="concurrency of PostgreSQL transactions",
)
# serialized_rollback like every transactional test here: a flush without it re-creates the
# content types, and the next test that restores the serialized database then fails on them
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_transactions_in_one_grid_both_count(tree, users):
    """Each recounts after the other committed (the grid row is locked first)."""
    import threading

    grid = tree.grids["七星村1"]
    barrier = threading.Barrier(2)
    errors = []

    def add(i):
        from django.db import connection as conn

        try:
            barrier.wait()
            services.household_create(
                actor=users.cadre, grid=grid, address=f"七星村{i}号", number=f"QX-C{i}"
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=add, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert GridSummary.objects.get(grid=grid).households == 2
    assert_kept()


def test_area_filter_offers_the_chosen_area_its_way_up_and_its_children_only(tree, users):
    from minqing.registry.forms import area_picker_choices

    names = [label for _v, label in area_picker_choices(users.township, None)]
    assert names == ["全部（本辖区）", "七星村", "昭山村"]  # the township's villages only
    got = dict(area_picker_choices(users.township, str(tree.qixing.pk)))
    assert got[str(tree.zhaoshan.pk)].endswith("昭山镇")  # the way up
    assert got[str(tree.qixing.pk)] == "七星村"
    grids = {str(g.pk) for g in tree.grids.values() if g.parent_id == tree.qixing.pk}
    assert grids <= set(got)
    assert str(tree.zhaoshancun.pk) not in got  # a sibling village is one level up
    # an area outside the jurisdiction is not offered (nor its children)
    outside = dict(area_picker_choices(users.township, str(tree.helingcun.pk)))
    assert str(tree.helingcun.pk) not in outside


def test_imports_that_update_move_and_tag_registered_people_are_counted(tree, users):
    """The importer adds what it creates to the kept rows (no recount): creations, a move
    to a new household, a status change and a tag on a registered person all add up."""
    from minqing.registry.tests.test_ledger import _bad, commit, ledger_rows, ledger_xlsx, start

    assert commit(users.cadre, start(users.cadre, ledger_xlsx())).status == "done"
    assert_kept()
    rows = ledger_rows()
    rows = _bad(rows, 2, "户号", "QX-003")
    rows = _bad(rows, 2, "与户主关系", "户主")
    rows = _bad(rows, 2, "户主姓名", "张小明")
    rows = _bad(rows, 2, "家庭住址", "七星村一组 13 号")
    rows = _bad(rows, 3, "人员类别", "留守儿童")
    job = commit(users.cadre, start(users.cadre, ledger_xlsx(rows)))
    assert job.status == "done", job.message
    assert job.result["updated"] == 2
    assert_kept()
