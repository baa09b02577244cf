"""Deploy-ready settings: `check --deploy` clean with the production variables of the
README, a Content-Security-Policy every template can live with, docs served locally."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from minqing.conftest import login

# The production variables documented in README.md ("Production").
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "minqing.example.cn",
    "CSRF_TRUSTED_ORIGINS": "https://minqing.example.cn",
    "SECURE_SSL": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _check_deploy(extra_env):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_variables():
    result = _check_deploy(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout + result.stderr


def test_the_readme_documents_those_variables():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    for name in PRODUCTION_ENV:
        assert f"`{name}" in readme, name


def test_pages_carry_csp_and_frame_headers(client, users):
    page = login(client, users.cadre).get("/")
    csp = page["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src.split()[0] == "'self'"  # plus 'nonce-…' on pages that use CSP_NONCE
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    html = page.content.decode()
    assert '"allowEval": false' in html  # htmx never evaluates strings
    style_src = re.search(r"style-src ([^;]*)", csp).group(1)
    assert "unsafe-inline" not in style_src  # injected markup cannot restyle a page either


def test_no_template_carries_an_inline_style():
    """Under style-src 'self' a style attribute or <style> element is refused by the browser
    (the page would silently lose it): every template styles through classes."""
    found = []
    for base in Path(settings.BASE_DIR).glob("minqing/**/templates"):
        for path in base.rglob("*.html"):
            text = path.read_text()
            if re.search(r"\sstyle\s*=|<style[\s>]", text):
                found.append(str(path.relative_to(settings.BASE_DIR)))
    assert found == []


def test_hsts_and_secure_cookies_when_https(client, users, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    page = client.get("/login/", secure=True)
    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    response = client.post(
        "/login/", {"username": "cadre", "password": "pw-for-tests"}, secure=True
    )
    assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]


TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "minqing"]
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=|javascript:|hx-on|<script(?![^>]*\b(src|nonce)=)")


def test_no_template_needs_unsafe_inline_scripts():
    """Inline event handlers, javascript: links and inline <script> without the nonce are
    blocked by the CSP: none may appear in a template (scripts carry `nonce="{{ CSP_NONCE }}"`
    or live in static files; JSON data goes in <script type="application/json">)."""
    offenders = []
    for base in TEMPLATE_DIRS:
        for path in base.rglob("*.html"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                cleaned = re.sub(r'<script[^>]*type="application/json"', "", line)
                if INLINE_HANDLER.search(cleaned):
                    offenders.append(f"{path.relative_to(base)}:{n}: {line.strip()[:80]}")
    assert offenders == []


def test_api_docs_serve_their_own_static_files(client, users):
    docs = login(client, users.cadre).get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in docs and "cdn.jsdelivr" not in docs
    assert client.get("/static/ninja/swagger-ui-init.js").status_code == 200


def test_the_kept_csp_header_has_a_new_nonce_on_every_response(rf, settings):
    """core.middleware.CSPMiddleware keeps the header text: the nonce is still the request's
    own, the text still django-csp's, and a changed setting is followed."""
    from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
    from django.http import HttpResponse

    from minqing.core.middleware import CSPMiddleware

    def page(request):
        return HttpResponse(str(request.csp_nonce))

    def plain(request):
        return HttpResponse("no nonce")

    ours, theirs = CSPMiddleware(page), DjangoCSPMiddleware(page)
    nonces = set()
    for _ in range(3):
        response = ours(rf.get("/"))
        nonce = response.content.decode()
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
        nonces.add(nonce)
        same = theirs(rf.get("/"))
        assert response["Content-Security-Policy"].replace(nonce, "N") == same[
            "Content-Security-Policy"
        ].replace(same.content.decode(), "N")
    assert len(nonces) == 3
    assert "nonce" not in CSPMiddleware(plain)(rf.get("/"))["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert ours(rf.get("/"))["Content-Security-Policy"] == "default-src 'none'"
