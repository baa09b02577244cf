"""`minqing summaries --check` compares the kept grid summaries with a recount (exit 1 on a
difference); `--rebuild` replaces them by a recount (after a bulk load that bypassed the
models, e.g. bench/generate.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from minqing.registry.summaries import summaries_check, summaries_rebuild


class Command(BaseCommand):
    help = "Check (default) or rebuild the kept per-grid counts of the registry."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, rebuild=False, check=False, **options):
        if rebuild:
            with transaction.atomic():
                n = summaries_rebuild()
            self.stdout.write(f"rebuilt the summaries of {n} areas")
        if check or not rebuild:
            problems = summaries_check()
            for line in problems[:50]:
                self.stdout.write(line)
            if problems:
                raise CommandError(f"{len(problems)} kept counts differ from a recount")
            self.stdout.write("summaries agree with a recount")
