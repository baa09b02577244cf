import base64
import os

import pytest

from minqing.core import crypto


@pytest.fixture
def keys(settings):
    k1, k2 = crypto.new_key_line("old"), crypto.new_key_line("new")
    settings.ENCRYPTION_KEYS = k1
    crypto.reset_keyring()
    yield SimpleKeys(settings, k1, k2)
    crypto.reset_keyring()


class SimpleKeys:
    def __init__(self, settings, k1, k2):
        self.settings, self.k1, self.k2 = settings, k1, k2

    def use(self, text):
        self.settings.ENCRYPTION_KEYS = text
        crypto.reset_keyring()


def test_round_trip_and_fresh_nonce(keys):
    a = crypto.encrypt_text("线索内容", aad="t.c")
    b = crypto.encrypt_text("线索内容", aad="t.c")
    assert a != b and "线索" not in a
    assert crypto.decrypt_text(a, aad="t.c") == "线索内容"


def test_tampering_or_moving_a_value_fails(keys):
    token = crypto.encrypt_text("secret", aad="t.c")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token, aad="t.other")
    prefix, kid, b64 = token.split(":")
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(f"{prefix}:{kid}:{base64.b64encode(bytes(raw)).decode()}", aad="t.c")


def test_rotation_old_values_still_read_new_ones_use_new_key(keys):
    old = crypto.encrypt_text("x", aad="a")
    blob = crypto.encrypt_bytes(b"file", aad="f")
    keys.use(f"{keys.k2}\n{keys.k1}")
    assert crypto.decrypt_text(old, aad="a") == "x"
    assert crypto.decrypt_bytes(blob, aad="f") == b"file"
    assert crypto.text_key_id(crypto.encrypt_text("y", aad="a")) == "new"
    assert crypto.blob_key_id(crypto.encrypt_bytes(b"z", aad="f")) == "new"
    keys.use(keys.k2)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(old, aad="a")


def test_key_file_is_generated_private(settings, tmp_path):
    settings.ENCRYPTION_KEYS = ""
    settings.ENCRYPTION_KEY_FILE = tmp_path / "keys" / "enc.keys"
    crypto.reset_keyring()
    try:
        token = crypto.encrypt_text("v", aad="a")
        assert oct(os.stat(settings.ENCRYPTION_KEY_FILE).st_mode & 0o777) == "0o600"
        crypto.reset_keyring()
        assert crypto.decrypt_text(token, aad="a") == "v"
    finally:
        crypto.reset_keyring()


def test_rotate_command_reencrypts_rows_and_files(db, keys, tree, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection

    from minqing.tips.models import Tip, TipCategory
    from minqing.tips.services import tip_file

    settings.TIPS_BLOB_DIR = tmp_path
    settings.TIPS_RECEIPT_SCRYPT_N = 2**10
    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.4\nbody", content_type="application/pdf")
    filed = tip_file(
        area_id=tree.qixing.pk,
        category_id=TipCategory.objects.first().pk,
        content="旧密钥加密的内容",
        files=[pdf],
    )
    keys.use(f"{keys.k2}\n{keys.k1}")
    call_command("rotate_encryption_key", stdout=open(os.devnull, "w"))
    keys.use(keys.k2)  # the old key is gone: everything must read with the new one
    with connection.cursor() as cur:
        cur.execute("SELECT content FROM tips_tip")
        assert cur.fetchone()[0].startswith("mq1:new:")
    assert Tip.objects.get().content == "旧密钥加密的内容"
    from minqing.tips.attachments import attachment_read

    assert attachment_read(filed.tip.attachments.get()) == b"%PDF-1.4\nbody"
