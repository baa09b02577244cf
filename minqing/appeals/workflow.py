"""The appeal workflow, as data: 已受理 → 已认领/已交办 → 办理中 → 已办结 → 已回访 → 已归档,
plus 退回, 上报, 督办 and 重新办理. Guards say who may act on which object."""

from django.utils.translation import gettext_lazy as _

from minqing.core.errors import PermissionDeniedError
from minqing.core.scoping import covers
from minqing.core.workflow import Workflow, register_workflow

from .models import Appeal, AppealEvent, State

A, C, S, P, R, V, Z = (
    State.ACCEPTED,
    State.CLAIMED,
    State.ASSIGNED,
    State.IN_PROGRESS,
    State.RESOLVED,
    State.REVISITED,
    State.ARCHIVED,
)


def _handler(actor, appeal) -> bool:
    return bool(
        actor.is_superuser
        or (appeal.owner_id and appeal.owner_id == actor.pk)
        or (appeal.unit_id and appeal.unit_id == actor.unit_id)
    )


def owner_or_unit(actor, appeal):
    """Only the person answerable (owner) or the unit it was given to works on it."""
    if not _handler(actor, appeal):
        raise PermissionDeniedError(_("只有责任人或承办单位可以办理此事项"))


def owner_unit_or_assigner(actor, appeal):
    """Resolving: the owner, the unit, or whoever assigned it."""
    if _handler(actor, appeal) or (appeal.assigned_by_id and appeal.assigned_by_id == actor.pk):
        return
    raise PermissionDeniedError(_("只有责任人、承办单位或交办人可以办结此事项"))


def in_jurisdiction(actor, appeal):
    """Claiming: the matter lies in the claimer's own jurisdiction."""
    if not covers(actor, appeal.area.path):
        raise PermissionDeniedError(_("只能认领本辖区的事项"))


def holds_level(actor, appeal):
    """Assigning, escalating, reopening: the actor holds the level now answerable."""
    if not covers(actor, appeal.handling_area.path):
        raise PermissionDeniedError(_("该事项不在您所在层级办理"))


APPEAL_FLOW = Workflow(
    name="appeal",
    initial=A,
    transitions={
        (A, "claim"): C,
        (A, "assign"): S,
        (C, "start"): P,
        (S, "start"): P,
        (C, "return"): A,
        (S, "return"): A,
        (P, "return"): A,
        (A, "escalate"): A,
        (C, "escalate"): A,
        (S, "escalate"): A,
        (P, "escalate"): A,
        (A, "supervise"): A,
        (C, "supervise"): C,
        (S, "supervise"): S,
        (P, "supervise"): P,
        (P, "resolve"): R,
        (R, "rate"): V,
        (R, "reopen"): P,
        (V, "reopen"): P,
        (V, "archive"): Z,
    },
    perms={
        "claim": "appeals.claim",
        "assign": "appeals.assign",
        "start": "appeals.handle",
        "return": "appeals.handle",
        "resolve": "appeals.handle",
        "escalate": "appeals.handle",
        "supervise": "appeals.supervise",
        "rate": "appeals.archive",
        "reopen": "appeals.archive",
        "archive": "appeals.archive",
        "duplicate": "appeals.file",
    },
    guards={
        "claim": in_jurisdiction,
        "assign": holds_level,
        "start": owner_or_unit,
        "return": owner_or_unit,
        "resolve": owner_unit_or_assigner,
        "escalate": holds_level,
        "reopen": holds_level,
    },
    final={Z},
    anonymous={"rate", "reopen"},
    # a dispatcher's verdict on a proposed duplicate (services.duplicate_judge): in the
    # timeline of both matters, in whatever state they are
    notes={"duplicate"},
    labels={
        "create": _("受理"),
        "claim": _("认领"),
        "assign": _("交办"),
        "start": _("开始办理"),
        "return": _("退回"),
        "escalate": _("上报"),
        "supervise": _("督办"),
        "resolve": _("办结"),
        "rate": _("回访评价"),
        "reopen": _("重新办理"),
        "archive": _("归档"),
        "duplicate": _("判断重复"),
    },
)

register_workflow(APPEAL_FLOW, model=Appeal, event_model=AppealEvent, case_field="appeal")
