from datetime import datetime

from ninja import Schema


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
