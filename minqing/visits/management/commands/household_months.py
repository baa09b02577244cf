"""`minqing household_months --check` compares the kept per-household monthly visit counts
that coverage reads with a recount from the visits (exit 1 on a difference); `--rebuild`
replaces them by a recount."""

from minqing.core.management.kept import KeptSummaryCommand
from minqing.visits.household_months import check, rebuild


class Command(KeptSummaryCommand):
    help = "Check (default) or rebuild the kept per-household monthly visit counts of coverage."
    differences = staticmethod(check)
    recount = staticmethod(rebuild)
    rebuilt = "rebuilt {n} household-month visit counts"
    differ = "{n} household-month visit counts differ from a recount"
    agree = "household-month visit counts agree with a recount"
