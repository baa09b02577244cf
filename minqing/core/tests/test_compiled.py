"""Reads compiled once per connection and shape (core.compiled): the same rows as the ORM
built afresh for every viewer, household and value, never another viewer's rows when two
viewers share a shape, hostile values kept as values, and builds that would depend on who
asks (not only on the values) refused."""

from datetime import UTC, date, datetime

import pytest
from django.db.models import Q
from django.http import Http404
from django.test import RequestFactory

from minqing.accounts.tests.factories import UserFactory
from minqing.appeals.models import Appeal
from minqing.core import compiled
from minqing.core.scoping import get_visible_or_404
from minqing.registry import selectors
from minqing.registry.models import Household, Move, Resident, TagPeriod
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory, period
from minqing.registry.views import _household
from minqing.visits.models import Visit
from minqing.visits.sections import section_visits
from minqing.visits.selectors import open_surveys_for
from minqing.visits.tests.factories import visit_at


@pytest.fixture
def city(tree, users):
    made = []
    for grid in ("七星村1", "七星村2", "昭山村1", "鹤岭村1"):
        h = HouseholdFactory(grid=tree.grids[grid], address=f"{grid} 1 号")
        head = ResidentFactory(household=h, name=f"{grid}户主", relation="head")
        ResidentFactory(household=h, name=f"{grid}子", relation="child")
        period(tag_code="dibao", household=h, start=date(2020, 1, 1))
        period(tag_code="dibao", resident=head, start=date(2019, 1, 1), end=date(2021, 1, 1))
        visit_at(h, datetime(2025, 3, 1, tzinfo=UTC), by=users.admin)
        visit_at(h, datetime(2025, 5, 1, tzinfo=UTC), by=users.admin)
        made.append(h)
    return made


def _viewers(users):
    root = UserFactory(username="root", is_superuser=True, areas=[])
    nothing = UserFactory(username="nothing", role="village_cadre", areas=[])
    gone = UserFactory(username="gone", role="village_cadre", is_active=False, areas=[])
    # outsider and grid share a shape (one path): interleaved, each must see only its own
    return [
        users.grid,
        users.outsider,
        users.cadre,
        users.township,
        users.admin,
        root,
        nothing,
        gone,
    ]


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _orm_household(user, pk):
    return get_visible_or_404(
        Household.objects.select_related("grid", "grid__parent", "grid__parent__parent", "head"),
        user,
        pk=pk,
    )


def _same(a, b):
    return [(type(x), x.pk, x.__dict__.get("name")) for x in a] == [
        (type(x), x.pk, x.__dict__.get("name")) for x in b
    ]


@pytest.mark.parametrize("rounds", [2])
def test_household_page_reads_equal_the_orm_for_every_viewer(city, users, rounds):
    viewers = _viewers(users)
    for _round in range(rounds):  # the second round runs every statement from the cache
        for user in viewers:
            for h in [*city, Household(pk=987654)]:
                try:
                    want = _orm_household(user, h.pk)
                except Http404:
                    want = None
                try:
                    got = _household(_request(user), h.pk)
                except Http404:
                    got = None
                assert (got and got.pk) == (want and want.pk), (user.username, h.pk)
                if want is None:
                    continue
                assert got.grid.name == want.grid.name and got.head.name == want.head.name
                assert got.grid.parent.parent.name == want.grid.parent.parent.name
                history = selectors.household_tag_history(
                    fetched_by=user, household=got, scoped=True
                )
                want_history = list(
                    TagPeriod.objects.visible_to(user)
                    .filter(household=want)
                    .select_related("tag", "resident", "started_by", "ended_by")
                    .order_by("end_date", "-start_date", "-id")
                )
                assert [(p.pk, p.tag.name, p.resident and p.resident.name) for p in history] == [
                    (p.pk, p.tag.name, p.resident and p.resident.name) for p in want_history
                ]
                members = selectors.household_members(
                    fetched_by=user, household=got, history=history, scoped=True
                )
                want_members = selectors.household_members(fetched_by=user, household=want)
                assert [(m.pk, m.name, [p.pk for p in m.current_tags]) for m in members] == [
                    (m.pk, m.name, [p.pk for p in m.current_tags]) for m in want_members
                ]
                visits = section_visits(fetched_by=user, household=got)
                want_visits = list(
                    Visit.objects.visible_to(user)
                    .filter(household=want)
                    .order_by("-visited_at", "-id")[:20]
                )
                assert [v.pk for v in visits] == [v.pk for v in want_visits]
                assert _same(
                    open_surveys_for(fetched_by=user, household=got, scoped=True),
                    open_surveys_for(fetched_by=user, household=want),
                )


