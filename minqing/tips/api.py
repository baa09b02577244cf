"""Officer endpoints for tips, behind the same rules as the pages: login, second factor
(SecondFactorMiddleware answers 403 before this runs), political-legal role, visible_to,
every read audited. `stats` is for every role and carries counts only."""

from datetime import date

from ninja import Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import StrictInt

from minqing.core.schemas import IsoDate

from . import selectors, services


class TipOut(Schema):
    id: int
    reference: str
    area: str
    handling_area: str
    category: str
    channel: str
    state: str
    received_on: date
    handler_id: int | None = None
    deadline: date | None = None
    expires_on: date | None = None

    @staticmethod
    def resolve_area(obj):
        return getattr(obj.area, "name", obj.area)

    @staticmethod
    def resolve_handling_area(obj):
        return getattr(obj.handling_area, "name", obj.handling_area)

    @staticmethod
    def resolve_category(obj):
        return getattr(obj.category, "name", obj.category)


class EventOut(Schema):
    at: str
    actor_label: str
    action: str
    from_state: str
    to_state: str
    comment: str


class NoteOut(Schema):
    at: str
    author: str
    body: str


class MessageOut(Schema):
    on: date
    from_tipster: bool
    body: str


class TipDetailOut(TipOut):
    content: str
    when_where: str
    people_named: str
    has_identity: bool
    events: list[EventOut]
    notes: list[NoteOut]
    messages: list[MessageOut]
    attachments: list[dict]

    @staticmethod
    def resolve_has_identity(obj):
        from .models import TipIdentity

        return TipIdentity.objects.filter(tip=obj).exists()

    @staticmethod
    def resolve_events(obj):
        return [
            {
                "at": e.at.isoformat(),
                "actor_label": e.actor_label,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "comment": e.comment,
            }
            for e in obj.events.all()
        ]

    @staticmethod
    def resolve_notes(obj):
        return [
            {"at": n.at.isoformat(), "author": str(n.author), "body": n.body}
            for n in obj.notes.select_related("author")
        ]

    @staticmethod
    def resolve_messages(obj):
        return [
            {"on": m.on, "from_tipster": m.from_tipster, "body": m.body} for m in obj.messages.all()
        ]

    @staticmethod
    def resolve_attachments(obj):
        return [
            {"id": a.pk, "name": a.original_name, "content_type": a.content_type, "size": a.size}
            for a in obj.attachments.all()
        ]


class TransitionIn(Schema):
    action: str
    comment: str = ""


class AssignIn(Schema):
    handler_id: StrictInt
    deadline: IsoDate | None = None


class TextIn(Schema):
    body: str


class ConflictIn(Schema):
    officer_id: StrictInt
    reason: str


class ReasonIn(Schema):
    reason: str


class IdentityOut(Schema):
    name: str
    contact: str
    other: str


router = Router()


@router.get("/", response=list[TipOut])
@paginate
def tip_list(request, state: str = "", mine: bool = False):
    qs = selectors.tip_list(fetched_by=request.user, state=state, mine=mine)
    selectors.tip_list_audit(fetched_by=request.user, ids=qs.values_list("pk", flat=True)[:200])
    return qs


@router.get("/stats", response=dict)
def tip_stats(request, since: IsoDate | None = None, until: IsoDate | None = None):
    return selectors.tip_stats(fetched_by=request.user, since=since, until=until)


@router.get("/{tip_id}", response=TipDetailOut)
def tip_detail(request, tip_id: int):
    return services.tip_read(actor=request.user, pk=tip_id)


@router.post("/{tip_id}/transition", response=TipOut)
def tip_transition(request, tip_id: int, data: TransitionIn):
    tip = services.tip_get(user=request.user, pk=tip_id)
    return services.tip_transition(
        actor=request.user, tip=tip, action=data.action, comment=data.comment
    )


@router.post("/{tip_id}/assign", response=TipOut)
def tip_assign(request, tip_id: int, data: AssignIn):
    tip = services.tip_get(user=request.user, pk=tip_id)
    return services.tip_assign(
        actor=request.user, tip=tip, handler_id=data.handler_id, deadline=data.deadline
    )


@router.post("/{tip_id}/notes", response={201: dict})
def tip_note(request, tip_id: int, data: TextIn):
    tip = services.tip_get(user=request.user, pk=tip_id)
    note = services.tip_note_add(actor=request.user, tip=tip, body=data.body)
    return Status(201, {"id": note.pk})


@router.post("/{tip_id}/replies", response={201: dict})
def tip_reply(request, tip_id: int, data: TextIn):
    tip = services.tip_get(user=request.user, pk=tip_id)
    message = services.tip_reply(actor=request.user, tip=tip, body=data.body)
    return Status(201, {"id": message.pk})


@router.post("/{tip_id}/conflicts", response={201: dict})
def tip_conflict(request, tip_id: int, data: ConflictIn):
    tip = services.tip_get(user=request.user, pk=tip_id)
    c = services.tip_conflict_mark(
        actor=request.user, tip=tip, officer_id=data.officer_id, reason=data.reason
    )
    return Status(201, {"id": c.pk})


@router.post("/{tip_id}/identity-requests", response={201: dict})
def tip_identity_request(request, tip_id: int, data: ReasonIn):
    tip = services.tip_get(user=request.user, pk=tip_id)
    req = services.identity_request(actor=request.user, tip=tip, reason=data.reason)
    return Status(201, {"id": req.pk, "status": req.status})


@router.get("/{tip_id}/identity", response=IdentityOut)
def tip_identity(request, tip_id: int):
    tip = services.tip_get(user=request.user, pk=tip_id)
    return services.identity_reveal(actor=request.user, tip=tip)
