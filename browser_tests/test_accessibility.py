"""axe-core (npm package, injected by Playwright) finds no serious or critical violation on
any page a cadre or a supervisor opens, at phone size, with the forms unfolded."""

from pathlib import Path

import pytest

from minqing.registry.models import Household

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_problems(page) -> list[str]:
    """Serious and critical violations on the current page, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """async () => (await axe.run(document, {
             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                              'best-practice']}
           })).violations.filter(v => ['serious', 'critical'].includes(v.impact))
             .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"""
    )
    return result


def small_targets(page) -> list[str]:
    """Visible buttons, fields and toggles under 44 px high (links inside text are exempt)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll(
            'button, .button, summary, input:not([type=hidden]):not([type=checkbox]), select'))
          .filter(e => e.offsetParent !== null)
          .filter(e => e.getBoundingClientRect().height < 44)
          .map(e => e.outerHTML.slice(0, 60))"""
    )


def duplicate_ids(page) -> list[str]:
    return page.evaluate(
        """() => { const n = {}; document.querySelectorAll('[id]').forEach(e => {
             n[e.id] = (n[e.id] || 0) + 1; });
           return Object.keys(n).filter(k => n[k] > 1); }"""
    )


@pytest.fixture
def a11y_page(browser, live_server, demo):
    # the CSP (when on) forbids injected inline scripts; axe is a test tool, not the app
    context = browser.new_context(
        viewport={"width": 360, "height": 800},
        locale="zh-CN",
        base_url=live_server.url,
        bypass_csp=True,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, username):
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "minqing-demo")
    with page.expect_navigation():
        page.click("button[type=submit].primary")


def open_all(page):
    """Unfold what folds (menu, panels, filters, reveal boxes) so axe sees it too."""
    button = page.locator("header button.nav-button")
    if button.count() and button.is_visible():
        button.click()
    page.evaluate("document.querySelectorAll('main details').forEach(d => d.open = true)")


def test_login_page_has_no_serious_violation(a11y_page):
    a11y_page.goto("/login/")
    assert axe_problems(a11y_page) == []


@pytest.mark.parametrize("username", ["cadre", "supervisor"])
def test_every_page_has_no_serious_violation(a11y_page, username):
    page = a11y_page
    sign_in(page, username)
    household = (
        Household.objects.filter(grid__parent__name="七星村", head__isnull=False)
        .order_by("number")
        .first()
    )
    urls = [
        "/",
        "/registry/households/",
        "/registry/households/?q=zhang",
        f"/registry/households/{household.pk}/",
        "/registry/residents/",
        "/registry/tags/",
        "/registry/tags/dibao/",
        "/registry/places/",
        "/registry/organisations/",
        "/areas/",
    ]
    if username == "cadre":
        urls += [
            "/registry/households/new/",
            f"/registry/households/{household.pk}/edit/",
            "/registry/import/",
        ]
    else:
        urls += ["/core/audit/", f"/core/audit/?household={household.number}"]
    found = {}
    for url in urls:
        response = page.goto(url)
        assert response.status == 200, url
        open_all(page)
        problems = axe_problems(page) + [f"small: {t}" for t in small_targets(page)]
        problems += [f"duplicate id: {i}" for i in duplicate_ids(page)]
        if problems:
            found[url] = problems
    assert found == {}
