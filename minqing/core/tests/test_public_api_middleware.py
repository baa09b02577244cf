"""core.public.PublicAPIMiddleware: public API operations (/api/<app>/public/, auth=None)
skip the session, login and page middleware, and keep everything else: the security
headers, language, CSRF rules, the bad-input guard, the throttle per client."""

import json

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client

from minqing.api import api
from minqing.appeals.models import Appeal
from minqing.appeals.tests.factories import category
from minqing.conftest import login
from minqing.core.public import _PUBLIC_API

SECURITY_HEADERS = {
    "Content-Security-Policy",
    "Cross-Origin-Opener-Policy",
    "Referrer-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Content-Language",
}


def _file(client, tree, **more):
    data = {"category_id": category().pk, "area_id": tree.qixing.pk, "content": "路烂了", **more}
    return client.post(
        "/api/appeals/public/appeals", json.dumps(data), content_type="application/json"
    )


def test_public_operations_keep_every_security_header(tree, db):
    public = _file(Client(enforce_csrf_checks=True), tree)  # no CSRF token: none needed
    assert public.status_code == 201, public.content
    full = Client().get("/api/appeals/categories")  # the whole stack (401: no login)
    assert SECURITY_HEADERS <= set(full.headers)
    for name in SECURITY_HEADERS:
        assert public[name] == full[name], name
    assert "Set-Cookie" not in public.headers and not public.cookies


def test_public_operations_do_not_read_the_session(tree, users, monkeypatch):
    opened = []
    real = SessionMiddleware.process_request

    def spy(self, request):
        opened.append(request.path)
        return real(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", spy)
    client = Client()
    login(client, users.cadre)  # a staff member's cookie, sent along
    opened.clear()
    r = _file(client, tree)
    assert r.status_code == 201 and opened == []
    appeal = Appeal.objects.get(pk=r.json()["id"])
    assert appeal.created_by is None and appeal.channel == "web"  # filed as the public
    assert client.get("/api/appeals/categories").status_code == 200
    assert opened == ["/api/appeals/categories"]


def test_bad_input_is_still_refused_on_public_operations(tree, db):
    r = _file(Client(), tree, content="路烂了\x00")
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    r = _file(Client(), tree, area_id=2**64)
    assert r.status_code == 400
    assert Appeal.objects.count() == 0


def test_every_public_route_is_an_operation_without_login_and_the_other_way_round():
    """The short stack has no session or user: an operation under /public/ that wanted a
    login would fail closed (no user), and one without login elsewhere would pay the whole
    stack. Keep them where they belong."""
    public, unauthenticated = set(), set()
    for router_prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            full = f"/api/{router_prefix.strip('/')}{path}".replace("//", "/")
            for op in path_view.operations:
                if _PUBLIC_API.match(full):
                    public.add(full)
                    assert op.auth_param is None, full  # declared auth=None
                if op.auth_param is None:
                    unauthenticated.add(full)
    assert "/api/appeals/public/appeals" in public
    assert unauthenticated == public


@pytest.mark.parametrize("path", ["/api/appeals/public/appeals", "/api/visits/public/x"])
def test_the_public_prefix(path):
    assert _PUBLIC_API.match(path)
    assert not _PUBLIC_API.match(path.replace("/public/", "/"))
    assert not _PUBLIC_API.match("/appeals/public/x") and not _PUBLIC_API.match("/api/public/x")


@pytest.mark.parametrize(
    "accept, cookie",
    [
        ("en-US,en;q=0.9", None),
        ("zh-TW,zh;q=0.9", None),
        ("", None),
        ("fr-FR, de;q=0.5", None),
        ("zh-CN", "en"),
        ("en", "zh-hant"),
        ("en", "xx-bogus"),
    ],
)
def test_public_operations_speak_the_language_django_would_choose(
    tree, db, accept, cookie, monkeypatch
):
    """PublicLocaleMiddleware keeps the language it worked out per (cookie, Accept-Language):
    the same language, Content-Language and Vary as Django's LocaleMiddleware, and the error
    messages translated; asked in turns, each request keeps its own."""
    from django.conf import settings
    from django.test import RequestFactory
    from django.utils import translation

    def asked(accept, cookie):
        client = Client(HTTP_ACCEPT_LANGUAGE=accept)
        if cookie:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
        return client

    factory = RequestFactory(HTTP_ACCEPT_LANGUAGE=accept)
    request = factory.get("/")
    if cookie:
        request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = cookie
    expected = translation.get_language_from_request(request)
    with translation.override(expected):
        message = str(translation.gettext("请选择有效的诉求类别"))
    from minqing.core.public import PublicLocaleMiddleware

    seen = []
    real = PublicLocaleMiddleware.process_request
    monkeypatch.setattr(
        PublicLocaleMiddleware,
        "process_request",
        lambda self, request: seen.append(1) or real(self, request),
    )
    for client in (asked(accept, cookie), asked("zh-CN", None), asked(accept, cookie)):
        r = _file(client, tree, category_id=10**6)
        assert r.status_code == 400
        assert "Accept-Language" in r["Vary"]
    assert r["Content-Language"] == expected
    assert r.json()["detail"] == message
    if expected == "en":
        assert message != "请选择有效的诉求类别"
    assert len(seen) == 3  # the public stack's own
