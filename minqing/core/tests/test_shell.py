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
