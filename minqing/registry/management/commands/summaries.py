"""`minqing summaries --check` compares the kept grid summaries with a recount (exit 1 on a
difference); `--rebuild` replaces them by a recount (after a bulk load that bypassed the
models, e.g. bench/generate.py)."""

from minqing.core.management.kept import KeptSummaryCommand
from minqing.registry.summaries import summaries_check, summaries_rebuild


class Command(KeptSummaryCommand):
    help = "Check (default) or rebuild the kept per-grid counts of the registry."
    differences = staticmethod(summaries_check)
    recount = staticmethod(summaries_rebuild)
    rebuilt = "rebuilt the summaries of {n} areas"
    differ = "{n} kept counts differ from a recount"
    agree = "summaries agree with a recount"
