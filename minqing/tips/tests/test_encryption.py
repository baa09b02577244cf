"""Tip content, identity, notes, messages and attachments are ciphertext in the raw rows and
on disk (run on SQLite and on PostgreSQL: the suite runs on both)."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from minqing.tips import services
from minqing.tips.attachments import blob_dir
from minqing.tips.models import (
    IdentityRequest,
    Tip,
    TipAttachment,
    TipEvent,
    TipIdentity,
    TipMessage,
    TipNote,
)

SECRETS = [
    "强收鱼塘管理费",
    "张霸天",
    "村口鱼塘",
    "李举报",
    "13912345678",
    "核查发现属实",
    "回复举报人",
    "申请理由甲",
    "pdf-secret-body",
]


def _raw(model) -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
        return str(cur.fetchall())


def test_raw_rows_and_files_hold_no_plain_text(file_tip, officers):
    pdf = SimpleUploadedFile(
        "证据.pdf", b"%PDF-1.4\npdf-secret-body\n%%EOF", content_type="application/pdf"
    )
    filed = file_tip(
        content="有人强收鱼塘管理费",
        people_named="张霸天",
        when_where="村口鱼塘",
        identity={"name": "李举报", "contact": "13912345678"},
        files=[pdf],
    )
    tip = filed.tip
    officer = officers.county
    services.tip_transition(actor=officer, tip=tip, action="verify", comment="核查发现属实")
    services.tip_note_add(actor=officer, tip=tip, body="核查发现属实")
    services.tip_reply(actor=officer, tip=tip, body="回复举报人")
    services.identity_request(actor=officer, tip=tip, reason="申请理由甲")
    dump = "".join(
        _raw(m)
        for m in (Tip, TipIdentity, TipEvent, TipNote, TipMessage, TipAttachment, IdentityRequest)
    )
    for secret in SECRETS + ["证据.pdf"]:
        assert secret not in dump, secret
    assert "mq1:" in _raw(Tip)
    files = list(blob_dir().iterdir())
    assert len(files) == 1
    assert b"pdf-secret-body" not in files[0].read_bytes()
    # and the application still reads them
    tip = Tip.objects.get()
    assert tip.content == "有人强收鱼塘管理费"
    assert TipIdentity.objects.get().contact == "13912345678"
    from minqing.tips.attachments import attachment_read

    assert b"pdf-secret-body" in attachment_read(TipAttachment.objects.get())
