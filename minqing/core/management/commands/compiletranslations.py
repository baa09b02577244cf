"""Compile locale/*.po to .mo with polib, so no GNU gettext is needed on the machine."""

import os
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile the .po catalogues under LOCALE_PATHS (no gettext binaries needed)."

    def handle(self, *args, **options):
        count = 0
        for base in settings.LOCALE_PATHS:
            for po_path in Path(base).glob("*/LC_MESSAGES/*.po"):
                po = polib.pofile(str(po_path))
                # Written aside and renamed: a test run reading the catalogue meanwhile (CI
                # runs two suites side by side) sees the old file or the new one, never half.
                mo_path = po_path.with_suffix(".mo")
                tmp = mo_path.with_name(f".{mo_path.name}.{os.getpid()}.tmp")
                po.save_as_mofile(str(tmp))
                os.replace(tmp, mo_path)
                count += 1
        self.stdout.write(f"compiled {count} catalogue(s)")
