"""The visit pages on a phone: the home due list, the visit form in one save, the household
page's visits, coverage with its chart, the printable visit log."""

import re

import pytest
from playwright.sync_api import expect

from minqing.visits.models import Visit

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_grid_worker_records_a_visit_from_the_due_list(page, login, page_width, shot):
    login("grid")
    panel = page.locator(".due-panel")
    expect(panel).to_contain_text("待走访")
    shot("visits-home-due")
    panel.locator(".due-list a").first.click()
    expect(page.locator("main h1")).to_contain_text("登记走访")
    page.fill("textarea[name=situation]", "老人在家,身体尚好;反映村道有坑洼")
    page.fill("textarea[name=need]", "村道坑洼,雨天难走")
    page.locator("input[name=met_members]").first.check()
    shot("visits-form")
    assert page_width() <= 360
    before = Visit.objects.count()
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    expect(page.locator("main")).to_contain_text("诉求/困难")
    assert Visit.objects.count() == before + 1
    page.click(".crumbs a")
    expect(page.locator(".household-section").nth(1)).to_contain_text("村道坑洼")
    shot("visits-household-section")


def test_coverage_chart_and_log(page, login, page_width, shot):
    login("township")
    page.goto("/visits/coverage/")
    expect(page.locator("#coverage-chart canvas")).to_be_visible()
    expect(page.locator("main")).to_contain_text("必访规则落实")
    shot("visits-coverage")
    assert page_width() <= 360
    page.locator(".stat.error").click()
    expect(page.locator("main h1")).to_contain_text("未走访户")
    login("grid")
    page.goto("/visits/log/")
    expect(page.locator("main h1")).to_contain_text("民情日志")
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    shot("visits-log-print")
    page.emulate_media(media="screen")
    expect(page).to_have_url(re.compile(r"/visits/log/"))


def test_pairing_list_on_a_phone(page, login, page_width, shot):
    login("cadre")
    page.goto("/visits/pairings/")
    expect(page.locator("main h1")).to_contain_text("结对帮扶")
    expect(page.locator("main .pairing-list")).to_contain_text("七星村第一网格")
    shot("visits-pairings")
    assert page_width() <= 360
    page.goto("/visits/pairings/import/")
    expect(page.locator("main h1")).to_contain_text("导入结对帮扶名单")
    shot("visits-pairing-import")
