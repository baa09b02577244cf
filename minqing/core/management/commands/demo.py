"""`minqing demo`: build the demo area from the seeds' figures. Safe to run twice."""

from django.core.management.base import BaseCommand
from django.db import transaction

from minqing.core.plugins import app_module, minqing_apps


class Command(BaseCommand):
    help = "Load the demo area, units, logins and registry (idempotent)."

    def handle(self, *args, **options):
        for config in minqing_apps():
            module = app_module(config, "demo")
            if module is not None:
                with transaction.atomic():
                    module.build(stdout=self.stdout)
