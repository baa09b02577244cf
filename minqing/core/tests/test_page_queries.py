"""The fixed cost of the pages every user opens first (home, area page) at grid and village
level: the held areas and their crumbs come from the session's paths and the process's copy
of the areas, the tags from theirs; the query count does not grow with the data."""

import pytest

from minqing.accounts.models import Jurisdiction
from minqing.accounts.tests.factories import UserFactory
from minqing.conftest import login
from minqing.core.roles import Role
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

pytestmark = pytest.mark.django_db


def _grow(tree):
    for name in ("七星村1", "七星村2"):
        for _i in range(6):
            h = HouseholdFactory(grid=tree.grids[name])
            ResidentFactory(household=h, relation="head")


@pytest.mark.parametrize(
    "who,pins",
    [
        # home: session, user, the duties and due panels, then the overview: a grid's totals
        # and key groups, or a village's children's sums (the totals) and key groups (the
        # children from the process's copy); the area page: the same overview, and a grid's
        # households (a village's area counts come from the process's copy of its grids)
        ("grid", {"home": 6, "area": 5}),
        ("cadre", {"home": 6, "area": 4}),
    ],
)
def test_home_and_area_page_query_counts_are_fixed(
    client, users, tree, who, pins, django_assert_num_queries
):
    user = getattr(users, who)
    area = tree.grids["七星村1"] if who == "grid" else tree.qixing
    login(client, user)
    client.get("/")  # the first request keeps the paths; the process's copies fill
    client.get(f"/areas/{area.pk}/")
    with django_assert_num_queries(pins["home"]):
        assert client.get("/").status_code == 200
    with django_assert_num_queries(pins["area"]):
        assert client.get(f"/areas/{area.pk}/").status_code == 200
    _grow(tree)
    with django_assert_num_queries(pins["home"]):
        home = client.get("/").content.decode()
    with django_assert_num_queries(pins["area"]):
        page = client.get(f"/areas/{area.pk}/").content.decode()
    assert area.name in home and area.name in page


def test_home_names_every_held_area_with_its_way_up(client, tree):
    """A township and a grid inside it, both held: both are named, each with the areas
    above it (the grid's village too, which the session's outermost paths do not name)."""
    user = UserFactory(
        username="both", role=Role.TOWNSHIP_STAFF, areas=[tree.zhaoshan, tree.grids["七星村1"]]
    )
    login(client, user)
    html = client.get("/").content.decode()
    lines = html.split('class="area-line"')[1:]
    assert len(lines) == 2
    assert "昭山镇" in lines[0] and "七星村第1网格" in lines[1]
    assert "七星村" in lines[1].split("七星村第1网格")[0]  # its village, above it
    assert "湘潭市" in lines[0] and "湘潭市" in lines[1]


def test_a_renamed_area_shows_its_new_name_on_the_next_page(client, users, tree):
    login(client, users.cadre)
    assert "七星村" in client.get("/").content.decode()
    tree.qixing.name = "七星新村"
    tree.qixing.save()
    assert "七星新村" in client.get("/").content.decode()
    assert "七星新村" in client.get(f"/areas/{tree.qixing.pk}/").content.decode()


def test_an_area_taken_away_is_gone_from_home_and_its_page(client, users, tree):
    login(client, users.cadre)
    assert client.get(f"/areas/{tree.qixing.pk}/").status_code == 200
    Jurisdiction.objects.filter(user=users.cadre).delete()
    Jurisdiction.objects.create(user=users.cadre, area=tree.zhaoshancun)
    assert client.get(f"/areas/{tree.qixing.pk}/").status_code == 404
    html = client.get("/").content.decode()
    assert "昭山村" in html and "七星村" not in html.split('class="facts"')[1].split("</dl>")[0]


def test_the_area_page_crumbs_show_only_visible_areas(client, users, tree):
    login(client, users.township)
    html = client.get(f"/areas/{tree.grids['七星村1'].pk}/").content.decode()
    crumbs = html.split('class="crumbs"')[1].split("</div>")[0]
    assert "昭山镇" in crumbs and "七星村" in crumbs
    assert "昭山示范区" not in crumbs and "湘潭市" not in crumbs  # above the jurisdiction


def test_an_imported_area_shows_in_the_picker_and_the_overview(client, users, tree):
    """The area import creates in bulk (no post_save): it drops the process's copy itself."""
    from minqing.areas.tests.test_import import run

    login(client, users.township)
    assert "新华村" not in client.get("/registry/residents/").content.decode()
    assert "新华村" not in client.get("/").content.decode()
    job = run(users.admin, "430372100299,新华村,村/社区,430372100000\n")
    assert job.status == "done", job.result
    assert "新华村" in client.get("/registry/residents/").content.decode()  # the picker
    assert "新华村" in client.get("/").content.decode()  # the overview's rows
