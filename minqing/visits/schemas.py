"""In/Out schemas of the visits API."""

from datetime import date, datetime
from uuid import UUID

from ninja import Field, Schema
from pydantic import BaseModel, StrictInt

from minqing.core.schemas import IsoDate, IsoDateTime, ObjectIn


class TagFindingIn(Schema):
    tag: str = Field(description="Tag.code, e.g. left_behind_child")
    start_date: IsoDate
    resident_id: StrictInt | None = Field(None, description="the member, for personal tags")


class VisitFields(BaseModel):
    """One visit as the phone and the form send it. A plain pydantic model: a sync batch
    of hundreds is parsed without ninja's per-object attribute getter."""

    household_id: StrictInt
    situation: str
    visited_at: IsoDateTime | None = Field(None, description="defaults to now; never in the future")
    place: str = ""
    # default_factory: pydantic deep-copies a literal [] default for every visit of a batch
    met_member_ids: list[StrictInt] = Field(default_factory=list)
    met_others: str = ""
    visitor_ids: list[StrictInt] = Field(
        default_factory=list, description="fellow visitors; the caller is always one"
    )
    follow_up_date: IsoDate | None = None
    tags: list[TagFindingIn] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    disputes: list[str] = Field(default_factory=list)
    need_category_id: StrictInt | None = None
    client_id: UUID | None = Field(None, description="generated on the phone: idempotent upload")


class VisitIn(VisitFields, Schema):
    pass


class SyncIn(BaseModel):
    """A plain pydantic body (no per-object attribute getter over hundreds of visits)."""

    visits: list[VisitFields] = Field(..., max_length=500)


class SyncResultOut(Schema):
    client_id: str
    status: str = Field(description="created, duplicate or conflict (kept for the cadre)")
    visit_id: int | None = None
    conflict_id: int | None = None
    detail: str | None = None


class FindingOut(Schema):
    kind: str
    text: str
    appeal_id: int | None


class NoteOut(Schema):
    text: str
    author_id: int
    created_at: datetime


class VisitOut(Schema):
    id: int
    household_id: int
    household_number: str
    grid_id: int
    visited_at: datetime
    place: str
    met_member_ids: list[int]
    met_others: str
    situation: str
    visitor_ids: list[int]
    recorded_by_id: int
    follow_up_date: date | None
    client_id: UUID | None
    created_at: datetime
    findings: list[FindingOut]
    notes: list[NoteOut]


def visit_out(v) -> dict:
    return {
        "id": v.pk,
        "household_id": v.household_id,
        "household_number": v.household.number,
        "grid_id": v.grid_id,
        "visited_at": v.visited_at,
        "place": v.place,
        "met_member_ids": [m.pk for m in v.met_members.all()],
        "met_others": v.met_others,
        "situation": v.situation,
        "visitor_ids": [u.pk for u in v.visitors.all()],
        "recorded_by_id": v.recorded_by_id,
        "follow_up_date": v.follow_up_date,
        "client_id": v.client_id,
        "created_at": v.created_at,
        "findings": [
            {"kind": f.kind, "text": f.text, "appeal_id": f.appeal_id} for f in v.findings.all()
        ],
        "notes": [
            {"text": n.text, "author_id": n.author_id, "created_at": n.created_at}
            for n in v.notes.all()
        ],
    }


class NoteIn(Schema):
    text: str


class DueOut(Schema):
    household_id: int
    household_number: str
    head_name: str
    address: str
    grid_name: str
    due: date
    overdue_days: int
    reasons: list[str]
    last_visited_at: datetime | None


class CoverageRowOut(Schema):
    area_id: int
    name: str
    total: int
    visited: int
    unvisited: int


class CadreRowOut(Schema):
    user_id: int | None
    name: str
    total: int
    visited: int
    unvisited: int


class RuleRowOut(Schema):
    rule_id: int
    name: str
    required: int
    total: int
    compliant: int


class CoverageOut(Schema):
    area_id: int
    start: date
    end: date
    total: int
    visited: int
    unvisited: int
    rate: float
    by_grid: list[CoverageRowOut]
    by_village: list[CoverageRowOut]
    by_cadre: list[CadreRowOut]
    by_rule: list[RuleRowOut]


class MemberOut(Schema):
    id: int
    name: str
    relation: str


class OfflineHouseholdOut(Schema):
    id: int
    number: str
    address: str
    grid_name: str
    phone: str = Field(description="masked")
    members: list[MemberOut]


class OfflineTagOut(Schema):
    code: str
    name: str
    personal: bool = Field(description="given to a member (else to the household)")


class OfflinePackOut(Schema):
    generated_at: datetime
    due: list[DueOut]
    households: list[OfflineHouseholdOut]
    truncated: bool
    tags: list[OfflineTagOut] = []


class ConflictOut(Schema):
    id: int
    client_id: UUID
    error: str
    created_at: datetime
    resolved_at: datetime | None
    visit_id: int | None
    payload: dict


class QuestionOut(Schema):
    id: int
    kind: str
    text: str
    options: list[str]
    required: bool
    satisfaction: bool


class SurveyOut(Schema):
    id: int
    title: str
    description: str
    area_id: int
    status: str
    created_at: datetime
    questions: list[QuestionOut]


class SurveyAnswerIn(Schema):
    household_id: StrictInt
    answers: dict[str, int | list[int] | str] = Field(
        description="question id → option index (single), option indexes (multiple), "
        "score 1-5 (scale) or text"
    )
    visit_id: StrictInt | None = None


class PublicAnswerIn(Schema):
    household_number: str
    phone_tail: str = Field(description="last four digits of the household's phone")
    answers: dict[str, int | list[int] | str]


class ResponseOut(Schema):
    id: int
    survey_id: int
    household_id: int
    channel: str
    created_at: datetime


class PublicResponseOut(Schema):
    ok: bool


class OptionCountOut(Schema):
    index: int
    label: str
    count: int


class QuestionResultOut(Schema):
    question_id: int
    kind: str
    text: str
    options: list[OptionCountOut] | None = None
    average: float | None = None
    count: int | None = None
    texts: list[str] | None = None


class SurveyResultsOut(Schema):
    survey_id: int
    area_id: int
    start: date
    end: date
    responses: int
    questions: list[QuestionResultOut]
    satisfaction: list[dict]


class PairingIn(ObjectIn):
    cadre_id: StrictInt = Field(description="the paired cadre (holds the household's area)")
    household_id: StrictInt
    start_date: IsoDate | None = Field(None, description="defaults to today")


class PairingEndIn(ObjectIn):
    end_date: IsoDate | None = Field(None, description="defaults to today")
    reason: str = Field("", max_length=200)


class PairingOut(Schema):
    id: int
    cadre_id: int
    cadre_name: str
    household_id: int
    household_number: str
    start_date: date
    end_date: date | None
    end_reason: str


def pairing_out(p) -> dict:
    return {
        "id": p.pk,
        "cadre_id": p.cadre_id,
        "cadre_name": str(p.cadre),
        "household_id": p.household_id,
        "household_number": p.household.number,
        "start_date": p.start_date,
        "end_date": p.end_date,
        "end_reason": p.end_reason,
    }


class PhotoOut(Schema):
    id: int
    visit_id: int
    content_type: str
