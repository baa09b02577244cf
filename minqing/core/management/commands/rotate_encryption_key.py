"""Re-encrypt every encrypted field and file under the current (first) key."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from minqing.core.crypto import encrypted_fields, keyring, rotate_model


class Command(BaseCommand):
    help = "用当前密钥重新加密所有加密字段和加密文件(轮换密钥后运行)"

    def handle(self, *args, **options):
        ring = keyring()
        self.stdout.write(f"current key: {ring.current}; known keys: {', '.join(ring.keys)}")
        for model in apps.get_models():
            files = getattr(model, "rotate_encrypted_files", None)
            if not encrypted_fields(model) and files is None:
                continue
            with transaction.atomic():
                rows = rotate_model(model)
                blobs = files() if files is not None else 0
            self.stdout.write(f"{model._meta.label}: {rows} rows, {blobs} files re-encrypted")
