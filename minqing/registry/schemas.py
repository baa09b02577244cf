"""In and out schemas of the registry API. Out schemas carry masked 身份证号 and phones
only; the full values come from the audited reveal endpoints."""

from datetime import date

from django.utils.translation import gettext as _
from ninja import Field, Schema


class TagRef(Schema):
    code: str
    name: str


class HouseholdOut(Schema):
    id: int
    number: str
    address: str
    grid_id: int
    grid_name: str
    head_id: int | None
    head_name: str | None
    phone_masked: str
    tags: list[TagRef]
    version: int = Field(..., description="编辑时原样带回(PATCH 的 version);已被他人修改则 409")

    @staticmethod
    def resolve_grid_name(obj) -> str:
        return obj.grid.name

    @staticmethod
    def resolve_head_name(obj) -> str | None:
        return obj.head.name if obj.head_id else None

    @staticmethod
    def resolve_tags(obj) -> list[dict]:
        """Current tags of the household and its members, each once (what the tag filter
        matches)."""
        seen = {}
        for p in getattr(obj, "current_tags", []):
            seen.setdefault(p.tag.code, {"code": p.tag.code, "name": p.tag.name})
        return list(seen.values())


class ResidentOut(Schema):
    id: int
    household_id: int
    household_number: str
    name: str
    gender: str
    age: int | None = Field(
        None, description="周岁;出生日期不对外显示(见 core/masking.py),完整身份证号须经留痕查看"
    )
    id_masked: str
    phone_masked: str
    relation: str
    relation_label: str
    status: str
    status_label: str
    status_date: date | None
    tags: list[TagRef]
    version: int = Field(..., description="编辑时原样带回(PATCH 的 version);已被他人修改则 409")

    @staticmethod
    def resolve_household_number(obj) -> str:
        return obj.household.number

    @staticmethod
    def resolve_relation_label(obj) -> str:
        return str(obj.get_relation_display())

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_tags(obj) -> list[dict]:
        return [
            {"code": p.tag.code, "name": p.tag.name}
            for p in getattr(obj, "current_tags", [])
            if p.resident_id == obj.pk
        ]


class TagPeriodOut(Schema):
    id: int
    tag: TagRef
    household_id: int
    resident_id: int | None
    resident_name: str | None
    start_date: date
    start_reason: str
    started_by: str | None
    end_date: date | None
    end_reason: str
    ended_by: str | None

    @staticmethod
    def resolve_tag(obj) -> dict:
        return {"code": obj.tag.code, "name": obj.tag.name}

    @staticmethod
    def resolve_resident_name(obj) -> str | None:
        return obj.resident.name if obj.resident_id else None

    @staticmethod
    def resolve_started_by(obj) -> str | None:
        return str(obj.started_by) if obj.started_by_id else None

    @staticmethod
    def resolve_ended_by(obj) -> str | None:
        return str(obj.ended_by) if obj.ended_by_id else None


class MoveOut(Schema):
    id: int
    resident_id: int
    resident_name: str
    kind: str
    kind_label: str
    from_household_id: int | None = Field(None, description="辖区外或外地时为空")
    to_household_id: int | None = Field(None, description="辖区外或外地时为空")
    from_household: str = Field("", description="户号;辖区外的户只写“辖区外”,外地为“外地”")
    to_household: str = Field("", description="户号;辖区外的户只写“辖区外”,外地为“外地”")
    date: date
    reason: str

    @staticmethod
    def resolve_resident_name(obj) -> str:
        return obj.resident.name

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    # The other end of a move may lie outside the caller's jurisdiction (selectors set
    # from_visible / to_visible): it is shown as 辖区外, never by id or number.
    @staticmethod
    def resolve_from_household_id(obj) -> int | None:
        return obj.from_household_id if getattr(obj, "from_visible", True) else None

    @staticmethod
    def resolve_to_household_id(obj) -> int | None:
        return obj.to_household_id if getattr(obj, "to_visible", True) else None

    @staticmethod
    def resolve_from_household(obj) -> str:
        return _move_end(obj.from_household, getattr(obj, "from_visible", True), obj.kind)

    @staticmethod
    def resolve_to_household(obj) -> str:
        return _move_end(obj.to_household, getattr(obj, "to_visible", True), obj.kind)


