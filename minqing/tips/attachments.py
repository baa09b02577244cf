"""Tip attachments: checked by the kernel (type from content, size, metadata stripped), then
written encrypted (AES-GCM, core/crypto.py) under a random name in VAR_DIR/tips/. The
original name is an encrypted column; the file on disk reveals nothing."""

import secrets
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse

from minqing.core.attachments import CheckedFile, attachment_check
from minqing.core.audit import audit_record
from minqing.core.crypto import blob_key_id, decrypt_bytes, encrypt_bytes, keyring

from .models import TipAttachment


def blob_dir() -> Path:
    path = Path(getattr(settings, "TIPS_BLOB_DIR", settings.VAR_DIR / "tips"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _aad(blob: str) -> str:
    return f"tips.attachment.{blob}"


def attachments_check(files, *, existing: int) -> list[CheckedFile]:
    """Every file checked before anything is written (one bad file: nothing stored)."""
    checked = []
    for upload in files or ():
        if upload is None or not getattr(upload, "size", 1):
            continue
        checked.append(attachment_check(upload, existing_count=existing + len(checked)))
    return checked


def attachments_store(tip, checked: list[CheckedFile], *, from_tipster: bool) -> list:
    rows = []
    for f in checked:
        blob = secrets.token_hex(16)
        (blob_dir() / blob).write_bytes(encrypt_bytes(f.data, aad=_aad(blob)))
        rows.append(
            TipAttachment.objects.create(
                tip=tip,
                blob=blob,
                original_name=f.name,
                content_type=f.content_type,
                size=f.size,
                from_tipster=from_tipster,
            )
        )
    return rows


def attachment_read(attachment: TipAttachment) -> bytes:
    return decrypt_bytes((blob_dir() / attachment.blob).read_bytes(), aad=_aad(attachment.blob))


def attachment_response(*, actor, attachment: TipAttachment) -> HttpResponse:
    """Serve one attachment of a tip the caller already looked up through visible_to."""
    data = attachment_read(attachment)
    audit_record(
        actor=actor,
        action="tips.attachment_read",
        obj=attachment.tip,
        detail={"attachment": attachment.pk},
    )
    response = HttpResponse(data, content_type=attachment.content_type)
    disposition = "inline" if attachment.content_type.startswith("image/") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="tip-{attachment.pk}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    response["Cache-Control"] = "no-store"
    return response


def blobs_delete(blobs) -> None:
    for blob in blobs:
        (blob_dir() / blob).unlink(missing_ok=True)


def rotate_blobs() -> int:
    """Re-encrypt every blob not under the current key."""
    current = keyring().current
    n = 0
    for blob in TipAttachment.objects.values_list("blob", flat=True).iterator():
        path = blob_dir() / blob
        raw = path.read_bytes()
        if blob_key_id(raw) == current:
            continue
        tmp = path.with_suffix(".new")
        tmp.write_bytes(encrypt_bytes(decrypt_bytes(raw, aad=_aad(blob)), aad=_aad(blob)))
        tmp.replace(path)
        n += 1
    return n
