"""Tips at phone size: the public form and receipt without JavaScript or cookies, and the
officer's pages after the password and the TOTP code (the demo secret of the README)."""

import base64
import hmac
import struct
import time

import pytest

from minqing.tips.demo import DEMO_TOTP

PHONE_WIDTH = 360
# serialized_rollback: keep the rows data migrations made (tags, categories) across tests
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def totp_now(secret_b32: str) -> str:
    key = base64.b32decode(secret_b32)
    counter = struct.pack(">Q", int(time.time()) // 30)
    digest = hmac.new(key, counter, "sha1").digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@pytest.fixture
def nojs_page(browser, live_server, demo):
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 800},
        locale="zh-CN",
        base_url=live_server.url,
        java_script_enabled=False,
    )
    page = context.new_page()
    yield page, context
    context.close()


def test_public_tip_without_javascript_or_cookies(nojs_page):
    from browser_tests.conftest import SCREENSHOTS

    page, context = nojs_page
    SCREENSHOTS.mkdir(exist_ok=True)
    page.goto("/tips/public/")
    page.screenshot(path=str(SCREENSHOTS / "tips-public-form.png"), full_page=True)
    page.select_option("select[name=area]", label="\u3000七星村")
    page.select_option("select[name=category]", label="村霸")
    page.fill("textarea[name=content]", "有人在村口鱼塘强收管理费")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    code = page.inner_text("#receipt")
    assert len(code.replace("-", "")) == 20
    page.screenshot(path=str(SCREENSHOTS / "tips-public-receipt.png"), full_page=True)
    assert context.cookies() == []
    page.goto("/tips/public/receipt/")
    page.fill("input[name=code]", code)
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    assert "已受理" in page.inner_text("main")
    page.screenshot(path=str(SCREENSHOTS / "tips-public-status.png"), full_page=True)
    assert context.cookies() == []


def test_officer_logs_in_with_totp_and_reads_a_tip(page, login, shot, page_width):
    login("zhengfa")
    assert "/accounts/otp/verify/" in page.url
    shot("tips-otp-verify")
    page.fill("input[name=token]", totp_now(DEMO_TOTP["zhengfa"]))
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    page.goto("/tips/")
    shot("tips-officer-list")
    assert page_width() <= PHONE_WIDTH
    page.click("table a >> nth=0")
    assert "举报内容" in page.inner_text("main")
    shot("tips-officer-detail")
    assert page_width() <= PHONE_WIDTH
    page.goto("/tips/stats/")
    shot("tips-stats")
    assert page_width() <= PHONE_WIDTH
