"""Photos and papers on the residents' public form: checked by core.attachments (type from
the content, size, GPS stripped, count), throttled per client, and attacks refused with
nothing written."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from minqing.appeals.models import Appeal, AppealAttachment, AppealEvent
from minqing.appeals.tests.factories import category
from minqing.core.models import AuditEvent

URL = "/appeals/public/new/"


def _jpeg_with_gps(name="路口.jpg") -> SimpleUploadedFile:
    img = Image.new("RGB", (16, 16), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (27.0, 50.0, 0.0)}  # GPSInfo: where the resident lives
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def _form(tree, files):
    return {
        "category_id": category("road").pk,
        "area_id": tree.qixing.pk,
        "content": "村口那段路烂了,下雨天走不得",
        "attachments": files,
    }


def _rows():
    return (
        Appeal.objects.count(),
        AppealEvent.objects.count(),
        AppealAttachment.objects.count(),
        AuditEvent.objects.count(),
    )


def test_a_photo_is_kept_without_its_gps_position(tree, db):
    r = Client().post(URL, _form(tree, [_jpeg_with_gps()]))
    assert r.status_code == 200 and 'id="tracking-code"' in r.content.decode()
    att = AppealAttachment.objects.get()
    assert att.appeal == Appeal.objects.get() and att.uploaded_by is None and not att.is_public
    assert att.content_type == "image/jpeg" and att.original_name == "路口.jpg"
    with att.file.open("rb") as f:
        img = Image.open(io.BytesIO(f.read()))
        assert not img.getexif()  # no GPS, no camera
    audit = AuditEvent.objects.get(action="appeal.attach")
    assert audit.channel == "public" and audit.detail["count"] == 1


def test_an_exe_named_jpg_is_refused_and_nothing_is_written(tree, db):
    before = _rows()
    exe = SimpleUploadedFile("照片.jpg", b"MZ\x90\x00" + b"\x00" * 200, content_type="image/jpeg")
    r = Client().post(URL, _form(tree, [exe]))
    assert r.status_code == 400 and "只能上传图片" in r.content.decode()
    assert _rows() == before


def test_a_png_named_pdf_is_refused(tree, db):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    r = Client().post(URL, _form(tree, [SimpleUploadedFile("材料.pdf", buf.getvalue())]))
    assert r.status_code == 400 and "扩展名不符" in r.content.decode()
    assert Appeal.objects.count() == 0


def test_an_oversized_file_is_refused(tree, db, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    big = SimpleUploadedFile("材料.pdf", b"%PDF-1.4\n" + b"0" * 4096)
    before = _rows()
    r = Client().post(URL, _form(tree, [big]))
    assert r.status_code == 400 and "不能超过" in r.content.decode()
    assert _rows() == before


def test_too_many_files_are_refused(tree, db, settings):
    settings.PUBLIC_ATTACHMENT_MAX_COUNT = 2
    files = [_jpeg_with_gps(f"{i}.jpg") for i in range(3)]
    before = _rows()
    r = Client().post(URL, _form(tree, files))
    assert r.status_code == 400 and "附件最多 2 个" in r.content.decode()
    assert _rows() == before
    r = Client().post(URL, _form(tree, [_jpeg_with_gps(f"{i}.jpg") for i in range(2)]))
    assert r.status_code == 200 and AppealAttachment.objects.count() == 2


def test_a_corrupt_image_is_refused(tree, db):
    broken = SimpleUploadedFile("坏图.jpg", b"\xff\xd8\xff\xe0" + b"garbage" * 20)
    r = Client().post(URL, _form(tree, [broken]))
    assert r.status_code == 400 and Appeal.objects.count() == 0


def test_files_are_throttled_per_client(tree, db, settings):
    settings.PUBLIC_THROTTLE_RATES = {
        **settings.PUBLIC_THROTTLE_RATES,
        "appeal_file": "100/h",
        "appeal_attach": "3/h",
    }
    anon = Client()
    codes = [
        anon.post(URL, _form(tree, [_jpeg_with_gps(), _jpeg_with_gps("b.jpg")])).status_code
        for _ in range(3)
    ]
    assert codes == [200, 429, 429]
    assert AppealAttachment.objects.count() == 2 and Appeal.objects.count() == 1


def test_the_form_offers_the_file_input(tree, db):
    page = Client().get(URL).content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="attachments"' in page
