"""Open311 GeoReport v2: shapes against the specification, read with the `georeport` client
from PyPI over real HTTP (live server), filing with a form-encoded POST as clients do."""

import pytest
import requests
from georeport import GeoReport

from minqing.accounts.tokens import api_token_create, api_token_revoke
from minqing.appeals.models import Appeal
from minqing.appeals.services import appeal_claim, appeal_resolve, appeal_start
from minqing.appeals.tests.factories import category, file_appeal
from minqing.conftest import login
from minqing.core.models import AuditEvent

SERVICE_KEYS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_KEYS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


@pytest.fixture
def client311(live_server):
    return GeoReport(f"{live_server.url}/open311/v2")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_services_with_the_georeport_client(client311, tree):
    cat = category("water")
    cat.questions = [{"key": "since", "label": "停水多久了?", "required": True}]
    cat.save()
    services = client311.get_service_list()
    assert {s["service_code"] for s in services} >= {"road", "water", "streetlight"}
    assert all(set(s) == SERVICE_KEYS for s in services)
    assert next(s for s in services if s["service_code"] == "water")["metadata"] is True
    definition = client311.get_service_definition("water")
    assert definition["service_code"] == "water"
    (attr,) = definition["attributes"]
    assert attr["code"] == "since" and attr["required"] is True and attr["datatype"] == "string"
    assert set(attr) == {
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_file_and_follow_a_request(client311, live_server, tree, users):
    r = requests.post(
        f"{live_server.url}/open311/v2/requests.json",
        data={
            "service_code": "streetlight",
            "jurisdiction_id": tree.qixing.code,
            "description": "村口路灯坏了一个月",
            "lat": "27.86",
            "long": "112.99",
            "first_name": "三",
            "last_name": "张",
            "phone": "13800001111",
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    (created,) = r.json()
    code = created["service_request_id"]
    assert len(code) == 16 and not code.isdigit()
    appeal = Appeal.objects.get()
    assert appeal.channel == "open311" and float(appeal.latitude) == 27.86
    appeal_claim(actor=users.cadre, appeal=appeal)
    appeal_start(actor=users.cadre, appeal=appeal)
    appeal_resolve(actor=users.cadre, appeal=appeal, result="内部", public_reply="已换新灯泡")
    one = client311.get_service_request(code)
    assert set(one) == REQUEST_KEYS
    assert one["status"] == "closed" and one["status_notes"] == "已换新灯泡"
    assert one["service_code"] == "streetlight" and one["description"] == ""  # nothing personal
    many = client311.get_service_requests(service_request_id=code)
    assert [x["service_request_id"] for x in many] == [code]
    # the numeric id is never accepted anonymously
    assert (
        requests.get(
            f"{live_server.url}/open311/v2/requests/{appeal.pk}.json", timeout=10
        ).status_code
        == 404
    )
    assert client311.get_service_requests() == []


def test_bad_requests_get_open311_errors(client, tree, db):
    r = client.post("/open311/v2/requests.json", {"service_code": "nope", "description": "x"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = client.post("/open311/v2/requests.json", {"service_code": "road", "description": "x"})
    assert r.status_code == 400 and "jurisdiction_id" in r.json()[0]["description"]
    r = client.post(
        "/open311/v2/requests.json",
        {"service_code": "road", "jurisdiction_id": tree.qixing.code, "description": ""},
    )
    assert r.status_code == 400
    assert not Appeal.objects.exists()
    assert client.get("/open311/v2/services/nope.json").status_code == 404


def test_officer_lists_scoped_requests(client, users, tree):
    mine = file_appeal(actor=users.cadre, area=tree.qixing)
    theirs = file_appeal(actor=users.outsider, area=tree.helingcun)
    login(client, users.cadre)
    ids = [x["service_request_id"] for x in client.get("/open311/v2/requests.json").json()]
    assert ids == [str(mine.pk)]
    assert client.get(f"/open311/v2/requests/{theirs.pk}.json").status_code == 404
    assert client.get(f"/open311/v2/requests/{mine.pk}.json").json()[0]["description"]


def _officer_post(client, tree, **extra):
    return client.post(
        "/open311/v2/requests.json",
        {
            "service_code": "road",
            "jurisdiction_id": tree.qixing.code,
            "description": "组里的路烂了",
            **extra,
        },
    )


def test_api_key_files_as_the_officer_and_is_audited(client, users, tree):
    token, raw = api_token_create(actor=users.cadre, user=users.cadre, name="open311")
    r = _officer_post(client, tree, api_key=raw)
    assert r.status_code == 201, r.content
    (created,) = r.json()
    appeal = Appeal.objects.get()
    assert created["service_request_id"] == str(appeal.pk)
    assert appeal.channel == "open311" and appeal.created_by_id == users.cadre.pk
    filed = AuditEvent.objects.get(action="appeal.file")
    assert filed.actor_id == users.cadre.pk and filed.channel == "api"
    assert filed.detail["credential"] == f"token:{raw[:10]}"
    assert AuditEvent.objects.filter(action="token.use", actor=users.cadre).exists()
    # GET with the key lists the officer's scoped requests, with details
    other = file_appeal(actor=users.outsider, area=tree.helingcun)
    listed = client.get("/open311/v2/requests.json", {"api_key": raw}).json()
    assert [x["service_request_id"] for x in listed] == [str(appeal.pk)]
    assert listed[0]["description"] == "组里的路烂了"
    assert client.get(f"/open311/v2/requests/{other.pk}.json", {"api_key": raw}).status_code == 404
    # jurisdiction is checked as for the officer's own entry
    r = _officer_post(client, tree, api_key=raw, jurisdiction_id=tree.helingcun.code)
    assert r.status_code == 400 and Appeal.objects.filter(area=tree.helingcun).count() == 1


def test_revoked_or_wrong_api_key_is_refused(client, users, tree):
    token, raw = api_token_create(actor=users.cadre, user=users.cadre, name="open311")
    api_token_revoke(actor=users.cadre, token=token)
    for key in (raw, "mq_" + "x" * 43, "nonsense"):
        r = _officer_post(client, tree, api_key=key)
        assert r.status_code == 403 and r.json()[0]["code"] == 403
        r = client.get("/open311/v2/requests.json", {"api_key": key})
        assert r.status_code == 403 and r.json()[0]["code"] == 403
    assert not Appeal.objects.exists()


def test_without_api_key_filing_stays_anonymous(client, users, tree):
    login(client, users.cadre)  # a session never files through Open311
    r = _officer_post(client, tree)
    assert r.status_code == 201
    (created,) = r.json()
    assert not created["service_request_id"].isdigit()
    appeal = Appeal.objects.get()
    assert appeal.channel == "open311" and appeal.created_by_id is None
    filed = AuditEvent.objects.get(action="appeal.file")
    assert filed.actor_id is None and filed.channel == "public"
    assert "credential" not in filed.detail
