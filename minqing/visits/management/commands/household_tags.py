"""`minqing household_tags --check` compares the kept per-household tag summary that
coverage reads with a recount from the tag periods (exit 1 on a difference); `--rebuild`
replaces it by a recount."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from minqing.visits.household_tags import check, rebuild


class Command(BaseCommand):
    help = "Check (default) or rebuild the kept per-household tag summary of coverage."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, **options):
        if options["rebuild"]:
            with transaction.atomic():
                n = rebuild()
            self.stdout.write(f"rebuilt the tag summary of {n} households")
        if options["check"] or not options["rebuild"]:
            problems = check()
            for line in problems[:50]:
                self.stdout.write(line)
            if problems:
                raise CommandError(f"{len(problems)} households differ from a recount")
            self.stdout.write("household tag summary agrees with a recount")
