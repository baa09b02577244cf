"""No 500 on bad input: NUL bytes and numbers no column can hold answer 400 with a clear
message on every page and endpoint, and change nothing (core.middleware.BadInputMiddleware)."""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.registry.models import Household
from minqing.registry.tests.factories import HouseholdFactory

NUL_MESSAGE = "空字符"
RANGE_MESSAGE = "超出了允许的范围"


def _plain_urls(patterns=None, prefix=""):
    """Every URL without path arguments (lists, searches, exports, forms, API lists)."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(p.pattern)
        if isinstance(p, URLResolver):
            if "<" not in route and not route.startswith("^"):
                yield from _plain_urls(p.url_patterns, prefix + route)
        elif isinstance(p, URLPattern) and "<" not in route and not route.startswith("^"):
            yield "/" + prefix + route


PLAIN_URLS = sorted(set(_plain_urls()))


@pytest.fixture
def admin(client, users):
    users.admin.is_superuser = True
    users.admin.save()
    return login(client, users.admin)


def test_the_list_covers_pages_exports_and_api():
    for url in (
        "/registry/households/",
        "/registry/export/residents.xlsx",
        "/api/registry/residents",
        "/core/audit/",
    ):
        assert url in PLAIN_URLS


@pytest.mark.parametrize("url", PLAIN_URLS)
@pytest.mark.parametrize("param", ["q", "kind"])
def test_a_nul_byte_in_a_parameter_is_400_everywhere(admin, url, param):
    response = admin.get(url, {param: "张\x00三"})
    assert response.status_code == 400, url
    assert NUL_MESSAGE in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/registry/households",
        "/api/registry/residents",
        "/api/core/audit",
        "/api/areas/",
        "/api/accounts/staff",
    ],
)
def test_huge_offsets_are_400_and_large_ones_an_empty_page(admin, url):
    response = admin.get(url, {"offset": "99999999999999999999999"})
    assert response.status_code == 400 and RANGE_MESSAGE in response.json()["detail"]
    response = admin.get(url, {"offset": str(10**15)})
    assert response.status_code == 200 and response.json()["items"] == []


@pytest.mark.parametrize(
    "url", ["/registry/households/", "/registry/residents/", "/core/audit/", "/accounts/"]
)
def test_huge_page_numbers_are_400_on_pages(admin, url):
    assert admin.get(url, {"page": "9" * 30}).status_code == 400
    assert admin.get(url, {"page": str(10**15)}).status_code == 200  # the last page


def test_huge_ids_in_paths_are_400(admin):
    assert admin.get("/registry/households/99999999999999999999999/").status_code == 400
    assert admin.get("/api/registry/households/99999999999999999999999").status_code == 400
    # a path no operation matches is a JSON 404 on the API, not an HTML page
    response = admin.get("/api/registry/households/abc")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_a_nul_in_json_text_is_400_and_changes_nothing(admin, tree):
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-1", address="一组")
    before = AuditEvent.objects.count()
    response = admin.patch(
        f"/api/registry/households/{household.pk}",
        json.dumps({"address": "二组\u0000"}),
        content_type="application/json",
    )
    assert response.status_code == 400 and NUL_MESSAGE in response.json()["detail"]
    response = admin.post(
        "/api/registry/households",
        json.dumps({"grid_id": 2**70, "address": "x"}),
        content_type="application/json",
    )
    assert response.status_code == 400 and RANGE_MESSAGE in response.json()["detail"]
    household.refresh_from_db()
    assert household.address == "一组" and AuditEvent.objects.count() == before
    assert Household.objects.count() == 1


def test_a_nul_in_a_form_is_400_and_changes_nothing(admin, tree):
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-1", address="一组")
    response = admin.post(
        f"/registry/households/{household.pk}/edit/", {"address": "二组\x00", "number": "QX-1"}
    )
    assert response.status_code == 400 and NUL_MESSAGE in response.content.decode()
    household.refresh_from_db()
    assert household.address == "一组"
    htmx = admin.get("/registry/households/", {"q": "\x00"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 400 and htmx.content.decode().startswith('<p class="error">')


def test_validation_errors_of_the_api_are_400_with_the_fields(admin):
    response = admin.post(
        "/api/registry/households", json.dumps({"grid_id": "x"}), content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["errors"][0]["loc"][-1] in ("grid_id", "address")
