"""The verification workflow of a tip, as data (core/workflow.py)."""

from minqing.core.workflow import Workflow

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
)

ACTION_LABELS = {
    "verify": "开始核查",
    "reject": "不予受理",
    "substantiate": "查实",
    "unfound": "查否",
    "file_case": "立案",
    "transfer": "移交公安",
}
