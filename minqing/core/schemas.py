import re
from datetime import date, datetime
from typing import Annotated

from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import BeforeValidator, model_validator


class JobOut(Schema):
    id: str
    kind: str
    status: str
    total: int
    done: int
    message: str
    errors: list[dict]
    error_total: int = 0
    imported: int | None = None
    mapping: list[dict] = []
    preview: dict = {}


class JobCommitIn(Schema):
    strategy: str = "create_update"  # or "create_only"


class JobRemapIn(Schema):
    mapping: dict[str, str]  # header -> field ("" ignores the column)


def job_out(job) -> dict:
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "message": job.message,
        "errors": job.result.get("errors", []),
        "error_total": job.result.get("error_total", 0),
        "imported": job.result.get("imported"),
        "mapping": job.result.get("mapping", []),
        "preview": job.result.get("preview", {}),
    }


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor_label: str
    action: str
    target_type: str
    target_id: str
    target_repr: str
    area_id: int | None
    source_address: str | None
    channel: str
    detail: dict


class MeOut(Schema):
    id: int
    username: str
    name: str
    role: str
    role_label: str
    unit: str | None
    areas: list[dict]
    permissions: list[str]


# ---- strict input -----------------------------------------------------------------------
# Pydantic's lax mode turns `false` into 0 and "0" into 1970-01-01; the document says
# integer and date, so input outside that is refused with 400 like any other bad input.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("date must be YYYY-MM-DD")


# A date given as YYYY-MM-DD (a query parameter or a JSON string), nothing else.
IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _iso_datetime_only(value):
    if isinstance(value, (str, datetime)):
        return value
    raise ValueError("datetime must be an ISO 8601 string")


# A date and time as an ISO 8601 string (not a number of seconds).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime_only)]


class ObjectIn(Schema):
    """A JSON-object body. Ninja's Schema reads attributes of whatever it is given, so a
    schema whose fields are all optional would take `[null]` or `3` as an empty object."""

    @model_validator(mode="before")
    @classmethod
    def _object_only(cls, values):
        # Ninja's own (outer) validator has already wrapped the value in a DjangoGetter.
        raw = values._obj if isinstance(values, DjangoGetter) else values
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        return values
