"""Every appeals URL and API path that takes an id is scoped: an outsider gets the same 404
as for a missing row, and nothing is written. A new endpoint with an id and no row here
fails test_every_endpoint_with_an_id_has_a_row."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from minqing.api import api
from minqing.appeals.models import Appeal, AppealAttachment, AppealEvent, DuplicateVerdict
from minqing.appeals.tests.factories import file_appeal
from minqing.conftest import login
from minqing.core.models import AuditEvent

# (method, path with {pk} and {att}, body)
PAGES = [
    ("get", "/appeals/{pk}/", None),
    ("post", "/appeals/{pk}/act/claim/", {}),
    ("post", "/appeals/{pk}/reply/", {"reply-text": "x"}),
    ("post", "/appeals/{pk}/mediate/", {"mediate-record": "x", "mediate-outcome": "success"}),
    ("post", "/appeals/{pk}/attachments/", {}),
    ("get", "/appeals/{pk}/attachments/{att}/", None),
    ("get", "/appeals/{pk}/duplicates/", None),
    ("post", "/appeals/{pk}/duplicates/", {"other_id": "1", "same": "1"}),
]
API = [
    ("get", "/api/appeals/{pk}", None),
    ("get", "/api/appeals/{pk}/timeline", None),
    ("post", "/api/appeals/{pk}/claim", {}),
    ("post", "/api/appeals/{pk}/assign", {"unit_id": 1}),
    ("post", "/api/appeals/{pk}/start", {}),
    ("post", "/api/appeals/{pk}/return", {"reason": "x"}),
    ("post", "/api/appeals/{pk}/escalate", {"reason": "x"}),
    ("post", "/api/appeals/{pk}/supervise", {"comment": "x"}),
    ("post", "/api/appeals/{pk}/resolve", {"result": "x"}),
    ("post", "/api/appeals/{pk}/rate", {"rating": "satisfied"}),
    ("post", "/api/appeals/{pk}/reopen", {"reason": "x"}),
    ("post", "/api/appeals/{pk}/archive", {}),
    ("post", "/api/appeals/{pk}/mediate", {"record": "x", "outcome": "success"}),
    ("post", "/api/appeals/{pk}/recategorise", {"category_id": 1}),
    ("post", "/api/appeals/{pk}/replies", {"text": "x"}),
    ("get", "/api/appeals/{pk}/attachments", None),
    ("post", "/api/appeals/{pk}/attachments", None),
    ("get", "/api/appeals/{pk}/attachments/{att}", None),
    ("get", "/api/appeals/meetings/{pk}", None),
    ("get", "/api/appeals/{pk}/duplicates", None),
    ("post", "/api/appeals/{pk}/duplicates", {"other_id": 1, "same": True}),
]


def _page_patterns():
    """Every appeals page URL with an id, as '/appeals/<route>' strings."""
    found = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "appeals/":
            for p in entry.url_patterns:
                if isinstance(p, URLPattern) and "<int:pk>" in str(p.pattern):
                    found.add("/appeals/" + str(p.pattern))
    return found


def _normalise_page(path):
    return (
        path.replace("{pk}", "<int:pk>")
        .replace("{att}", "<int:att>")
        .replace("claim", "<str:action>")
    )


def test_every_endpoint_with_an_id_has_a_row():
    assert _page_patterns() == {_normalise_page(p) for _m, p, _b in PAGES}
    schema = api.get_openapi_schema()
    api_paths = {
        (method, path.rstrip("/"))
        for path, ops in schema["paths"].items()
        if path.startswith("/api/appeals/") and "{pk}" in path
        for method in ops
    }
    assert api_paths == {(m, p) for m, p, _b in API}


@pytest.mark.parametrize("method,path,body", PAGES + API)
def test_outsider_gets_404_and_nothing_changes(
    client, users, tree, method, path, body, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    from minqing.appeals.services import appeal_attach

    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    att = appeal_attach(
        actor=users.cadre, appeal=appeal, upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4")
    )
    from datetime import date

    from minqing.appeals.services import meeting_record

    meeting = meeting_record(
        actor=users.cadre, area_id=tree.qixing.pk, held_on=date(2026, 1, 5), attendees="全体村干部"
    )
    pk = meeting.pk if "/meetings/" in path else appeal.pk
    before = (
        list(Appeal.objects.values()),
        AppealEvent.objects.count(),
        AppealAttachment.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
        DuplicateVerdict.objects.count(),
    )
    url = path.format(pk=pk, att=att.pk)
    login(client, users.outsider)
    if method == "get":
        r = client.get(url)
    elif path.startswith("/api/") and body is not None:
        r = client.post(url, body, content_type="application/json")
    elif path.endswith("attachments") or path.endswith("attachments/"):
        r = client.post(url, {"file": SimpleUploadedFile("b.pdf", b"%PDF-1.4")})
    else:
        r = client.post(url, body or {})
    assert r.status_code == 404, (url, r.status_code, r.content[:200])
    after = (
        list(Appeal.objects.values()),
        AppealEvent.objects.count(),
        AppealAttachment.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
        DuplicateVerdict.objects.count(),
    )
    assert after == before
    # and the owner of the area gets through (the row is right, not the URL)
    login(client, users.cadre)
    if method == "get":
        assert client.get(url).status_code == 200
