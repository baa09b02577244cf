"""The UI shell as a cadre sees it on a phone: login, home, language switch, menu, areas."""

import re

import pytest
from playwright.sync_api import expect

# serialized_rollback: the flush after each test would also drop rows that data migrations
# seed (the system key-group tags); this restores them for the next test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE_WIDTH = 360


def switch_language(page, code: str) -> None:
    """The language switch lives in the menu (☰ on a phone), not in the header's front row."""
    button = page.locator("header button.nav-button")
    if button.is_visible() and button.get_attribute("aria-expanded") != "true":
        button.click()
    with page.expect_navigation():
        page.select_option("header select[name=language]", code)


def test_cadre_logs_in_and_sees_area_and_role(page, login, shot):
    login("cadre")
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.locator("main h1")).to_contain_text("您好")
    expect(page.locator("main .role")).to_have_text("村干部")
    expect(page.locator("main .facts")).to_contain_text("七星村")
    expect(page.locator("main .facts")).to_contain_text("昭山镇")
    expect(page.locator("header .who")).to_contain_text("村干部")
    shot("home-zh-hans")


def test_language_switch_to_traditional_and_english(page, login, shot):
    login("cadre")
    switch_language(page, "zh-hant")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page.locator("main .role")).to_have_text("村幹部")
    expect(page).to_have_title("首頁 · 民情")
    expect(page.locator("main .facts")).to_contain_text("管轄區域")
    shot("home-zh-hant")

    # The choice sticks: the login page after logging out stays in 繁體.
    page.goto("/login/")
    expect(page.locator("main h1")).to_have_text("登入")

    page.goto("/")
    switch_language(page, "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main .role")).to_have_text("Village cadre")
    expect(page.locator("main h1")).to_contain_text("Hello")
    expect(page.locator("main .facts")).to_contain_text("Jurisdiction")
    expect(page.locator("main .facts")).to_contain_text("七星村")  # names are data, not UI text
    shot("home-en")

    switch_language(page, "zh-hans")
    expect(page.locator("main .role")).to_have_text("村干部")


def test_phone_width_has_no_horizontal_overflow_and_menu_opens(page, login, page_width, shot):
    login("cadre")
    assert page.viewport_size["width"] == PHONE_WIDTH
    width = page_width()
    assert width <= PHONE_WIDTH, f"home page is {width}px wide on a {PHONE_WIDTH}px phone"

    nav = page.locator("header nav.nav")
    expect(nav).to_be_hidden()
    button = page.locator("header button.nav-button")
    expect(button).to_have_attribute("aria-expanded", "false")
    box = button.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, box
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="首页")).to_be_visible()
    expect(nav.get_by_role("link", name="区域")).to_be_visible()
    assert page_width() <= PHONE_WIDTH
    shot("home-menu-open")

    page.click("header button.nav-button")
    expect(nav).to_be_hidden()
    # a keyboard reaches it too
    button.focus()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("button", name="退出登录")).to_be_visible()


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_phone_width_fits_in_other_languages(page, login, page_width, language):
    """English labels are longer than Chinese ones; the header must still fit."""
    login("cadre")
    switch_language(page, language)
    width = page_width()
    assert width <= PHONE_WIDTH, f"{language} home page is {width}px wide"


def test_wrong_password_shows_the_error(page, login, shot):
    login("cadre", password="wrong-password")
    expect(page.locator("main .error")).to_have_text("用户名或密码不对，请重试。")
    expect(page.locator("input[name=username]")).to_have_value("cadre")
    assert page.url.endswith("/login/")
    shot("login-error")


def test_township_user_sees_its_villages(page, login, page_width, shot):
    login("township")
    expect(page.locator("main .role")).to_have_text("乡镇干部")
    page.click("header button.nav-button")
    page.locator("header nav.nav").get_by_role("link", name="区域").click()
    expect(page.locator("main h1")).to_contain_text("昭山镇")
    table = page.locator("main table.list")
    for village in ["昭山村", "七星村", "金屏村", "白合村", "杨柳村"]:
        expect(table).to_contain_text(village)
    expect(table).not_to_contain_text("鹤岭村")  # another township's village
    assert page_width() <= PHONE_WIDTH
    shot("areas-township")


def test_login_page_screenshot(page, page_width, shot):
    page.goto("/login/")
    expect(page.locator("main h1")).to_have_text("登录")
    assert page_width() <= PHONE_WIDTH
    shot("login")


@pytest.mark.parametrize(
    "browser_locale,heading",
    [("zh-CN", "登录"), ("zh-TW", "登入"), ("zh-HK", "登入"), ("en-US", "Log in")],
)
def test_browser_language_picks_the_catalogue(browser, live_server, demo, browser_locale, heading):
    """No cookie yet: Accept-Language decides (zh-TW and zh-HK fall back to zh-hant)."""
    context = browser.new_context(locale=browser_locale, base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/login/")
        expect(page.locator("main h1")).to_have_text(heading)
    finally:
        context.close()


@pytest.mark.parametrize(
    "username,language",
    [
        ("cadre", "zh-hans"),
        ("township", "zh-hans"),
        ("supervisor", "zh-hans"),
        ("cadre", "en"),
        ("supervisor", "zh-hant"),
    ],
)
def test_every_menu_page_fits_a_phone(page, login, page_width, shot, username, language):
    """Each page in the menu, for a few roles and languages, has no sideways scrolling."""
    login(username)
    if language != "zh-hans":
        switch_language(page, language)
    page.click("header button.nav-button")
    links = page.locator("header nav.nav a")
    targets = [
        (links.nth(i).inner_text(), links.nth(i).get_attribute("href"))
        for i in range(links.count())
    ]
    assert len(targets) >= 2
    too_wide = {}
    for label, href in targets:
        page.goto(href)
        if page_width() > PHONE_WIDTH:
            too_wide[label] = page_width()
        slug = href.strip("/").replace("/", "-") or "home"
        shot(f"menu-{language}-{username}-{slug}", full_page=False)
    assert too_wide == {}, f"pages wider than {PHONE_WIDTH}px: {too_wide}"


def test_desktop_shows_the_menu_without_the_button(page, login, shot):
    login("cadre")
    page.set_viewport_size({"width": 1024, "height": 700})
    expect(page.locator("header nav.nav")).to_be_visible()
    expect(page.locator("header button.nav-button")).to_be_hidden()
    expect(page.locator("header .header-search input[name=q]")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1024
    shot("home-desktop", full_page=False)
