"""The hand-over of a need or dispute found on a visit to the appeals app (channel 走访).

The appeals app is built in parallel; when it is installed and offers
`minqing.appeals.services.appeal_intake`, every need/dispute finding becomes an appeal in the
same transaction as the visit and the finding keeps its reference. Until then the finding
itself (kind need/dispute, listed on the household page) is the record to hand over.
"""

from importlib import import_module, util

from django.apps import apps


def appeal_intake_service():
    """The appeals intake service, or None while the appeals app is not installed."""
    if not apps.is_installed("minqing.appeals"):
        return None
    if util.find_spec("minqing.appeals.services") is None:
        return None
    return getattr(import_module("minqing.appeals.services"), "appeal_intake", None)


def raise_appeal(*, actor, visit, kind: str, text: str) -> str:
    """File the finding as an appeal when the appeals app can take it; '' otherwise."""
    intake = appeal_intake_service()
    if intake is None:
        return ""
    appeal = intake(
        actor=actor,
        household=visit.household,
        channel="visit",
        kind=kind,
        content=text,
        source=visit,
    )
    return f"{appeal._meta.label_lower}:{appeal.pk}"
