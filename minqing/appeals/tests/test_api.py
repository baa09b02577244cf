"""The appeals API: intake, actions with 409/400, scoping, the public endpoints (no cookie,
throttled, nothing internal), attachments."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from minqing.appeals.models import Appeal, AppealEvent
from minqing.appeals.services import appeal_claim, appeal_reply, appeal_resolve, appeal_start
from minqing.appeals.tests.factories import category, file_appeal
from minqing.conftest import login
from minqing.core.models import AuditEvent
from minqing.core.public import tracking_hash


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_officer_intake_returns_the_tracking_code_once(client, users, tree):
    login(client, users.cadre)
    r = post(
        client,
        "/api/appeals/",
        {
            "channel": "hotline",
            "category_id": category("water").pk,
            "area_id": tree.qixing.pk,
            "content": "屋里冇得水三天了",
            "contact_phone": "13912345678",
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert len(body["tracking_code"]) == 16 and body["expected_datetime"]
    d = client.get(f"/api/appeals/{body['id']}").json()
    assert d["contact_phone"] == "139****5678" and "tracking" not in json.dumps(d)
    assert d["allowed_actions"] == ["claim", "escalate"]


def test_bad_intake_is_400_and_writes_nothing(client, users, tree):
    login(client, users.cadre)
    before = Appeal.objects.count()
    r = post(
        client,
        "/api/appeals/",
        {"category_id": category().pk, "area_id": tree.helingcun.pk, "content": "x"},
    )
    assert r.status_code == 400 and "管辖范围" in r.json()["detail"]
    r = post(
        client,
        "/api/appeals/",
        {"category_id": category().pk, "area_id": tree.qixing.pk, "content": "长" * 20000},
    )
    assert r.status_code == 400
    assert Appeal.objects.count() == before


def test_illegal_transition_is_409_with_a_clear_message(client, users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    login(client, users.cadre)
    events = AppealEvent.objects.count()
    r = post(client, f"/api/appeals/{appeal.pk}/resolve", {"result": "好了"})
    assert r.status_code == 409 and r.json()["detail"] == "该事项当前状态不允许此操作"
    assert AppealEvent.objects.count() == events
    r = post(client, f"/api/appeals/{appeal.pk}/claim", {})
    assert r.status_code == 200 and r.json()["state"] == "claimed"
    r = post(client, f"/api/appeals/{appeal.pk}/claim", {})
    assert r.status_code == 409


def test_outsider_gets_404_and_the_row_is_missing_from_lists(client, users, tree):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    login(client, users.outsider)
    assert client.get(f"/api/appeals/{appeal.pk}").status_code == 404
    assert post(client, f"/api/appeals/{appeal.pk}/claim", {}).status_code == 404
    assert client.get("/api/appeals/").json()["count"] == 0
    assert client.get("/api/appeals/duties").json()["count"] == 0


def test_duties_list_overdue_first_with_pinned_queries(
    client, users, tree, django_assert_max_num_queries
):
    for i in range(5):
        a = file_appeal(actor=users.cadre, area=tree.qixing, content=f"事项{i}")
        if i % 2:
            appeal_claim(actor=users.cadre, appeal=a)
    Appeal.objects.filter(content="事项4").update(due_at="2020-01-01T00:00:00Z")
    login(client, users.cadre)
    client.get("/api/appeals/duties")  # warm the session
    with django_assert_max_num_queries(6):
        r = client.get("/api/appeals/duties")
    items = r.json()["items"]
    assert len(items) == 5 and items[0]["title"] == "事项4" and items[0]["overdue"]


# ---- public ---------------------------------------------------------------------------------


def test_public_intake_needs_no_cookie_and_is_audited_on_the_public_channel(tree, db):
    anon = Client(enforce_csrf_checks=True)
    r = post(
        anon,
        "/api/appeals/public/appeals",
        {
            "category_id": category("streetlight").pk,
            "area_id": tree.grids["七星村1"].pk,
            "content": "村口路灯坏了一个月了,晚上黑得很",
            "contact_phone": "13800001111",
        },
    )
    assert r.status_code == 201, r.content
    assert "sessionid" not in r.cookies
    appeal = Appeal.objects.get(pk=r.json()["id"])
    # the answer is FiledOut, exactly as ninja would have rendered it
    from ninja.renderers import JSONRenderer

    from minqing.appeals.schemas import FiledOut

    assert r["Content-Type"] == "application/json; charset=utf-8"
    filed = FiledOut.model_validate(r.json())
    assert r.content.decode() == JSONRenderer().render(
        None, filed.model_dump(), response_status=201
    )
    assert (filed.state, filed.expected_datetime) == (appeal.state, appeal.due_at)
    assert appeal.tracking_hash == tracking_hash(filed.tracking_code)
    assert appeal.channel == "web" and appeal.created_by is None
    audit = AuditEvent.objects.get(action="appeal.file", target_id=str(appeal.pk))
    assert audit.channel == "public" and audit.actor is None and audit.source_address == "127.0.0.1"


def test_public_intake_is_throttled_per_client(tree, db, settings):
    anon = Client()
    data = {"category_id": category().pk, "area_id": tree.qixing.pk, "content": "路坏了"}
    codes = [post(anon, "/api/appeals/public/appeals", data).status_code for _ in range(12)]
    assert codes[:10] == [201] * 10 and codes[10:] == [429, 429]
    assert Appeal.objects.count() == 10


def test_tracking_page_reveals_nothing_internal(users, tree, db):
    appeal = file_appeal(
        actor=users.cadre,
        area=tree.qixing,
        contact_name="张三",
        contact_phone="13911112222",
        content="邻居占了我家的地",
    )
    appeal_claim(actor=users.cadre, appeal=appeal, comment="内部:此人多次上访")
    appeal_start(actor=users.cadre, appeal=appeal)
    appeal_reply(actor=users.cadre, appeal=appeal, text="内部备注:需派出所配合", is_public=False)
    appeal_reply(actor=users.cadre, appeal=appeal, text="已联系双方,正在调解", is_public=True)
    appeal_resolve(actor=users.cadre, appeal=appeal, result="内部结果:调解成功")
    anon = Client()
    r = anon.get(f"/api/appeals/public/track/{appeal.tracking_code}")
    assert r.status_code == 200
    text = r.content.decode()
    body = r.json()
    assert body["state"] == "resolved" and body["can_rate"]
    assert [x["text"] for x in body["replies"]] == ["已联系双方,正在调解"]
    for secret in (
        "内部",
        "张三",
        "13911112222",
        "cadre",
        users.cadre.get_full_name() or "cadre",
        "七星村",
        str(users.cadre.pk) + '"',
    ):
        assert secret not in text, secret
    assert body["expected_datetime"]


def test_wrong_and_unknown_codes_get_the_same_answer(users, tree, db):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    anon = Client()
    answers = set()
    for code in ("0000000000000000", appeal.tracking_code[::-1], "nonsense"):
        r = anon.get(f"/api/appeals/public/track/{code}")
        answers.add((r.status_code, r.content))
    assert len(answers) == 1 and next(iter(answers))[0] == 404


def test_public_rating_unsatisfied_reopens(users, tree, db):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    appeal_claim(actor=users.cadre, appeal=appeal)
    appeal_start(actor=users.cadre, appeal=appeal)
    anon = Client()
    url = f"/api/appeals/public/track/{appeal.tracking_code}/rate"
    r = post(anon, url, {"rating": "satisfied"})
    assert r.status_code == 409  # not resolved yet
    appeal_resolve(actor=users.cadre, appeal=appeal, result="修好了")
    r = post(anon, url, {"rating": "unsatisfied"})
    assert r.status_code == 400 and Appeal.objects.get(pk=appeal.pk).state == "resolved"
    r = post(anon, url, {"rating": "unsatisfied", "comment": "根本没修"})
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
    ev = AppealEvent.objects.filter(appeal=appeal).order_by("-id").first()
    assert ev.action == "reopen" and ev.actor_kind == "anonymous" and ev.channel == "web"


# ---- attachments ------------------------------------------------------------------------------


def test_attachment_upload_and_scoped_audited_download(client, users, tree, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    login(client, users.cadre)
    r = client.post(
        f"/api/appeals/{appeal.pk}/attachments",
        {"file": SimpleUploadedFile("evil.jpg", b"MZ\x90\x00binary")},
    )
    assert r.status_code == 400 and appeal.attachments.count() == 0
    r = client.post(
        f"/api/appeals/{appeal.pk}/attachments",
        {"file": SimpleUploadedFile("scan.pdf", b"%PDF-1.4 hello")},
    )
    assert r.status_code == 201, r.content
    att = r.json()["id"]
    r = client.get(f"/api/appeals/{appeal.pk}/attachments/{att}")
    assert r.status_code == 200 and b"".join(r.streaming_content).startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="attachment.download", actor=users.cadre).count() == 1
    login(client, users.outsider)
    assert client.get(f"/api/appeals/{appeal.pk}/attachments/{att}").status_code == 404
    other = file_appeal(actor=users.outsider, area=tree.helingcun)
    assert client.get(f"/api/appeals/{other.pk}/attachments/{att}").status_code == 404


def test_guessing_codes_in_a_loop_is_throttled(users, tree, db):
    appeal = file_appeal(actor=users.cadre, area=tree.qixing)
    anon = Client()
    codes = [anon.get(f"/api/appeals/public/track/{i:016d}").status_code for i in range(30)]
    assert set(codes) == {404}
    assert anon.get("/api/appeals/public/track/0000000000000099").status_code == 429
    # even the right code now waits: the throttle is per client, not per code
    assert anon.get(f"/api/appeals/public/track/{appeal.tracking_code}").status_code == 429
