"""The verification workflow of a tip, as data (core/workflow.py)."""

from django.utils.translation import gettext_lazy as _

from minqing.core.workflow import CREATE, Workflow

TIP_FLOW = Workflow(
    name="tip",
    initial="received",
    transitions={
        ("received", "verify"): "verifying",
        ("received", "reject"): "rejected",
        ("verifying", "substantiate"): "substantiated",
        ("verifying", "unfound"): "unfounded",
        ("substantiated", "file_case"): "filed",
        ("substantiated", "transfer"): "transferred",
    },
    perms={
        a: "tips.handle"
        for a in ("verify", "reject", "substantiate", "unfound", "file_case", "transfer")
    },
    final=frozenset({"filed", "transferred", "unfounded", "rejected"}),
    labels={
        CREATE: _("受理"),
        "verify": _("开始核查"),
        "reject": _("不予受理"),
        "substantiate": _("查实"),
        "unfound": _("查否"),
        "file_case": _("立案"),
        "transfer": _("移交公安"),
    },
)

ACTION_LABELS = TIP_FLOW.labels
