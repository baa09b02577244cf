"""Every visits URL and API path that takes an id is scoped: an outsider gets the same 404
as for a missing row, and nothing is written. A new endpoint with an id and no row here
fails test_every_endpoint_with_an_id_has_a_row."""

import uuid
from datetime import date

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from minqing.api import api
from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.visits import services
from minqing.visits.models import Pairing, SurveyResponse, SyncConflict, Visit, VisitNote

from .factories import household

# (method, path with {visit} {household} {survey} {conflict} {area} {user}, body)
PAGES = [
    ("post", "/visits/households/{household}/new/", {"situation": "x"}),
    ("get", "/visits/{visit}/", None),
    ("get", "/visits/{visit}/photos/{photo}/", None),
    ("post", "/visits/{visit}/edit/", {"text": "x"}),
    ("post", "/visits/{visit}/notes/", {"text": "x"}),
    ("post", "/visits/conflicts/{conflict}/retry/", {}),
    ("post", "/visits/conflicts/{conflict}/dismiss/", {}),
    ("get", "/visits/surveys/{survey}/", None),
    ("post", "/visits/surveys/{survey}/close/", {}),
    ("post", "/visits/surveys/{survey}/households/{household}/", {}),
    ("post", "/visits/pairings/{pairing}/end/", {}),
]
QUERY = [
    ("get", "/visits/coverage/?area={area}", None),
    ("get", "/visits/coverage/households/?area={area}", None),
    ("get", "/visits/log/?cadre={user}", None),
    ("get", "/api/visits/coverage?area_id={area}&start=2025-01-01&end=2025-01-31", None),
    ("get", "/api/visits/visits?area_id={area}", None),
]
API = [
    ("get", "/api/visits/visits/{visit_id}", None),
    ("post", "/api/visits/visits/{visit_id}/notes", {"text": "x"}),
    ("post", "/api/visits/conflicts/{conflict_id}/retry", {}),
    ("post", "/api/visits/conflicts/{conflict_id}/dismiss", {}),
    (
        "get",
        "/api/visits/surveys/{survey_id}/results?area_id={area}&start=2025-01-01&end=2025-01-31",
        None,
    ),
    ("post", "/api/visits/surveys/{survey_id}/responses", {"household_id": 0, "answers": {}}),
    ("post", "/api/visits/pairings/{pairing_id}/end", {}),
    ("post", "/api/visits/visits/{visit_id}/photos", {}),
]


def _page_patterns():
    found = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "visits/":
            for p in entry.url_patterns:
                if isinstance(p, URLPattern) and "<int:" in str(p.pattern):
                    found.add("/visits/" + str(p.pattern))
    return found


def _normalise_page(path):
    return (
        path.replace("households/{household}/new", "households/<int:pk>/new")
        .replace(
            "surveys/{survey}/households/{household}",
            "surveys/<int:pk>/households/<int:household_pk>",
        )
        .replace("{visit}/photos/{photo}", "<int:pk>/photos/<int:photo_pk>")
        .replace("{visit}", "<int:pk>")
        .replace("{conflict}", "<int:pk>")
        .replace("{survey}", "<int:pk>")
        .replace("{pairing}", "<int:pk>")
    )


def test_every_endpoint_with_an_id_has_a_row():
    assert _page_patterns() == {_normalise_page(p) for _m, p, _b in PAGES}
    schema = api.get_openapi_schema()
    api_paths = {
        (method, path)
        for path, ops in schema["paths"].items()
        if path.startswith("/api/visits/") and "{" in path and "/public/" not in path
        for method in ops
    }
    assert api_paths == {(m, p.split("?")[0]) for m, p, _b in API}


def _api_path(path, ids):
    return (
        path.replace("{visit_id}", str(ids["visit"]))
        .replace("{conflict_id}", str(ids["conflict"]))
        .replace("{survey_id}", str(ids["survey"]))
        .replace("{pairing_id}", str(ids["pairing"]))
    )


def _counts():
    return (
        Visit.objects.count(),
        VisitNote.objects.count(),
        SyncConflict.objects.open().count(),
        Pairing.objects.filter(end_date__isnull=True).count(),
        SurveyResponse.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def ids(users, tree, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .test_services import _png_with_text_chunk

    settings.MEDIA_ROOT = tmp_path
    hh = household(tree.grids["七星村1"])
    photo = SimpleUploadedFile("a.png", _png_with_text_chunk())
    visit = services.visit_record(actor=users.grid, household=hh, situation="x", photos=[photo])
    outside = household(tree.grids["七星村2"])
    services.visit_sync(
        actor=users.grid,
        items=[{"client_id": str(uuid.uuid4()), "household_id": outside.pk, "situation": "x"}],
    )
    survey = services.survey_create(
        actor=users.township, area=tree.qixing, title="t", questions="满意度|满意吗?"
    )
    return {
        "visit": visit.pk,
        "photo": visit.photos.get().pk,
        "household": hh.pk,
        "survey": survey.pk,
        "conflict": SyncConflict.objects.get().pk,
        "pairing": services.pairing_create(
            actor=users.township, cadre=users.grid, household=hh, start_date=date(2025, 1, 1)
        ).pk,
        "area": tree.qixing.pk,
        "user": users.grid.pk,
    }


@pytest.mark.parametrize("method,path,body", PAGES + QUERY + API)
def test_outsider_gets_404_and_nothing_changes(client, users, ids, method, path, body):
    """The outsider is a township user of 鹤岭镇: a role that may do all of it, elsewhere."""
    from minqing.accounts.tests.factories import UserFactory
    from minqing.core.roles import Role

    outsider = UserFactory(
        role=Role.TOWNSHIP_STAFF, areas=[users.outsider.jurisdictions.get().area]
    )
    url = _api_path(path, ids).format(**ids)
    if body and "household_id" in body:
        body = {**body, "household_id": ids["household"]}
    login(client, outsider)
    before = _counts()
    if method == "get":
        r = client.get(url)
    elif url.startswith("/api/"):
        r = client.post(url, body or {}, content_type="application/json")
    else:
        r = client.post(url, body or {})
    assert r.status_code == 404, (url, r.status_code)
    assert _counts() == before
