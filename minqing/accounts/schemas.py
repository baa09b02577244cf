from ninja import Schema


class StaffOut(Schema):
    id: int
    username: str
    name: str
    role: str
    role_label: str
    unit: str | None
    areas: list[str]
