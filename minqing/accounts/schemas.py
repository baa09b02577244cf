from ninja import Schema
from pydantic import Field, StrictStr

from minqing.core.schemas import ObjectIn


class StaffOut(Schema):
    id: int
    username: str
    name: str
    role: str
    role_label: str
    unit: str | None
    areas: list[str]

    @staticmethod
    def resolve_name(obj):
        return str(obj)

    @staticmethod
    def resolve_role_label(obj):
        return str(obj.get_role_display())

    @staticmethod
    def resolve_unit(obj):
        return str(obj.unit) if obj.unit_id else None

    @staticmethod
    def resolve_areas(obj):
        return [j.area.name for j in obj.jurisdictions.all()]


class StaffIn(ObjectIn):
    """A new staff account (an administrator's): areas and unit by name or code, as the page
    takes them; the owner changes the password at the first login."""

    username: StrictStr = Field(max_length=150)
    full_name: StrictStr = Field(max_length=40)
    role: StrictStr
    areas: list[StrictStr] = Field(min_length=1, max_length=50)
    unit: StrictStr = Field("", max_length=100)
    phone: StrictStr = Field("", max_length=30)
    password: StrictStr = Field(max_length=128)
