"""Run the registered periodic tasks inline (no Redis needed): `minqing periodic [--once]`."""

import time

from django.core.management.base import BaseCommand

from minqing.core.periodic import periodic_tasks, run_due


class Command(BaseCommand):
    help = "Run due periodic tasks (escalation, reminders...) in a loop, or once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=int, default=60, help="seconds between checks")

    def handle(self, *args, once=False, interval=60, **options):
        self.stdout.write(f"periodic tasks: {', '.join(sorted(periodic_tasks())) or '-'}")
        while True:
            for name in run_due():
                self.stdout.write(f"ran {name}")
            if once:
                return
            time.sleep(interval)
