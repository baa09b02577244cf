"""The home overview (counts that open the filtered list, key-group chart, one row per
child area) for three roles, an area page and a grid page, at 360 px."""

import pytest
from playwright.sync_api import expect

# serialized_rollback: keep the rows of data migrations (system tags) between tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE_WIDTH = 360


@pytest.mark.parametrize("username", ["grid", "cadre", "leader"])
def test_home_overview_for_each_role(page, login, page_width, shot, username):
    login(username)
    overview = page.locator("main section.overview")
    expect(overview).to_be_visible()
    expect(overview.locator(".chart svg")).to_be_attached()  # ECharts drew the bars
    households = int(overview.locator(".tile .stat").first.inner_text())
    assert households > 0
    assert page_width() <= PHONE_WIDTH
    shot(f"home-{username}")
    overview.locator(".tile").first.click()
    expect(page.locator("main p.count")).to_contain_text(f"共 {households} 户")


def test_area_page_shows_its_subtree_and_a_grid_its_households(page, login, page_width, shot):
    login("township")
    page.goto("/areas/")
    expect(page.locator("main section.overview")).to_be_visible()
    page.locator("main section.overview table a").first.click()  # a village
    expect(page.locator("main section.overview")).to_be_visible()
    shot("area-village")
    page.locator("main section.overview table a").first.click()  # a grid
    expect(page.locator("main ul.rows li a").first).to_contain_text("户")
    assert page_width() <= PHONE_WIDTH
    shot("area-grid")
