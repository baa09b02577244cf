from ninja import Schema


class AreaOut(Schema):
    id: int
    code: str
    name: str
    level: int
    level_label: str
    parent_id: int | None
    path: str


class AreaIn(Schema):
    parent_id: int | None = None
    level: int
    code: str
    name: str


class AreaRenameIn(Schema):
    name: str
