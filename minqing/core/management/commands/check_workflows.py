"""Rebuild each workflow case's cached state from its events and report differences."""

from django.core.management.base import BaseCommand

from minqing.core.workflow import registered_workflows, workflow_check


class Command(BaseCommand):
    help = "Compare every case's cached state with the replay of its events (--fix repairs)."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, fix=False, **options):
        total = 0
        if not registered_workflows():
            self.stdout.write("no workflows registered")
        for name, reg in registered_workflows().items():
            wrong = workflow_check(reg, fix=fix)
            total += len(wrong)
            for pk, cached, derived in wrong[:50]:
                self.stdout.write(f"{name} #{pk}: cached {cached!r}, events say {derived!r}")
            self.stdout.write(
                f"{name}: {len(wrong)} case(s) differ{' (fixed)' if fix and wrong else ''}"
            )
        if total and not fix:
            raise SystemExit(1)
