"""In/Out schemas of the appeals API. Phones leave masked; tracking codes only once."""

from datetime import date, datetime

from ninja import Schema
from pydantic import StrictBool, StrictInt

from minqing.core.schemas import IsoDate


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    description: str
    default_unit_id: int | None
    days_village: int
    days_township: int
    days_county: int
    questions: list


class AppealIn(Schema):
    channel: str = "officer"
    kind: str = "appeal"
    category_id: StrictInt
    area_id: StrictInt
    title: str = ""
    content: str
    household_id: StrictInt | None = None
    location: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    answers: dict = {}
    parties: str = ""


class PublicAppealIn(Schema):
    category_id: StrictInt
    area_id: StrictInt
    title: str = ""
    content: str
    location: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    answers: dict = {}


class FiledOut(Schema):
    id: int
    tracking_code: str
    state: str
    expected_datetime: datetime | None


class AppealOut(Schema):
    id: int
    kind: str
    channel: str
    state: str
    state_label: str
    category: str
    area_id: int
    area: str
    handling_area: str
    handling_level: int
    title: str
    owner: str | None
    unit: str | None
    due_at: datetime | None
    overdue: bool
    created_at: datetime


class AppealDetailOut(AppealOut):
    content: str
    location: str
    contact_name: str
    contact_phone: str  # masked
    household_id: int | None
    answers: dict
    result: str
    rating: str
    escalations: int
    supervisions: int
    allowed_actions: list[str]
    parties: str
    mediation_outcome: str


class TimelineOut(Schema):
    at: datetime
    kind: str
    title: str
    text: str
    actor: str


class CommentIn(Schema):
    comment: str = ""


class ReasonIn(Schema):
    reason: str


class AssignIn(Schema):
    unit_id: StrictInt
    owner_id: StrictInt | None = None
    comment: str = ""


class ResolveIn(Schema):
    result: str
    public_reply: str = ""


class RateIn(Schema):
    rating: str
    comment: str = ""


class ReplyIn(Schema):
    text: str
    is_public: StrictBool = False


class MediateIn(Schema):
    record: str
    outcome: str
    mediator_id: StrictInt | None = None


class SuggestIn(Schema):
    content: str
    area_id: StrictInt | None = None
    category_id: StrictInt | None = None


class RecategoriseIn(Schema):
    category_id: StrictInt
    comment: str = ""


class DuplicateVerdictIn(Schema):
    other_id: StrictInt
    same: bool


class TrackOut(Schema):
    """What a resident sees with the tracking code: nothing internal, nobody's name."""

    state: str
    state_label: str
    category: str
    title: str
    created_at: datetime
    expected_datetime: datetime | None
    replies: list[dict]
    timeline: list[dict]
    can_rate: bool


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    is_public: bool


def appeal_out(a, *, detail=False, user=None) -> dict:
    from .models import State
    from .workflow import APPEAL_FLOW

    data = {
        "id": a.pk,
        "kind": a.kind,
        "channel": a.channel,
        "state": a.state,
        "state_label": str(State(a.state).label),
        "category": a.category.name,
        "area_id": a.area_id,
        "area": a.area.name,
        "handling_area": a.handling_area.name,
        "handling_level": a.handling_area.level,
        "title": a.title,
        "owner": str(a.owner) if a.owner_id else None,
        "unit": str(a.unit) if a.unit_id else None,
        "due_at": a.due_at,
        "overdue": a.is_overdue,
        "created_at": a.created_at,
    }
    if detail:
        data.update(
            content=a.content,
            location=a.location,
            contact_name=a.contact_name,
            contact_phone=a.contact_phone_masked,
            household_id=a.household_id,
            answers=a.answers,
            result=a.result,
            rating=a.rating,
            escalations=a.escalations,
            supervisions=a.supervisions,
            allowed_actions=APPEAL_FLOW.allowed_actions(a.state, user, a) if user else [],
            parties=a.parties,
            mediation_outcome=a.mediation_outcome,
        )
    return data


class MeetingIn(Schema):
    area_id: StrictInt
    held_on: IsoDate
    attendees: str
    decisions: str = ""
    appeal_ids: list[StrictInt] = []


class MeetingOut(Schema):
    id: int
    area_id: int
    area: str
    held_on: date
    attendees: str
    decisions: str
    appeal_ids: list[int]


class ReceptionIn(Schema):
    area_id: StrictInt
    received_on: IsoDate
    visitor: str
    summary: str
    appeal_id: StrictInt | None = None


class ReceptionOut(Schema):
    id: int
    area_id: int
    received_on: date
    receiver: str
    visitor: str
    summary: str
    appeal_id: int | None


def meeting_out(m) -> dict:
    return {
        "id": m.pk,
        "area_id": m.area_id,
        "area": m.area.name,
        "held_on": m.held_on,
        "attendees": m.attendees,
        "decisions": m.decisions,
        "appeal_ids": [a.pk for a in m.appeals.all()],
    }


def reception_out(r) -> dict:
    return {
        "id": r.pk,
        "area_id": r.area_id,
        "received_on": r.received_on,
        "receiver": str(r.receiver),
        "visitor": r.visitor,
        "summary": r.summary,
        "appeal_id": r.appeal_id,
    }
