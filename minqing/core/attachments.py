"""Attachments of cases: one abstract model, one upload check, one scoped download.

- The type is sniffed from the content (magic bytes), never taken from the name or the
  browser: a .exe named .jpg is refused, and so is a PNG named .pdf.
- Size and count are limited (settings.ATTACHMENT_MAX_BYTES / ATTACHMENT_MAX_COUNT).
- Images are decoded and re-encoded without metadata, so EXIF (GPS position of a
  resident's house, camera serial) never reaches the disk.
- Files are served only through `attachment_response`, after the case was looked up through
  its scoping queryset; every download writes an audit row. Nothing is served from MEDIA_URL.
- Retention: `retain_until` is set when the case ends; `attachments_purge` deletes files
  past it (registered as a periodic task by each case app).
"""

import hashlib
import io
import os
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from .audit import audit_record
from .errors import ValidationFailed

# (magic prefix, content type, allowed extensions)
_SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg", {".jpg", ".jpeg"}),
    (b"\x89PNG\r\n\x1a\n", "image/png", {".png"}),
    (b"GIF87a", "image/gif", {".gif"}),
    (b"GIF89a", "image/gif", {".gif"}),
    (b"%PDF-", "application/pdf", {".pdf"}),
]
_IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}


def sniff(head: bytes) -> tuple[str, set[str]] | None:
    for magic, ctype, exts in _SIGNATURES:
        if head.startswith(magic):
            return ctype, exts
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", {".webp"}
    return None


def _upload_to(instance, filename):
    return f"cases/{instance._meta.app_label}/{timezone.now():%Y/%m}/{filename}"


class AttachmentBase(models.Model):
    """Abstract: a concrete model adds the foreign key to its case (`case_field`)."""

    file = models.FileField(_lazy("文件"), upload_to=_upload_to, max_length=300)
    original_name = models.CharField(_lazy("原文件名"), max_length=200)
    content_type = models.CharField(_lazy("类型"), max_length=64)
    size = models.PositiveIntegerField(_lazy("大小"))
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(_lazy("上传时间"), default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_public = models.BooleanField(_lazy("群众可见"), default=False)
    retain_until = models.DateField(_lazy("保存期限"), null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.original_name


@dataclass
class CheckedFile:
    name: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def _strip_image(data: bytes, ctype: str) -> bytes:
    """Decode and re-encode without metadata; a file that does not decode is refused."""
    try:
        from PIL import Image, ImageOps

        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)  # keep the orientation, drop the EXIF
            out = io.BytesIO()
            fmt = _IMAGE_FORMATS.get(ctype, "PNG")
            if fmt == "JPEG" and img.mode not in ("RGB", "L"):
                img = img.convert("RGB")
            params = {"quality": 90} if fmt == "JPEG" else {}
            img.save(out, format=fmt, **params)  # no exif=, no pnginfo=: metadata dropped
            return out.getvalue()
    except Exception:
        raise ValidationFailed(_("图片已损坏或无法识别"))


def attachment_check(upload, *, existing_count: int = 0) -> CheckedFile:
    """The one upload check: count, size, type by content, metadata stripped."""
    max_count = getattr(settings, "ATTACHMENT_MAX_COUNT", 9)
    max_bytes = getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    if existing_count >= max_count:
        raise ValidationFailed(_("附件最多 %(n)d 个") % {"n": max_count})
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationFailed(_("附件不能超过 %(mb)d MB") % {"mb": max_bytes // (1024 * 1024)})
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationFailed(_("附件不能超过 %(mb)d MB") % {"mb": max_bytes // (1024 * 1024)})
    if not data:
        raise ValidationFailed(_("附件是空文件"))
    found = sniff(data[:16])
    if found is None:
        raise ValidationFailed(_("只能上传图片(JPG、PNG、GIF、WebP)或 PDF 文件"))
    ctype, exts = found
    name = os.path.basename(getattr(upload, "name", "") or "file")[:200]
    ext = os.path.splitext(name)[1].lower()
    if ext not in exts:
        raise ValidationFailed(_("文件内容与扩展名不符"))
    if ctype in _IMAGE_FORMATS:
        data = _strip_image(data, ctype)
    elif ctype == "image/webp":
        raise ValidationFailed(_("WebP 图片请另存为 JPG 或 PNG 后上传"))
    return CheckedFile(name=name, content_type=ctype, data=data)


def attachment_save(model, *, checked: CheckedFile, actor, is_public=False, **case):
    """Write a checked file under a random name; the caller audits in its service."""
    ext = os.path.splitext(checked.name)[1].lower()
    row = model(
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=hashlib.sha256(checked.data).hexdigest(),
        uploaded_by=actor if getattr(actor, "pk", None) else None,
        is_public=is_public,
        **case,
    )
    row.file.save(f"{uuid.uuid4().hex}{ext}", ContentFile(checked.data), save=False)
    row.save()
    return row


def attachment_response(attachment, *, actor) -> FileResponse:
    """Serve one attachment whose case the caller already looked up through its scope."""
    audit_record(
        actor=actor,
        action="attachment.download",
        obj=attachment,
        area=getattr(attachment, "audit_area_id", None),
        detail={"name": attachment.original_name},
    )
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not attachment.content_type.startswith("image/"),
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def attachments_purge(model, *, today=None) -> int:
    """Delete attachments (files and rows) whose retention period ended."""
    from . import clock

    today = today or clock.today()
    n = 0
    for row in model.objects.filter(retain_until__lt=today).iterator():
        row.file.delete(save=False)
        row.delete()
        n += 1
    return n
