"""Visits API: record, idempotent upload, offline sync with kept conflicts, due list,
coverage, the offline pack; outsiders get 404 and nothing is written."""

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from minqing.conftest import login
from minqing.registry.tests.factories import period
from minqing.visits.models import SyncConflict, Visit, VisitRule

from .factories import household

API = "/api/visits"


@pytest.fixture
def hh(tree):
    return household(tree.grids["七星村1"], head="张德书", child="张小燕")


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_record_and_duplicate_upload(client, users, hh):
    login(client, users.grid)
    cid = str(uuid.uuid4())
    body = {
        "household_id": hh.pk,
        "situation": "在家,一切正常",
        "client_id": cid,
        "needs": ["修路"],
    }
    r = post(client, f"{API}/visits", body)
    assert r.status_code == 201, r.content
    first = r.json()
    assert first["findings"][0]["kind"] == "need" and first["findings"][0]["appeal_id"]
    r = post(client, f"{API}/visits", body)
    assert r.status_code == 200 and r.json()["id"] == first["id"]
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    "patch, status, words",
    [
        ({"situation": ""}, 400, "走访情况不能为空"),
        ({"visited_at": "FUTURE"}, 400, "不能晚于现在"),
        ({"household_id": "OUTSIDE"}, 404, "不在您的管辖范围内"),
    ],
)
def test_bad_input_is_refused(client, users, tree, hh, patch, status, words):
    outside = household(tree.grids["鹤岭村1"])
    body = {"household_id": hh.pk, "situation": "x"}
    body.update(patch)
    if body.get("visited_at") == "FUTURE":
        body["visited_at"] = (timezone.now() + timedelta(days=1)).isoformat()
    if body["household_id"] == "OUTSIDE":
        body["household_id"] = outside.pk
    login(client, users.grid)
    r = post(client, f"{API}/visits", body)
    assert r.status_code == status and words in r.json()["detail"]
    assert Visit.objects.count() == 0


def test_sync_stores_each_once_and_keeps_conflicts(client, users, tree, hh):
    outside = household(tree.grids["鹤岭村1"])
    login(client, users.grid)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    items = [
        {"household_id": hh.pk, "situation": "离线一", "client_id": a},
        {"household_id": outside.pk, "situation": "户已迁出辖区", "client_id": b},
    ]
    r = post(client, f"{API}/sync", {"visits": items})
    assert [x["status"] for x in r.json()] == ["created", "conflict"]
    assert "不在您的管辖范围内" in r.json()[1]["detail"]
    # the phone did not hear the answer and sends the queue again
    r = post(client, f"{API}/sync", {"visits": items})
    assert [x["status"] for x in r.json()] == ["duplicate", "conflict"]
    assert Visit.objects.count() == 1 and SyncConflict.objects.count() == 1
    listed = client.get(f"{API}/conflicts").json()
    assert [c["client_id"] for c in listed] == [b]
    assert listed[0]["payload"]["situation"] == "户已迁出辖区"
    # another cadre neither sees nor resolves it
    login(client, users.cadre)
    assert client.get(f"{API}/conflicts").json() == []
    assert post(client, f"{API}/conflicts/{listed[0]['id']}/dismiss", {}).status_code == 404
    login(client, users.grid)
    r = post(client, f"{API}/conflicts/{listed[0]['id']}/retry", {})
    assert r.status_code == 404  # still outside the jurisdiction: it stays kept
    assert SyncConflict.objects.open().count() == 1
    r = post(client, f"{API}/conflicts/{listed[0]['id']}/dismiss", {})
    assert r.status_code == 200 and r.json()["resolved_at"]
    assert client.get(f"{API}/conflicts").json() == []
    # the phone asks how the conflicts its photos wait on were resolved, by client id:
    # resolved ones too, only its own (another cadre asking for the same id gets nothing)
    asked = client.get(f"{API}/conflicts", {"client_id": [b, a]}).json()
    assert [(c["client_id"], bool(c["resolved_at"]), c["visit_id"]) for c in asked] == [
        (b, True, None)
    ]
    login(client, users.cadre)
    assert client.get(f"{API}/conflicts", {"client_id": [b]}).json() == []
    assert client.get(f"{API}/conflicts", {"client_id": ["not-a-uuid"]}).status_code in (400, 422)


