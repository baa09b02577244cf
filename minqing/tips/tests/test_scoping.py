"""Every tips URL and API path with an id: an officer outside the area, and one excluded
from the tip, get the same 404 as for a missing row, and nothing is written. A new endpoint
with an id and no row here fails test_every_endpoint_with_an_id_has_a_row."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from minqing.api import api
from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.tips import services
from minqing.tips.models import Tip, TipConflict, TipEvent, TipNote

PAGES = [
    ("get", "/tips/{pk}/", None),
    ("post", "/tips/{pk}/transition/", {"action": "verify"}),
    ("post", "/tips/{pk}/assign/", {"handler": "1"}),
    ("post", "/tips/{pk}/note/", {"body": "x"}),
    ("post", "/tips/{pk}/reply/", {"body": "x"}),
    ("post", "/tips/{pk}/conflict/", {"officer": "1", "reason": "x"}),
    ("post", "/tips/{pk}/identity/request/", {"reason": "x"}),
    ("post", "/tips/{pk}/identity/", {}),
    ("get", "/tips/{pk}/attachments/{att}/", None),
]
API = [
    ("get", "/api/tips/{tip_id}", None),
    ("post", "/api/tips/{tip_id}/transition", {"action": "verify"}),
    ("post", "/api/tips/{tip_id}/assign", {"handler_id": 1}),
    ("post", "/api/tips/{tip_id}/notes", {"body": "x"}),
    ("post", "/api/tips/{tip_id}/replies", {"body": "x"}),
    ("post", "/api/tips/{tip_id}/conflicts", {"officer_id": 1, "reason": "x"}),
    ("post", "/api/tips/{tip_id}/identity-requests", {"reason": "x"}),
    ("get", "/api/tips/{tip_id}/identity", None),
]


def _page_patterns():
    found = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "tips/":
            for p in entry.url_patterns:
                if isinstance(p, URLPattern) and "<int:pk>" in str(p.pattern):
                    found.add("/tips/" + str(p.pattern))
    return found


def test_every_endpoint_with_an_id_has_a_row():
    assert _page_patterns() == {
        p.replace("{pk}", "<int:pk>").replace("{att}", "<int:attachment_pk>") for _m, p, _b in PAGES
    }
    api_paths = {
        (method, path.rstrip("/"))
        for path, ops in api.get_openapi_schema()["paths"].items()
        if path.startswith("/api/tips/") and "{" in path
        for method in ops
    }
    assert api_paths == {(m, p) for m, p, _b in API}


def _snapshot():
    return (
        list(Tip.objects.values()),
        TipEvent.objects.count(),
        TipNote.objects.count(),
        TipConflict.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


@pytest.mark.parametrize("who", ["outside", "excluded"])
@pytest.mark.parametrize("method,path,body", PAGES + API)
def test_outsider_and_excluded_get_404_and_nothing_changes(
    client, officers, file_tip, method, path, body, who
):
    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.4\nx", content_type="application/pdf")
    tip = file_tip(identity={"name": "甲"}, files=[pdf]).tip
    att = tip.attachments.get()
    if who == "excluded":
        services.tip_conflict_mark(
            actor=officers.county, tip=tip, officer_id=officers.zs.pk, reason="亲属"
        )
        user = officers.zs
    else:
        user = officers.hl
    before = _snapshot()
    url = path.format(pk=tip.pk, tip_id=tip.pk, att=att.pk)
    login(client, user)
    if method == "get":
        r = client.get(url)
    elif url.startswith("/api/"):
        r = client.post(url, body, content_type="application/json")
    else:
        r = client.post(url, body)
    assert r.status_code == 404, (url, r.status_code, r.content[:300])
    assert _snapshot() == before
    # the officer of the area gets through (the row is right, not the URL)
    login(client, officers.county)
    if method == "get" and "identity" not in url:
        assert client.get(url).status_code == 200
