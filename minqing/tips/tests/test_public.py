"""The public form: no account, no JS, no cookies; nothing identifying stored or logged."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from minqing.core.models import AuditEvent
from minqing.tips.models import Tip, TipAttachment, TipIdentity

IP = "203.0.113.77"
UA = "Mozilla/5.0 (TipsterPhone; Android 13) UniqueAgent/9.9"
FWD = "198.51.100.23"


def _counts():
    return (Tip.objects.count(), TipIdentity.objects.count(), TipAttachment.objects.count())


def _post(client, tree, cat, **extra):
    data = {
        "area": tree.qixing.pk,
        "category": cat.pk,
        "content": "七星村有人强收鱼塘管理费",
        "when_where": "上周六晚上,村口鱼塘",
        "people_named": "张某",
        **extra,
    }
    return client.post(
        "/tips/public/",
        data,
        REMOTE_ADDR=IP,
        HTTP_USER_AGENT=UA,
        HTTP_X_FORWARDED_FOR=FWD,
        HTTP_COOKIE="tracker=abc123",
        HTTP_REFERER="https://example.org/from-here",
    )


def test_form_works_without_cookies_or_scripts(client, tree, category):
    response = client.get("/tips/public/", REMOTE_ADDR=IP)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html
    assert "csrfmiddlewaretoken" not in html
    assert not response.cookies
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


def test_filing_stores_and_logs_nothing_identifying(client, tree, category, caplog, settings):
    settings.TRUST_X_FORWARDED_FOR = True  # even when the proxy header would be trusted
    caplog.set_level(logging.DEBUG)
    png = SimpleUploadedFile("photo.png", _png(), content_type="image/png")
    response = _post(client, tree, category, files=png)
    assert response.status_code == 200
    assert "回执码" in response.content.decode()
    assert not response.cookies
    assert "Set-Cookie" not in str(response.serialize_headers())
    tip = Tip.objects.get()
    assert tip.content == "七星村有人强收鱼塘管理费"
    # the day only, no time of day, on the tip, its event and its audit row
    from django.utils import timezone

    for moment in (tip.created_at, tip.events.get().at, AuditEvent.objects.get().at):
        local = timezone.localtime(moment)
        assert (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    events = list(AuditEvent.objects.all())
    assert events, "filing is audited (without identifying data)"
    for e in events:
        assert e.source_address is None
        assert e.actor_id is None
        row = " ".join(str(v) for v in e.__dict__.values())
        for needle in (IP, FWD, "UniqueAgent", "abc123", "example.org"):
            assert needle not in row
    for record in caplog.records:
        text = record.getMessage() + str(record.__dict__)
        for needle in (IP, FWD, "UniqueAgent", "abc123"):
            assert needle not in text
    # and no model anywhere holds the address or the agent
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cur:
        for model in apps.get_models():
            if model._meta.app_label not in {"tips", "core"}:
                continue
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            dump = str(cur.fetchall())
            for needle in (IP, FWD, "UniqueAgent", "abc123"):
                assert needle not in dump, model


def test_tip_event_is_anonymous(client, tree, category):
    _post(client, tree, category)
    event = Tip.objects.get().events.get()
    assert event.actor_id is None and event.actor_kind == "anonymous"
    assert event.action == "create" and event.to_state == "received"


def test_identity_left_is_stored_apart(client, tree, category):
    _post(client, tree, category, leave_identity="on", name="李四", contact="13912345678")
    identity = TipIdentity.objects.get()
    assert identity.name == "李四" and identity.contact == "13912345678"


def test_identity_not_kept_without_consent(client, tree, category):
    _post(client, tree, category, name="李四", contact="13912345678")
    assert not TipIdentity.objects.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"content": "   "}, "请填写"),
        ({"area": "999999"}, "请选择有效的发生地"),
        ({"category": "999999"}, "请选择有效的线索类别"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(client, tree, category, extra, message):
    before = _counts()
    response = _post(client, tree, category, **extra)
    assert response.status_code == 400
    assert _counts() == before
    assert message in response.content.decode()


def test_disguised_executable_is_refused(client, tree, category):
    before = _counts()
    exe = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00" + b"\x00" * 200, content_type="image/jpeg")
    response = _post(client, tree, category, files=exe)
    assert response.status_code == 400
    assert "只能上传" in response.content.decode()
    assert _counts() == before


def test_oversized_attachment_is_refused(client, tree, category, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    before = _counts()
    big = SimpleUploadedFile(
        "scan.pdf", b"%PDF-1.4\n" + b"0" * 5000, content_type="application/pdf"
    )
    response = _post(client, tree, category, files=big)
    assert response.status_code == 400
    assert _counts() == before


def test_image_metadata_is_stripped(client, tree, category):
    from minqing.tips.attachments import attachment_read

    _post(client, tree, category, files=SimpleUploadedFile("a.jpg", _jpeg_with_gps()))
    data = attachment_read(TipAttachment.objects.get())
    assert data.startswith(b"\xff\xd8")
    assert b"Exif" not in data and b"GPS" not in data


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def _jpeg_with_gps() -> bytes:
    import io

    from PIL import Image

    img = Image.new("RGB", (8, 8), "blue")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (28.0, 1.0, 0.0)}
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert b"Exif" in data
    return data
