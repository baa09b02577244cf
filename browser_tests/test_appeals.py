"""Appeals on a phone: my duties on the home page, the list, a matter and its actions, the
intake form with its proposal, the resident's form and tracking page (no account)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_cadre_works_through_duties(page, login, shot, page_width):
    login("cadre")
    expect(page.locator("main")).to_contain_text("履职清单")
    shot("appeals-home-duties")
    page.goto("/appeals/")
    expect(page.locator("main h1")).to_have_text("诉求")
    shot("appeals-list")
    assert page_width() <= 360
    page.goto("/appeals/duties/")
    page.locator("main table a").first.click()
    expect(page.locator("main")).to_contain_text("办理过程")
    shot("appeals-detail")


def test_intake_form_proposes_a_category(page, login, shot):
    login("cadre")
    page.goto("/appeals/new/")
    page.fill("#id_content", "屋里自来水停了三天了,冇得水煮饭")
    expect(page.locator("#suggest")).to_contain_text("饮水供水", timeout=10_000)
    shot("appeals-intake-suggest")


def test_resident_files_and_tracks_without_an_account(page, shot):
    page.goto("/appeals/public/new/")
    page.select_option("#id_category_id", label="路灯照明")
    page.select_option("#id_area_id", index=3)
    page.fill("#id_content", "村口的路灯坏了一个月了,晚上黑得很")
    page.click("button[type=submit].primary")
    code = page.locator("#tracking-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    shot("appeals-public-filed")
    page.goto("/appeals/track/")
    page.fill("#id_code", code)
    page.click("button[type=submit].primary")
    expect(page.locator("main")).to_contain_text("已受理")
    shot("appeals-track")
