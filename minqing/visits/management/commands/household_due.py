"""`minqing household_due --check` compares the kept per-household next-due dates that the
due list reads with the rules engine run over every household (exit 1 on a difference);
`--rebuild` recounts them."""

from minqing.core.management.kept import KeptSummaryCommand
from minqing.visits.household_due import check, rebuild


class Command(KeptSummaryCommand):
    help = "Check (default) or rebuild the kept per-household next-due dates of the due list."
    differences = staticmethod(check)
    recount = staticmethod(rebuild)
    rebuilt = "rebuilt the next-due dates: {n} households"
    differ = "{n} households differ from the rules"
    agree = "next-due dates agree with the rules"
