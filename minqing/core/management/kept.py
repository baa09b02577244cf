"""The `--check` / `--rebuild` command shared by every kept summary (registry grid counts,
the visits' household tags and next-due dates): `--check` (the default) prints up to 50
differences from a recount and exits 1 when there is one; `--rebuild` recounts in one
transaction, then checks only when `--check` is given too."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class KeptSummaryCommand(BaseCommand):
    # Set by each command: the two functions and what to say.
    # (not `check`: BaseCommand.check runs the system checks)
    differences = None  # () -> list[str], each a difference from a recount
    recount = None  # () -> int, how many rows were rebuilt
    rebuilt = "rebuilt {n}"  # formatted with n
    differ = "{n} kept rows differ from a recount"
    agree = "kept rows agree with a recount"

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, rebuild=False, check=False, **options):
        if rebuild:
            with transaction.atomic():
                n = self.recount()
            self.stdout.write(self.rebuilt.format(n=n))
        if check or not rebuild:
            problems = self.differences()
            for line in problems[:50]:
                self.stdout.write(line)
            if problems:
                raise CommandError(self.differ.format(n=len(problems)))
            self.stdout.write(self.agree)