def test_a_moved_household_is_found_by_the_probe(city, users):
    resident = Resident.objects.filter(household=city[0]).first()
    Move.objects.create(
        resident=resident,
        kind="transfer",
        date=date(2024, 1, 1),
        from_household=city[0],
        to_household=city[1],
        actor=users.admin,
    )
    for h in city:
        got = selectors.household_moves(fetched_by=users.township, household=h, scoped=True)
        assert [m.pk for m in got] == [
            m.pk for m in Move.objects.filter(Q(from_household=h) | Q(to_household=h))
        ]


def test_household_appeals_section_equals_the_orm(city, users, tree):
    from minqing.appeals.sections import _household_appeals
    from minqing.appeals.tests.factories import file_appeal

    for h in city:
        file_appeal(actor=users.admin, area=h.grid, household_id=h.pk)
    for user in _viewers(users) * 2:
        for h in city:
            if not Household.objects.visible_to(user).filter(pk=h.pk).exists():
                continue
            got = _household_appeals(_request(user), h)
            if got is None:
                continue
            want = list(
                Appeal.objects.visible_by_area(user)
                .filter(household=h)
                .select_related("category")
                .order_by("-created_at")[:20]
            )
            assert [(a.pk, a.category.name) for a in got["appeals"]] == [
                (a.pk, a.category.name) for a in want
            ]


HOSTILE = ["\x1f0\x1f", "\x1f1\x1f%", "%", "_", "\\", "王%芳", "' OR 1=1 --", "\x00x"[1:], ""]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_values(city, users, value):
    ResidentFactory(household=city[0], name=f"{value}尾", relation="child")

    def build(v):
        return Resident.objects.filter(
            Q(name__startswith=v["q"]) | Q(name=v["q"]) | Q(name__contains=v["other"])
        ).order_by("pk")

    values = {"q": value, "other": "\x1f0\x1f"}
    got = compiled.rows("hostile", values, build)
    assert [r.pk for r in got] == [r.pk for r in build(values)]
    assert [r.pk for r in compiled.rows("hostile", values, build)] == [r.pk for r in got]


def test_builds_that_depend_on_who_asks_are_refused(city, users):
    with pytest.raises(TypeError):  # rows given to an owner or unit beyond their area
        compiled.rows(
            "owner", {"path0": "x"}, lambda v: Appeal.objects.visible_to(compiled.viewer(v))
        )
    with pytest.raises(TypeError):  # a value left out of the statement
        compiled.rows("dropped", {"h": 1}, lambda v: Resident.objects.all())
    with pytest.raises(TypeError):  # a value written into the SQL
        compiled.rows("inlined", {"n": 3}, lambda v: Resident.objects.all()[: v["n"] + 2**62])
    with pytest.raises(TypeError):  # values are ints and strs
        compiled.rows("date", {"d": date(2020, 1, 1)}, lambda v: Resident.objects.all())
    with pytest.raises(TypeError):  # one statement
        compiled.rows(
            "prefetch",
            {"h": city[0].pk},
            lambda v: Household.objects.filter(pk=v["h"]).prefetch_related("members"),
        )


def test_out_of_range_household_ids_are_not_found(city, users):
    for pk in (0, -1, 2**63, 2**70):
        with pytest.raises(Http404):
            _household(_request(users.admin), pk)


