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
    imported: int | None = None


def job_out(job) -> dict:
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "message": job.message,
        "errors": job.result.get("errors", []),
        "imported": job.result.get("imported"),
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
