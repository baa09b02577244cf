"""All-or-nothing spreadsheet imports, run as background jobs with progress.

An app registers an Importer for its kind. Running an import reads every row,
validates every row (progress is visible while it does), and only when no row is bad
writes everything in one transaction. One bad row: nothing is written, and the job
keeps every bad row with its reasons (shown on the page and as an xlsx).
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import DomainError, NotFoundError, ValidationFailed
from .models import Job
from .permissions import require
from .tabular import Table, read_table

_IMPORTERS: dict[str, "Importer"] = {}
PROGRESS_EVERY = 5000


class RowErrors:
    """Collects reasons per row number; the user sees all of them at once."""

    def __init__(self):
        self.by_row: dict[int, list[str]] = {}

    def add(self, row: int, reason: str) -> None:
        self.by_row.setdefault(row, []).append(str(reason))

    def __bool__(self):
        return bool(self.by_row)

    def as_list(self) -> list[dict]:
        return [{"row": r, "errors": self.by_row[r]} for r in sorted(self.by_row)]


class Importer:
    kind = ""
    perm = ""
    label = ""
    template_headers: list[str] = []

    def validate(self, *, actor, table: Table, errors: RowErrors, progress):
        """Return a plan (whatever apply needs); add every problem to `errors`."""
        raise NotImplementedError

    def apply(self, *, actor, plan, job: Job) -> dict:
        """Write the plan (inside the import transaction); return a summary."""
        raise NotImplementedError


def register_importer(importer: Importer) -> Importer:
    _IMPORTERS[importer.kind] = importer
    return importer


def get_importer(kind: str) -> Importer:
    try:
        return _IMPORTERS[kind]
    except KeyError:
        raise NotFoundError()


def upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_start(*, actor, kind: str, upload, params: dict | None = None) -> Job:
    """Keep the uploaded file, create the job and run it (Celery, or inline without Redis)."""
    importer = get_importer(kind)
    require(actor, importer.perm)
    name = getattr(upload, "name", "upload.csv") or "upload.csv"
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt", ".xlsm"):
        raise ValidationFailed(_("只支持 .xlsx 或 .csv 文件"))
    size = getattr(upload, "size", None)
    if size is not None and size > settings.MAX_IMPORT_BYTES:
        raise ValidationFailed(_("文件太大"))
    stored = upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    with stored.open("wb") as out:
        if hasattr(upload, "chunks"):
            for chunk in upload.chunks():
                out.write(chunk)
        else:
            out.write(upload.read())
    job = Job.objects.create(
        kind=kind,
        created_by=actor,
        input_file=str(stored),
        params={"filename": name, **(params or {})},
        message=_("排队中"),
    )
    from .tasks import run_import

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No Redis: run right here, inside the request.
        return import_run(str(job.pk))
    # With a worker: queue after commit, so the worker always finds the job.
    transaction.on_commit(lambda: run_import.delay(str(job.pk)))
    return job


def _set(job: Job, **fields) -> None:
    for k, v in fields.items():
        setattr(job, k, v)
    Job.objects.filter(pk=job.pk).update(**fields)


def _audit_failure(job: Job, *, errors: int) -> None:
    """A failed import is an audit event like a done one (a refused file is a trace too),
    on the area of the uploader's jurisdiction; the message is scrubbed of full numbers."""
    from .audit import audit_record, home_area_id

    audit_record(
        actor=job.created_by,
        action="import.failed",
        obj=job,
        area=home_area_id(job.created_by),
        detail={"kind": job.kind, "message": str(job.message)[:500], "errors": errors},
    )


def import_run(job_id: str) -> Job:
    """The body of the background task."""
    job = Job.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        return job
    importer = get_importer(job.kind)
    actor = job.created_by
    _set(job, status=Job.Status.RUNNING, message=_("正在校验"))
    errors = RowErrors()
    try:
        with open(job.input_file, "rb") as fh:
            table = read_table(fh, job.params.get("filename", job.input_file))

            def progress(done: int, total: int | None = None):
                fields = {"done": done}
                if total is not None:
                    fields["total"] = total
                _set(job, **fields)

            plan = importer.validate(actor=actor, table=table, errors=errors, progress=progress)
        if errors:
            _set(
                job,
                status=Job.Status.FAILED,
                finished_at=timezone.now(),
                message=_("有 %(n)d 行有误,未导入任何数据") % {"n": len(errors.by_row)},
                result={"errors": errors.as_list(), "imported": 0},
            )
            _audit_failure(job, errors=len(errors.by_row))
            return job
        _set(job, message=_("正在写入"))
        with transaction.atomic():
            summary = importer.apply(actor=actor, plan=plan, job=job)
        _set(
            job,
            status=Job.Status.DONE,
            finished_at=timezone.now(),
            done=job.total,
            message=_("导入成功"),
            result={"errors": [], **summary},
        )
    except DomainError as exc:
        _set(
            job,
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            message=str(exc.message),
            result={"errors": exc.details if isinstance(exc.details, list) else [], "imported": 0},
        )
        _audit_failure(job, errors=len(job.result["errors"]))
    return job


def job_errors_xlsx(job: Job) -> bytes:
    """The uploaded rows again, with an error column; bad rows highlighted."""
    from .tabular import error_report_xlsx

    by_row = {e["row"]: e["errors"] for e in job.result.get("errors", [])}
    with open(job.input_file, "rb") as fh:
        table = read_table(fh, job.params.get("filename", job.input_file))
        rows = list(table.rows)
    if 1 in by_row:
        rows.insert(0, (1, table.headers))
    return error_report_xlsx(table.headers, rows, by_row)