def test_overview_and_area_page_equal_a_recount_for_every_viewer(city, users, tree, client):
    from minqing.areas.models import Area
    from minqing.areas.selectors import area_subtree_counts
    from minqing.conftest import login
    from minqing.registry.summaries import overview

    viewers = _viewers(users)
    areas = list(Area.objects.order_by("path"))
    for _round in range(2):
        for user in viewers:
            for area in [None, *areas]:
                visible = Household.objects.visible_to(user)
                if area is not None:
                    if not Area.objects.visible_to(user).filter(pk=area.pk).exists():
                        continue
                    visible = visible.filter(grid__path__startswith=area.path)
                ov = overview(fetched_by=user, area=area)
                assert ov["totals"]["households"] == visible.count(), (user.username, area)
                living = Resident.objects.filter(household__in=visible, status="living")
                assert ov["totals"]["residents"] == living.count()
                open_periods = TagPeriod.objects.filter(household__in=visible, end_date=None)
                assert ov["totals"]["tagged"] == open_periods.count()
                for t in ov["tags"]:
                    assert t["count"] == open_periods.filter(tag=t["tag"]).count()
                for row in ov["rows"]:
                    assert (
                        row["households"]
                        == visible.filter(grid__path__startswith=row["area"].path).count()
                    )
                if area is not None:
                    below = Area.objects.filter(path__startswith=area.path).exclude(pk=area.pk)
                    want = {}
                    for a in below:
                        want[a.level] = want.get(a.level, 0) + 1
                    assert area_subtree_counts(area=area) == want
    # the area page's count of areas below, per level (a village's from the copy of areas)
    from minqing.areas.models import Level

    login(client, users.admin)
    for area in areas:
        want = {}
        for a in Area.objects.filter(path__startswith=area.path).exclude(pk=area.pk):
            want[a.level] = want.get(a.level, 0) + 1
        page = client.get(f"/areas/{area.pk}/")
        assert page.context["counts"] == [(Level(lvl).label, n) for lvl, n in sorted(want.items())]
    # a grid's page lists its households to those who see it, and to no one else
    grid = tree.grids["七星村1"]
    login(client, users.grid)
    assert city[0].address in client.get(f"/areas/{grid.pk}/").content.decode()
    login(client, users.outsider)
    assert client.get(f"/areas/{grid.pk}/").status_code == 404
    other = tree.grids["鹤岭村1"]
    page = client.get(f"/areas/{other.pk}/").content.decode()
    assert city[3].address in page and city[0].address not in page


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_overview_tiles_written_in_python_equal_the_template(city, users, tree, language):
    from django.template.loader import render_to_string
    from django.utils import translation

    from minqing.areas.models import Level
    from minqing.registry.models import Tag
    from minqing.registry.summaries import overview_context

    hostile = Tag.objects.create(code="x-1_y", name="<b>\"&'尾", scope="resident", order=1)
    village = tree.grids["七星村1"].parent
    village.name = '<i>七星&"村'
    village.save()
    period(tag_code=hostile.code, household=city[0], start=date(2020, 1, 1))
    with translation.override(language):
        for user, area in [
            (users.admin, None),
            (users.grid, None),
            (users.grid, tree.grids["七星村1"]),
            (users.township, tree.zhaoshan),
        ]:
            ctx = overview_context(fetched_by=user, area=area)
            assert any(t["tag"].pk == hostile.pk for t in ctx["ov"]["tags"])
            written = render_to_string("registry/_overview.html", ctx)
            plain = {
                **ctx,
                "ov": {k: v for k, v in ctx["ov"].items() if k not in ("tiles", "rows_html")},
            }
            assert written == render_to_string("registry/_overview.html", plain)
            assert "&lt;b&gt;&quot;&amp;&#x27;尾" in written and "<b>" not in written
            if area is not None and area.level < Level.GRID:
                # the rows written in Python too: one per child area, a hostile name escaped
                assert ctx["ov"]["rows"] and ctx["ov"]["rows_html"].count("<tr>") == len(
                    ctx["ov"]["rows"]
                )
                assert "&lt;i&gt;七星&amp;&quot;村" in written and "<i>" not in written


def test_compiled_statements_are_kept_per_thread_connection(city, users):
    """A compiler (and the parameters it is run with) belongs to one thread's connection:
    never to the `connection` proxy that every thread shares."""
    import threading

    from django.db import DEFAULT_DB_ALIAS, connection, connections

    _household(_request(users.admin), city[0].pk)
    mine = compiled._cache()
    assert any(shape[0] == "household" for shape in mine)
    assert connections[DEFAULT_DB_ALIAS].__dict__["_minqing_compiled"] is mine
    assert "_minqing_compiled" not in vars(connection)  # the shared proxy
    other = []
    thread = threading.Thread(target=lambda: other.append(compiled._cache()))
    thread.start()
    thread.join()
    assert other and other[0] is not mine and not other[0]