def test_sync_conflict_for_a_tag_already_given_then_retried(client, users, hh):
    child = hh.members.get(relation="child")
    period(tag_code="left_behind_child", resident=child, start=date(2024, 1, 1))
    login(client, users.grid)
    cid = str(uuid.uuid4())
    item = {
        "household_id": hh.pk,
        "situation": "发现留守儿童",
        "client_id": cid,
        "tags": [{"tag": "left_behind_child", "start_date": "2024-06-01", "resident_id": child.pk}],
    }
    r = post(client, f"{API}/sync", {"visits": [item]})
    assert r.json()[0]["status"] == "conflict" and "无需重复认定" in r.json()[0]["detail"]
    assert Visit.objects.count() == 0
    # the earlier tag is ended meanwhile; the kept visit is stored on retry
    child.tag_periods.update(end_date=date(2024, 3, 1), end_reason="测试")
    conflict = SyncConflict.objects.get()
    r = post(client, f"{API}/conflicts/{conflict.pk}/retry", {})
    assert r.status_code == 201
    conflict.refresh_from_db()
    assert conflict.resolved_at and conflict.visit_id == r.json()["id"]


def test_due_coverage_and_offline_pack(client, users, tree, hh):
    VisitRule.objects.all().delete()
    from minqing.registry.models import Tag

    VisitRule.objects.create(name="特困月访", tag=Tag.objects.get(code="tekun"), interval_days=30)
    period(tag_code="tekun", resident=hh.members.first(), start=date(2024, 1, 1))
    login(client, users.grid)
    due = client.get(f"{API}/due").json()
    assert [d["household_id"] for d in due] == [hh.pk] and due[0]["overdue_days"] > 0
    pack = client.get(f"{API}/offline-pack").json()
    assert [h["id"] for h in pack["households"]] == [hh.pk]
    assert hh.phone not in str(pack) and "*" in pack["households"][0]["phone"]
    assert {m["name"] for m in pack["households"][0]["members"]} == {"张德书", "张小燕"}
    login(client, users.township)
    today = timezone.localdate().isoformat()
    r = client.get(f"{API}/coverage", {"area_id": tree.qixing.pk, "start": today, "end": today})
    assert r.json()["total"] == 1 and r.json()["visited"] == 0


def test_outsider_gets_404_everywhere(client, users, tree, hh):
    login(client, users.grid)
    v = post(client, f"{API}/visits", {"household_id": hh.pk, "situation": "x"}).json()
    login(client, users.outsider)
    assert client.get(f"{API}/visits/{v['id']}").status_code == 404
    assert post(client, f"{API}/visits/{v['id']}/notes", {"text": "x"}).status_code == 404
    assert client.get(f"{API}/visits").json()["items"] == []
    r = client.get(
        f"{API}/coverage", {"area_id": tree.qixing.pk, "start": "2025-01-01", "end": "2025-01-31"}
    )
    assert r.status_code == 404
    assert [d["household_id"] for d in client.get(f"{API}/due").json()] == []
    assert client.get(f"{API}/offline-pack").json()["households"] == []
    assert Visit.objects.get().notes.count() == 0


def test_offline_photo_upload_after_sync(client, users, hh, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .test_services import _png_with_text_chunk

    settings.MEDIA_ROOT = tmp_path
    login(client, users.grid)
    cid = str(uuid.uuid4())
    r = post(
        client,
        f"{API}/sync",
        {"visits": [{"household_id": hh.pk, "situation": "x", "client_id": cid}]},
    )
    vid = r.json()[0]["visit_id"]
    pid = str(uuid.uuid4())
    for status in (201, 200):
        photo = SimpleUploadedFile("p.png", _png_with_text_chunk(), content_type="image/png")
        r = client.post(f"{API}/visits/{vid}/photos", {"client_id": pid, "file": photo})
        assert r.status_code == status, r.content
    assert client.post(f"{API}/visits/{vid}/photos", {"client_id": pid}).status_code == 400
    from minqing.visits.models import VisitPhoto

    assert VisitPhoto.objects.filter(visit_id=vid).count() == 1
