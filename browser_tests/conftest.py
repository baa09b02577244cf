"""Playwright (sync API) driving Debian's chromium against pytest-django's live server.

Run with `make browser-test`. The browser is /usr/bin/chromium (apt-get install chromium
fonts-noto-cjk); Playwright never downloads one here. Screenshots go to screenshots/.
"""

import os
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API runs an event loop in this thread; the ORM calls the fixtures make
# (demo data, flushing) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 360, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
DEMO_PASSWORD = "minqing-demo"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# The database right after the first test's `minqing demo` (SQLite, in memory).
_demo_copy: sqlite3.Connection | None = None


@pytest.fixture
def demo(transactional_db):
    """The demo area, units and logins (`minqing demo`), fresh for each test. On SQLite
    (the browser tests' database) the demo is loaded once and every later test starts from
    a copy of that database (SQLite's backup API: milliseconds, where the demo takes ~9 s);
    elsewhere it is loaded for each test."""
    global _demo_copy
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from minqing.appeals import routing
    from minqing.core.proc_cache import process_cache_clear

    if connection.vendor != "sqlite":
        call_command("demo", stdout=StringIO())
        routing.forget()
        return
    connection.ensure_connection()
    if _demo_copy is None:
        call_command("demo", stdout=StringIO())
        _demo_copy = sqlite3.connect(":memory:", check_same_thread=False)
        connection.connection.backup(_demo_copy)
    else:
        _demo_copy.backup(connection.connection)
        # rows changed under the ORM's feet: no process copy or content type may linger
        ContentType.objects.clear_cache()
        process_cache_clear()
        routing.forget()  # the router and duplicate vectors were built from the old rows


@pytest.fixture
def page(browser, live_server, demo):
    """A phone-sized page whose browser asks for Simplified Chinese, like a cadre's phone."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    # requests a page makes after loading (htmx sections) finish before the next test's
    # database is put in place: one caught mid-restore cached an empty router
    try:
        page.wait_for_load_state("networkidle", timeout=5_000)
    except Exception:  # a page that never goes idle (offline sync) is closed anyway
        pass
    context.close()


@pytest.fixture
def csp_violations(page):
    """What the browser refused under the Content-Security-Policy (console messages)."""
    seen = []
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


# The offline visit form keeps photos in IndexedDB ('minqing-visits', store 'photos').
PHONE_PHOTOS_JS = """() => new Promise(done => { const r = indexedDB.open('minqing-visits', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('photos', {keyPath: 'id'});
    r.onsuccess = () => { const q = r.result.transaction('photos').objectStore('photos').getAll();
    q.onsuccess = () => { r.result.close(); done(q.result.map(p => ({visit: p.visit,
        visit_id: p.visit_id || null, conflict: !!p.conflict, user: p.user}))); }; }; })"""


class PhonePhotos:
    """The photos waiting on the phone. page.evaluate awaits the store's promise;
    wait_for_function does not (a promise is truthy at once), so waiting polls instead."""

    def __init__(self, page):
        self.page = page

    def __call__(self) -> list[dict]:
        return self.page.evaluate(PHONE_PHOTOS_JS)

    def until_empty(self, seconds: float = 15) -> None:
        for _ in range(int(seconds * 10)):
            if not self():
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"photos still on the phone: {self()}")


@pytest.fixture
def phone_photos(page):
    return PhonePhotos(page)


@pytest.fixture
def shot(page):
    """shot("name") saves a screenshot (360 px wide, whole page) to screenshots/name.png."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def login(page):
    """login("cadre") signs in through the login form with the demo password."""

    def sign_in(username: str, password: str = DEMO_PASSWORD) -> None:
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("button[type=submit].primary")

    return sign_in


@pytest.fixture
def page_width(page):
    """The page's scroll width: more than the viewport means sideways scrolling on a phone."""
    return lambda: page.evaluate("document.scrollingElement.scrollWidth")
