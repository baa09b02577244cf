"""Jurisdiction scoping of the area tree: page, API and export answer the same way."""

import pytest

from minqing.areas.models import Area
from minqing.conftest import login
from minqing.core.scoping import jurisdiction_paths


def names(qs):
    return set(qs.values_list("name", flat=True))


def test_village_cadre_sees_only_their_village(users, tree):
    visible = names(Area.objects.visible_to(users.cadre))
    assert visible == {"七星村", "七星村第1网格", "七星村第2网格"}


def test_township_user_sees_all_its_villages_and_grids(users, tree):
    visible = names(Area.objects.visible_to(users.township))
    assert visible == {
        "昭山镇",
        "七星村",
        "昭山村",
        "七星村第1网格",
        "七星村第2网格",
        "昭山村第1网格",
        "昭山村第2网格",
    }
    assert "鹤岭村" not in visible


def test_user_without_jurisdiction_sees_nothing(users, tree):
    users.cadre.jurisdictions.all().delete()
    users.cadre._jurisdiction_paths = None
    assert not Area.objects.visible_to(users.cadre).exists()


def test_anonymous_sees_nothing(tree):
    from django.contrib.auth.models import AnonymousUser

    assert not Area.objects.visible_to(AnonymousUser()).exists()


def test_nested_jurisdictions_collapse_to_one_prefix(users, tree):
    from minqing.accounts.models import Jurisdiction

    Jurisdiction.objects.create(user=users.township, area=tree.qixing)
    users.township._jurisdiction_paths = None
    assert jurisdiction_paths(users.township) == [tree.zhaoshan.path]


def test_subtree_is_one_query(users, tree, django_assert_num_queries):
    jurisdiction_paths(users.township)
    with django_assert_num_queries(1):
        list(Area.objects.visible_to(users.township))


@pytest.mark.parametrize("url", ["/areas/{pk}/", "/areas/{pk}/export.xlsx", "/api/areas/{pk}"])
def test_forged_id_from_another_township_is_404(client, users, tree, url):
    login(client, users.township)
    other = tree.helingcun  # 鹤岭镇, not theirs
    response = client.get(url.format(pk=other.pk))
    assert response.status_code == 404
    assert "鹤岭村".encode() not in response.content


@pytest.mark.parametrize("url", ["/areas/{pk}/", "/areas/{pk}/export.xlsx", "/api/areas/{pk}"])
def test_own_area_is_served(client, users, tree, url):
    login(client, users.township)
    response = client.get(url.format(pk=tree.qixing.pk))
    assert response.status_code == 200


def test_missing_id_gives_the_same_404(client, users, tree):
    login(client, users.township)
    missing = client.get("/api/areas/999999")
    forged = client.get(f"/api/areas/{tree.helingcun.pk}")
    assert missing.status_code == forged.status_code == 404
    assert missing.json() == forged.json()


def test_api_list_is_scoped(client, users, tree):
    login(client, users.cadre)
    data = client.get("/api/areas/?limit=100").json()
    assert {a["name"] for a in data["items"]} == {"七星村", "七星村第1网格", "七星村第2网格"}
    assert data["count"] == 3


def test_api_list_query_count_is_fixed(client, users, tree, django_assert_max_num_queries):
    login(client, users.township)
    client.get("/api/areas/?limit=100")  # the first request keeps the paths in the session
    # session + user + count + page, whatever the number of areas
    with django_assert_max_num_queries(5):
        client.get("/api/areas/?limit=100")


def test_export_contains_only_the_subtree(client, users, tree):
    import io

    from openpyxl import load_workbook

    login(client, users.township)
    response = client.get(f"/areas/{tree.zhaoshan.pk}/export.xlsx")
    ws = load_workbook(io.BytesIO(response.content)).active
    codes = {row[0] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert tree.zhaoshan.code in codes and tree.qixing.code in codes
    assert tree.helingcun.code not in codes and tree.county.code not in codes


def test_grid_worker_may_not_export(client, users, tree):
    login(client, users.grid)
    assert client.get(f"/areas/{tree.grids['七星村1'].pk}/export.xlsx").status_code == 403


def test_pages_need_login(client, tree):
    response = client.get(f"/areas/{tree.qixing.pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(f"/api/areas/{tree.qixing.pk}").status_code == 401


def test_area_page_runs_no_query_it_does_not_show(client, users, tree):
    """A grid has no subtree to count; with the registry overview (which carries the
    children's figures) the children's table is not shown, so not queried."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, users.grid)
    grid = tree.grids["七星村1"]
    client.get(f"/areas/{grid.pk}/")
    with CaptureQueriesContext(connection) as grid_page:
        html = client.get(f"/areas/{grid.pk}/").content.decode()
    assert grid.name in html
    sql = " ".join(q["sql"] for q in grid_page.captured_queries)
    assert "child_count" not in sql and 'COUNT("areas_area"."id")' not in sql
    login(client, users.cadre)
    with CaptureQueriesContext(connection) as village_page:
        html = client.get(f"/areas/{tree.qixing.pk}/").content.decode()
    assert "七星村第2网格" in html  # named by the overview
    assert "child_count" not in " ".join(q["sql"] for q in village_page.captured_queries)
