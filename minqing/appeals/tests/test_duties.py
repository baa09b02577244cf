"""My duties (履职清单): the same rows as its plain definition for every kind of user, never a
row the user may not see, and a fixed number of queries (the home panel: one)."""

import random
from datetime import timedelta

import pytest
from django.db.models import Q
from django.test import RequestFactory

from minqing.accounts.tests.factories import UserFactory
from minqing.appeals.models import Appeal, State
from minqing.appeals.nav import _duties
from minqing.appeals.selectors import ROLE_LEVEL, appeal_duties
from minqing.appeals.tests.factories import file_appeal
from minqing.areas.models import Level
from minqing.conftest import login
from minqing.core import clock
from minqing.core.roles import Role
from minqing.core.scoping import jurisdiction_paths, path_q


def plain_duties(user):
    """The definition, written the obvious way (joins and paths, inside visible_to)."""
    mine = Q(owner=user, state__in=[State.CLAIMED, State.ASSIGNED, State.IN_PROGRESS])
    if user.unit_id:
        mine |= Q(unit_id=user.unit_id, owner__isnull=True, state=State.ASSIGNED)
    level, paths = ROLE_LEVEL.get(user.role), jurisdiction_paths(user)
    if level is not None and paths:
        mine |= path_q(paths, "area__path") & Q(state=State.ACCEPTED, handling_area__level=level)
    return Appeal.objects.visible_to(user).filter(mine)


@pytest.fixture
def city_of_matters(users, tree, units):
    """Matters in every state, area, handling level, owner and unit, mixed at random."""
    first = file_appeal(actor=users.admin, area=tree.qixing)
    areas = [tree.qixing, tree.zhaoshancun, tree.helingcun, tree.zhaoshan, *tree.grids.values()]
    owners = [None, users.cadre, users.dept, users.outsider, users.township, users.grid]
    rnd = random.Random(16)
    now = clock.now()
    rows = []
    for i in range(240):
        area = rnd.choice(areas)
        chain = [a for a in (area, area.parent, area.parent.parent) if a.level <= Level.VILLAGE]
        chain = [a for a in chain if a.level >= Level.COUNTY]
        rows.append(
            Appeal(
                kind=first.kind,
                channel=first.channel,
                category_id=first.category_id,
                title=f"事项{i}",
                content=f"事项{i}",
                area=area,
                handling_area=rnd.choice(chain),
                state=rnd.choice(list(State.values)),
                owner=rnd.choice(owners),
                unit=rnd.choice([None, None, units.bureau, units.committee]),
                due_at=rnd.choice([None, now + timedelta(days=rnd.randint(-9, 9))]),
            )
        )
    Appeal.objects.bulk_create(rows)


def every_user(users, tree):
    extra = [
        UserFactory(username="grid2", role=Role.GRID_WORKER, areas=[tree.grids["七星村2"]]),
        UserFactory(username="heling", role=Role.TOWNSHIP_STAFF, areas=[tree.heling]),
        UserFactory(username="cityleader", role=Role.LEADER, areas=[tree.city]),
        UserFactory(
            username="twovillages",
            role=Role.VILLAGE_CADRE,
            areas=[tree.qixing, tree.helingcun],
        ),
        UserFactory(username="gone", role=Role.VILLAGE_CADRE, areas=[tree.qixing], is_active=False),
    ]
    return [*vars(users).values(), *extra]


def test_duties_are_the_plain_definition_and_never_more_than_visible(
    users, tree, units, city_of_matters
):
    Appeal.objects.filter(title="事项7").update(
        owner=UserFactory(username="gone2", is_active=False)
    )
    for user in every_user(users, tree):
        user.refresh_from_db()
        got = list(appeal_duties(fetched_by=user).values_list("id", flat=True))
        assert sorted(got) == sorted(plain_duties(user).values_list("id", flat=True)), user
        visible = set(Appeal.objects.visible_to(user).values_list("id", flat=True))
        assert set(got) <= visible, user
        if not user.is_active:
            assert got == []
    grid = users.grid  # a grid worker: matters waiting at the village, in their grid only
    waiting = appeal_duties(fetched_by=grid).filter(state=State.ACCEPTED)
    assert waiting and {a.area_id for a in waiting} == {tree.grids["七星村1"].pk}


