"""Token and password pages on a phone, and the Content-Security-Policy in a real browser:
htmx search, the language switch and the Swagger docs work with no CSP violation."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _fresh_login_counters():
    """The lockout test locks `cadre` from 127.0.0.1: later tests start unlocked."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def open_menu_item(page, href):
    page.click("header button.nav-button")
    with page.expect_navigation():
        page.click(f"header nav.nav a[href='{href}']")


def test_a_cadre_creates_and_revokes_a_token(page, login, page_width, shot, csp_violations):
    login("cadre")
    open_menu_item(page, "/accounts/tokens/")
    expect(page.locator("main h1")).to_have_text("API 令牌")
    page.fill("input[name=name]", "手机同步")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    secret = page.locator("#new-token").inner_text()
    assert re.match(r"^mq_[\w-]{40,}$", secret)
    assert page_width() <= 360
    shot("tokens-created")
    page.goto("/accounts/tokens/")
    expect(page.locator("main")).not_to_contain_text(secret)
    with page.expect_navigation():
        page.click("button[name=revoke]")
    expect(page.locator("main table")).to_contain_text("已吊销")
    shot("tokens-revoked")
    assert csp_violations == []


def test_a_cadre_changes_the_password(page, login, page_width, shot, csp_violations):
    login("cadre")
    open_menu_item(page, "/accounts/password/")
    page.fill("input[name=old_password]", "minqing-demo")
    page.fill("input[name=new_password1]", "cadre2024")
    page.fill("input[name=new_password2]", "cadre2024")
    page.click("button[type=submit].primary")
    expect(page.locator("main")).to_contain_text("用户名")
    assert page_width() <= 360
    shot("password-refused")
    page.fill("input[name=old_password]", "minqing-demo")
    page.fill("input[name=new_password1]", "qing-shan-lu-7")
    page.fill("input[name=new_password2]", "qing-shan-lu-7")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    expect(page.locator(".messages")).to_contain_text("密码已修改")
    assert csp_violations == []


def test_htmx_search_and_docs_work_under_the_csp(page, login, csp_violations):
    login("township")
    page.goto("/registry/households/")
    page.fill("form.search-card input[name=q]", "张")
    page.wait_for_timeout(1200)  # the search fires after 400 ms of quiet
    expect(page).to_have_url(re.compile(r"q=%E5%BC%A0|q=张"))
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Minqing", timeout=20_000)
    assert csp_violations == []


def test_repeated_failures_lock_the_login_with_a_message(page, shot, csp_violations):
    for _ in range(5):
        page.goto("/login/")
        page.fill("input[name=username]", "cadre")
        page.fill("input[name=password]", "wrong-guess")
        with page.expect_navigation():
            page.click("button[type=submit].primary")
    expect(page.locator("main .error")).to_contain_text("登录失败次数过多")
    shot("login-locked")
    assert csp_violations == []


@pytest.mark.parametrize(
    ("user", "paths"),
    [
        ("township", ["/", "/registry/", "/appeals/", "/appeals/stats/", "/visits/coverage/"]),
        (None, ["/tips/public/"]),
    ],
)
def test_pages_with_charts_and_counts_need_no_inline_style(
    page, login, csp_violations, user, paths
):
    """style-src 'self': the home panels' counts, the stats pages and the ECharts charts
    render with no style the browser refuses."""
    if user:
        login(user)
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert csp_violations == []
