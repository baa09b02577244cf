"""The household page as a role without the reveal right sees it (age, masked numbers), and
a stale edit: two cadres on two phones edit one household; the second save is refused with
what changed named."""

import re

import pytest

from minqing.registry.models import Household

DEMO_PASSWORD = "minqing-demo"
PHONE = {"width": 360, "height": 800}
# The system tags of data migration 0002 survive each test's flush (see test_shell.py).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_leader_sees_ages_and_masked_numbers(page, login, page_width, shot):
    login("leader")
    household = Household.objects.filter(grid__parent__name="七星村").order_by("number").first()
    page.goto(f"/registry/households/{household.pk}/")
    text = page.inner_text("main")
    assert re.search(r"\d+ 岁", text)
    for born in household.members.values_list("birth_date", flat=True):
        assert f"{born:%Y-%m-%d}" not in text and f"{born:%Y%m%d}" not in text
    assert re.search(r"\d{6}\*{12}", text)
    assert page_width() <= PHONE["width"]
    shot("registry-household-leader")


def test_second_editor_is_told_what_changed(browser, live_server, page, login, shot):
    household = Household.objects.filter(grid__parent__name="七星村").order_by("number").first()
    url = f"/registry/households/{household.pk}/edit/"
    login("cadre")
    page.goto(url)
    other = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=live_server.url)
    try:
        second = other.new_page()
        second.goto("/login/")
        second.fill("input[name=username]", "township")
        second.fill("input[name=password]", DEMO_PASSWORD)
        with second.expect_navigation():
            second.click("button[type=submit].primary")
        second.goto(url)
        second.fill("textarea[name=notes]", "乡镇复核:住址已更正")
        with second.expect_navigation():
            second.click("button[type=submit].primary")
    finally:
        other.close()
    page.fill("input[name=address]", household.address + "(新)")
    page.click("button[type=submit].primary")
    page.wait_for_selector(".form-errors")
    assert "保存未成功" in page.inner_text(".form-errors")
    assert "备注" in page.inner_text(".form-errors")
    shot("registry-household-stale-edit")
