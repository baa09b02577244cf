"""The page shell every app inherits: header search, menu button, 退出登录, language switch in
the menu, favicon and manifest, and no inline script or event handler (the CSP forbids them)."""

import json
import re
from pathlib import Path

from django.conf import settings

from minqing.conftest import login

STATIC = Path(settings.BASE_DIR) / "minqing" / "static" / "minqing"


def test_header_has_search_menu_button_and_logout(client, users):
    page = login(client, users.cadre).get("/").content.decode()
    header = page.split("<header")[1].split("</header>")[0]
    assert 'role="search"' in header and 'action="/registry/households/"' in header
    assert 'name="q"' in header
    assert re.search(r'<button type="button" class="nav-button"[^>]*aria-expanded="false"', header)
    assert "退出登录" in header
    nav = header.split('id="main-nav"')[1]
    assert 'name="language"' in nav  # the language switch lives in the menu


def test_favicon_and_manifest(client, users):
    page = login(client, users.cadre).get("/").content.decode()
    assert 'rel="icon"' in page and 'rel="manifest"' in page
    manifest = json.loads((STATIC / "manifest.json").read_text())
    assert manifest["display"] == "standalone" and manifest["icons"]
    assert (STATIC / "icon.svg").exists()


def test_no_inline_script_or_handler(client, users, tree):
    login(client, users.cadre)
    for url in ("/", "/registry/households/", "/registry/residents/", "/registry/tags/"):
        page = client.get(url).content.decode()
        # data for charts comes as json_script (type="application/json"): never executed
        assert not re.search(
            r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", page
        ), url
        assert not re.search(r"\son[a-z]+=\"", page), url


def test_signed_out_pages_keep_the_language_switch(client, db):
    page = client.get("/login/").content.decode()
    assert 'name="language"' in page and "退出登录" not in page


def test_the_kept_menu_is_each_users_own_with_this_requests_values(users, tree):
    """core/templatetags/shell.py keeps the rendered menu: whoever asked first, each user
    sees their own name, role and menu; the CSRF token, the language form's return path and
    the search text are this request's, escaped."""
    from django.test import Client

    from minqing.accounts.models import User

    User.objects.filter(pk=users.cadre.pk).update(last_name="李", first_name="四")
    User.objects.filter(pk=users.supervisor.pk).update(last_name="王", first_name="五")
    cadre = login(Client(enforce_csrf_checks=True), User.objects.get(pk=users.cadre.pk))
    supervisor = login(Client(), User.objects.get(pk=users.supervisor.pk))
    hostile = '<script>x</script>"'
    for _ in range(2):
        page = cadre.get("/registry/households/", {"q": hostile}).content.decode()
        header = page.split("<header")[1].split("</header>")[0]
        assert "李四 · 村干部" in header and "王五" not in header
        assert "/core/audit/" not in header  # the cadre's menu has no audit log
        assert "<script>x" not in page and 'value="&lt;script&gt;x&lt;/script&gt;&quot;"' in header
        assert "q=%3Cscript%3Ex%3C%2Fscript%3E%22" in header  # the language form's next
        other = supervisor.get("/").content.decode().split("<header")[1].split("</header>")[0]
        assert "王五 · 督查人员" in other and "李四" not in other and "/core/audit/" in other
        assert 'value=""' in other  # no search text carried over from the cadre's page
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', header))
    assert len(tokens) == 1  # the request's own token in both forms, no marker left
    assert "marker" not in page
    response = cadre.post("/logout/", {"csrfmiddlewaretoken": tokens.pop()})
    assert response.status_code == 302
    assert cadre.get("/").status_code == 302  # logged out: the token was valid


def test_the_kept_menu_follows_the_language(client, users):
    login(client, users.cadre)
    assert "退出登录" in client.get("/").content.decode()
    client.cookies["django_language"] = "en"
    page = client.get("/").content.decode()
    assert "退出登录" not in page and 'lang="en"' in page
