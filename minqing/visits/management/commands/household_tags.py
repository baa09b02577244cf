"""`minqing household_tags --check` compares the kept per-household tag summary that
coverage reads with a recount from the tag periods (exit 1 on a difference); `--rebuild`
replaces it by a recount."""

from minqing.core.management.kept import KeptSummaryCommand
from minqing.visits.household_tags import check, rebuild


class Command(KeptSummaryCommand):
    help = "Check (default) or rebuild the kept per-household tag summary of coverage."
    differences = staticmethod(check)
    recount = staticmethod(rebuild)
    rebuilt = "rebuilt the tag summary of {n} households"
    differ = "{n} households differ from a recount"
    agree = "household tag summary agrees with a recount"