def test_duties_are_overdue_first_then_by_deadline(users, tree, units, city_of_matters):
    now = clock.now()
    rows = list(appeal_duties(fetched_by=users.cadre))
    assert rows
    keys = [(not a.is_overdue, a.due_at is None, a.due_at or now, a.pk) for a in rows]
    assert keys == sorted(keys)


def test_a_new_area_reaches_the_duties_at_once(users, tree):
    """The waiting part's area ids are kept per process: adding an area drops them."""
    from minqing.areas.tests.factories import make_area

    leader = UserFactory(username="cityleader", role=Role.LEADER, areas=[tree.city])
    assert not appeal_duties(fetched_by=leader).exists()
    county = make_area(parent=tree.city, level=Level.COUNTY, code="430302000000", name="雨湖区")
    appeal = file_appeal(actor=users.admin, area=tree.qixing)
    Appeal.objects.filter(pk=appeal.pk).update(handling_area=county)
    leader._jurisdiction_paths = None
    assert list(appeal_duties(fetched_by=leader)) == [appeal]


def test_home_panel_is_one_query(users, tree, units, city_of_matters, django_assert_num_queries):
    user = users.cadre
    request = RequestFactory().get("/")
    request.user = user
    _duties(request)  # the kept area ids and the user's paths, as a warm process holds them
    with django_assert_num_queries(1):
        panel = _duties(request)
    plain = plain_duties(user)
    assert panel["duties_count"] == plain.count() > 5
    assert panel["duties_overdue"] == plain.filter(due_at__lt=clock.now()).count()
    assert [a.pk for a in panel["duties"]] == [a.pk for a in appeal_duties(fetched_by=user)[:5]]
    request.user = users.supervisor  # owns nothing, takes up nothing
    assert _duties(request) == {"duties": [], "duties_count": 0, "duties_overdue": 0}


def test_home_panel_compiled_once_is_every_users_own(users, tree, units, city_of_matters):
    """The panel's statement is compiled once per shape (core.compiled): every user, twice,
    at two moments, gets their own rows and counts (users of one shape share the SQL)."""
    people, panels = every_user(users, tree), 0
    for moment in (clock.now(), clock.now() + timedelta(days=5)):
        with clock.frozen(moment):
            for _round in range(2):
                for user in people:
                    user.refresh_from_db()
                    request = RequestFactory().get("/")
                    request.user = user
                    panel = _duties(request)
                    if panel is None:  # no right to see appeals: no panel
                        continue
                    panels += 1
                    plain = plain_duties(user)
                    assert panel["duties_count"] == plain.count(), user
                    overdue = plain.filter(due_at__lt=moment).count()
                    assert panel["duties_overdue"] == overdue, user
                    want = [a.pk for a in appeal_duties(fetched_by=user)[:5]]
                    assert [a.pk for a in panel["duties"]] == want, user
    assert panels >= 4 * 8


def test_api_lists_build_only_the_served_page(
    client, users, tree, units, city_of_matters, django_assert_max_num_queries
):
    login(client, users.admin)
    client.get("/api/appeals/?limit=5")  # warm the session
    with django_assert_max_num_queries(6):
        r = client.get("/api/appeals/?limit=5&offset=3")
    body = r.json()
    assert body["count"] == Appeal.objects.count() and len(body["items"]) == 5
    expected = list(Appeal.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert [i["id"] for i in body["items"]] == expected[3:8]
    login(client, users.cadre)
    r = client.get("/api/appeals/duties?limit=3")
    assert r.json()["count"] == plain_duties(users.cadre).count()
    assert [i["id"] for i in r.json()["items"]] == [
        a.pk for a in appeal_duties(fetched_by=users.cadre)[:3]
    ]


@pytest.mark.parametrize(
    "url, queries",
    [
        ("/api/appeals/duties", 4),  # session, user, the page's rows, its count
        ("/appeals/duties/", 4),
        ("/api/appeals/?overdue=true", 5),  # + visible_to's rows given outside the area
    ],
)
def test_duties_pages_query_counts(
    client, users, tree, units, city_of_matters, django_assert_num_queries, url, queries
):
    """Pinned: a page's rows come with their category and areas and no query per row."""
    login(client, users.cadre)
    client.get(url)  # warm: the session's scope, the kept areas and categories
    with django_assert_num_queries(queries):
        r = client.get(url)
    assert r.status_code == 200