def _move_end(household, visible: bool, kind: str) -> str:
    if household is None:
        return "—" if kind == "death" else str(_("外地"))
    return household.number if visible else str(_("辖区外"))


class HouseholdDetailOut(HouseholdOut):
    notes: str
    members: list[ResidentOut]
    tag_history: list[TagPeriodOut]
    moves: list[MoveOut]

    @staticmethod
    def resolve_members(obj) -> list:
        return obj.member_list

    @staticmethod
    def resolve_moves(obj) -> list:
        return obj.move_list


class HouseholdIn(Schema):
    grid_id: int
    address: str
    number: str = ""
    phone: str = ""
    notes: str = ""


VERSION_IN = Field(
    ...,
    description="所编辑记录的 version(读取时得到);记录已被他人修改时返回 409,不覆盖",
)


class HouseholdPatch(Schema):
    version: int = VERSION_IN
    grid_id: int | None = None
    number: str | None = None
    address: str | None = None
    phone: str | None = None
    notes: str | None = None


class ResidentIn(Schema):
    household_id: int
    name: str
    id_number: str
    relation: str = "other"
    phone: str = ""
    moved_in_on: date | None = Field(None, description="迁入日期;留空表示原有居民登记")
    reason: str = ""


class ResidentPatch(Schema):
    version: int = VERSION_IN
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    relation: str | None = None


class MoveIn(Schema):
    kind: str = Field(..., description="in 迁入 / out 迁出 / transfer 户间迁移 / death 死亡")
    date: date
    reason: str = ""
    to_household_id: int | None = None
    relation: str | None = None


class TagGiveIn(Schema):
    tag: str = Field(..., description="Tag.code, e.g. dibao")
    date: date
    reason: str


class TagOut(Schema):
    id: int
    code: str
    name: str
    scope: str
    description: str
    is_system: bool
    current_count: int | None = None


class TagCreateIn(Schema):
    code: str
    name: str
    scope: str = "resident"
    description: str = ""


class TagCarrierOut(Schema):
    period_id: int = Field(..., alias="id")
    household_id: int
    household_number: str
    resident_id: int | None
    resident_name: str | None
    start_date: date
    end_date: date | None
    start_reason: str

    @staticmethod
    def resolve_household_number(obj) -> str:
        return obj.household.number

    @staticmethod
    def resolve_resident_name(obj) -> str | None:
        return obj.resident.name if obj.resident_id else None


class RevealIn(Schema):
    reason: str = Field(..., description="为什么要查看完整号码，一句话，记入审计日志")


class MoveCorrectIn(Schema):
    reason: str = Field(..., description="更正原因")


class ChangedField(Schema):
    field: str
    label: str


class ConflictDetails(Schema):
    version: int
    changed: list[ChangedField]


class ConflictOut(Schema):
    """409: a stale edit (`code` "stale", `errors` names what changed and the current
    version) or a duplicate."""

    detail: str
    code: str
    errors: ConflictDetails | None = None


class RevealIdOut(Schema):
    id_number: str


class RevealPhoneOut(Schema):
    phone: str


class PlaceOut(Schema):
    id: int
    grid_id: int
    grid_name: str
    name: str
    kind: str
    kind_label: str
    address: str
    contact_name: str
    contact_phone_masked: str
    notes: str

    @staticmethod
    def resolve_grid_name(obj) -> str:
        return obj.grid.name

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())


class PlaceIn(Schema):
    grid_id: int
    name: str
    kind: str
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    notes: str = ""


class PlacePatch(Schema):
    grid_id: int | None = None
    name: str | None = None
    kind: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    notes: str | None = None


class OrganisationPatch(PlacePatch):
    credit_code: str | None = None
    has_party_branch: bool | None = None


class OrganisationOut(PlaceOut):
    credit_code: str
    has_party_branch: bool


class OrganisationIn(PlaceIn):
    credit_code: str = ""
    has_party_branch: bool = False
