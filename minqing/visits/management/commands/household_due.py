"""`minqing household_due --check` compares the kept per-household next-due dates that the
due list reads with the rules engine run over every household (exit 1 on a difference);
`--rebuild` recounts them."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from minqing.visits.household_due import check, rebuild


class Command(BaseCommand):
    help = "Check (default) or rebuild the kept per-household next-due dates of the due list."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, **options):
        if options["rebuild"]:
            with transaction.atomic():
                n = rebuild()
            self.stdout.write(f"rebuilt the next-due dates: {n} households")
        if options["check"] or not options["rebuild"]:
            problems = check()
            for line in problems[:50]:
                self.stdout.write(line)
            if problems:
                raise CommandError(f"{len(problems)} households differ from the rules")
            self.stdout.write("next-due dates agree with the rules")
