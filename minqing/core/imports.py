"""All-or-nothing spreadsheet imports, run as background jobs with progress.

An app registers an Importer for its kind. An import runs twice: first as a dry run (read
every row, validate every row, work out what would be created, changed or left as it is)
that stops at PREVIEW with the column mapping and the counts for the user to see; then,
when the user commits it, once more for real (validated again, since the database may
have moved on) and written in one transaction. One bad row: nothing is written, and the
job keeps the bad rows with their reasons (at most IMPORT_MAX_ERRORS of them, the total
counted), shown on the page and as an xlsx of the user's own rows.

Jobs run on Celery with Redis, in a thread started by the app without it (so the page
polls a moving progress bar), or inline in tests. Whatever goes wrong, a job ends FAILED
with a message the user can read; never `running` forever.
"""

import ctypes
import gc
import json
import logging
import os
import pickle
import threading
import uuid
import zlib
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import Conflict, DomainError, NotFoundError, ValidationFailed
from .jobs import heartbeat
from .models import Job
from .permissions import require
from .tabular import ColumnMap, Table, read_table

log = logging.getLogger(__name__)
_IMPORTERS: dict[str, "Importer"] = {}
PROGRESS_EVERY = 5000
STRATEGIES = ("create_update", "create_only")


class ImportBusy(Conflict):
    """Another import of the kind is writing: the job goes back to its preview."""


def max_errors() -> int:
    return getattr(settings, "IMPORT_MAX_ERRORS", 1000)


class RowErrors:
    """Reasons per row number (and the fields at fault); at most max_errors() rows are
    kept, every bad row is counted."""

    def __init__(self, limit: int | None = None):
        self.by_row: dict[int, list[str]] = {}
        self.fields: dict[int, set[str]] = {}
        self.limit = max_errors() if limit is None else limit
        self.total = 0
        self._counted: set[int] = set()

    def add(self, row: int, reason: str, field: str | None = None) -> None:
        reasons = self.by_row.get(row)
        if reasons is None:
            self.total += 1
            if len(self.by_row) >= self.limit:
                if len(self._counted) < 10_000_000:
                    self._counted.add(row)
                return
            if row in self._counted:
                return
            reasons = self.by_row[row] = []
        if len(reasons) < 10:
            reasons.append(str(reason))
        if field:
            self.fields.setdefault(row, set()).add(field)

    def __bool__(self):
        return self.total > 0

    def as_list(self) -> list[dict]:
        return [
            {"row": r, "errors": self.by_row[r], "fields": sorted(self.fields.get(r, ()))}
            for r in sorted(self.by_row)
        ]


class Importer:
    kind = ""
    perm = ""
    label = ""
    template_headers: list[str] = []
    columns: dict[str, tuple[str, ...]] = {}  # field -> accepted headers (first: template's)
    required: tuple = ()
    ignored: tuple[str, ...] = ()  # headers known and skipped (序号)

    def map(self, table: Table, overrides: dict | None) -> ColumnMap:
        from .tabular import map_columns

        return map_columns(
            table.headers, self.columns, self.required, overrides=overrides, ignored=self.ignored
        )

    def validate(self, *, actor, table: Table, cmap: ColumnMap, errors: RowErrors, progress):
        """Return a plan (whatever apply needs); add every problem to `errors`."""
        raise NotImplementedError

    resolve = None  # (actor, plan, errors) -> plan: re-check a kept plan at commit time

    def pack(self, plan):
        """The plan as the file that keeps it between dry run and commit holds it (a few
        flat lists pickle much faster than a million objects)."""
        return plan

    def pack_rows(self, plan):
        """Slices of the plan written after what pack returns, each pickled on its own, so
        a commit may read them back one at a time (rows=… in unpack) instead of all at
        once. None: everything is in pack's."""
        return ()

    def unpack(self, packed, rows=None):
        """The plan from pack's value; `rows()` yields pack_rows' slices again."""
        return packed

    def release(self, plan) -> None:
        """The dry run is done with the plan: break its reference cycles, if any, so it is
        freed at once instead of by a collection over every one of its objects."""

    def lock_paths(self, plan) -> set[str] | None:
        """The area paths (grids) a commit of this plan writes in: commits lock those
        areas (lock_areas), so imports into other areas write at the same time. None:
        commits of this kind write one at a time."""
        return None

    def preview(self, plan) -> dict:
        """What the plan would do, for the page: counts and a sample of the changes."""
        return {}

    def apply(self, *, actor, plan, job: Job, strategy: str) -> dict:
        """Write the plan (inside the import transaction); return a summary."""
        raise NotImplementedError

    def purge(self) -> None:
        """Retention of the importer's own bookkeeping (run with purge_expired_files)."""


# The dry run's parsed and checked rows, kept on disk for the commit that follows (a file
# per job in VAR_DIR/import-plans, readable by the server only): the process that ran the
# dry run (the web process without Redis) does not hold a million-row plan while the user
# reads the preview. A commit that ends (done or failed), a cancel or the retention purge
# deletes the file (a commit refused because another import holds its area keeps it); a
# commit that finds none (or one of another file or mapping) parses the file again.
PLAN_SUFFIX = ".plan"


def _plan_key(job: Job) -> tuple:
    try:
        stat = Path(job.input_file).stat()
    except OSError:
        return ()
    mapping = json.dumps(job.params.get("mapping") or {}, sort_keys=True)
    return (str(job.pk), job.input_file, stat.st_mtime_ns, stat.st_size, mapping)


def plan_dir() -> Path:
    path = Path(settings.VAR_DIR) / "import-plans"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _plan_file(job: Job) -> Path:
    return plan_dir() / f"{job.pk}{PLAN_SUFFIX}"


def _keep(job: Job, plan, rows=()) -> None:
    """Write the plan (head, mapping, pack's value), then each of pack_rows' slices as a
    pickle of its own, then None: the end."""
    path = _plan_file(job)
    tmp = path.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb", buffering=1 << 20) as fh:
            pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
            # No memo: it would hold an entry for each of millions of values (hundreds of
            # MB at a million rows); a packed plan has no cycles and few shared values.
            pickler.fast = True
            pickler.dump((_plan_key(job), plan))
            for part in rows:
                pickler.dump(part)
                pickler.clear_memo()
            pickler.dump(None)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, RecursionError, ValueError):
        log.warning("could not keep the plan of import %s", job.pk, exc_info=True)
        tmp.unlink(missing_ok=True)


def _take(job: Job):
    """(plan, rows): the kept plan and a function yielding its slices from the file, one
    at a time; None when there is none (or it is of another file or mapping)."""
    path = _plan_file(job)
    try:
        with path.open("rb") as fh:
            key, plan = pickle.load(fh)
            start = fh.tell()
    except FileNotFoundError:
        return None
    except Exception:
        log.warning("could not read the kept plan of import %s", job.pk, exc_info=True)
        return None
    if key != _plan_key(job):
        return None

    def rows():
        with path.open("rb", buffering=1 << 20) as fh:
            fh.seek(start)
            unpickler = pickle.Unpickler(fh)
            while (part := unpickler.load()) is not None:
                yield part

    return plan, rows


def _drop(job: Job) -> None:
    _plan_file(job).unlink(missing_ok=True)


# A dry run of fewer rows leaves too little behind to be worth a collection over every
# object of the process (a tenth of a second in a web process).
GIVE_BACK_ROWS = 200_000


def _give_back_memory(rows: int | None = None) -> None:
    """After a large dry run: collect, and hand freed heap pages back to the system
    (glibc keeps them otherwise), so the process does not stay at its peak."""
    if rows is not None and rows < GIVE_BACK_ROWS:
        return
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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


def remembered_mapping(actor, kind: str) -> dict:
    """The columns this user mapped by hand in an earlier file of this kind."""
    job = (
        Job.objects.filter(created_by=actor, kind=kind, params__has_key="mapping")
        .only("params")
        .first()
    )
    return dict(job.params.get("mapping") or {}) if job else {}


def import_start(*, actor, kind: str, upload, params: dict | None = None) -> Job:
    """Keep the uploaded file, create the job and start its dry run."""
    importer = get_importer(kind)
    require(actor, importer.perm)
    name = getattr(upload, "name", "upload.csv") or "upload.csv"
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt", ".xlsm"):
        raise ValidationFailed(_("只支持 .xlsx 或 .csv 文件"))
    size = getattr(upload, "size", None)
    limit = settings.MAX_IMPORT_BYTES
    if size is not None and size > limit:
        raise ValidationFailed(
            _("文件太大(%(size)d MB),上限为 %(max)d MB,请分成几个文件导入")
            % {"size": size // 2**20, "max": limit // 2**20}
        )
    if settings.IMPORT_RUNNER != "celery":
        purge_expired_files()  # no periodic task without Redis: retention runs here
    stored = upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    written = 0
    with stored.open("wb") as out:
        chunks = upload.chunks() if hasattr(upload, "chunks") else iter([upload.read()])
        for chunk in chunks:
            written += len(chunk)
            if written > limit:
                out.close()
                stored.unlink(missing_ok=True)
                raise ValidationFailed(
                    _("文件太大,上限为 %(max)d MB,请分成几个文件导入") % {"max": limit // 2**20}
                )
            out.write(chunk)
    mapping = remembered_mapping(actor, kind)
    job = Job.objects.create(
        kind=kind,
        created_by=actor,
        input_file=str(stored),
        params={"filename": name, "mapping": mapping, **(params or {})},
        message=_("排队中"),
    )
    return _dispatch(job)


def _dispatch(job: Job) -> Job:
    runner = settings.IMPORT_RUNNER
    if runner == "inline":
        return import_run(str(job.pk))
    if runner == "thread":
        # No Redis: a thread of this process does the work after the request commits,
        # so the request returns at once and the page polls a moving progress bar.
        transaction.on_commit(lambda: _start_thread(str(job.pk)))
        return job
    from .tasks import run_import

    transaction.on_commit(lambda: run_import.delay(str(job.pk)))
    return job


def _start_thread(job_id: str) -> None:
    def work():
        close_old_connections()
        try:
            import_run(job_id)
        finally:
            connection.close()

    threading.Thread(target=work, name=f"import-{job_id}", daemon=True).start()


def _owned(actor, job_id) -> Job:
    try:
        return Job.objects.visible_to(actor).get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        raise NotFoundError()


def import_commit(*, actor, job_id, strategy: str = "create_update") -> Job:
    """The user read the preview and commits: validate again and write."""
    if strategy not in STRATEGIES:
        raise ValidationFailed(_("导入方式无效"))
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=_owned(actor, job_id).pk)
        if job.status != Job.Status.PREVIEW:
            raise Conflict(_("这个导入当前不能确认(状态:%(s)s)") % {"s": job.get_status_display()})
        _set(
            job,
            status=Job.Status.PENDING,
            message=_("排队中"),
            params={**job.params, "commit": strategy},
            done=0,
        )
    return _dispatch(job)


def import_remap(*, actor, job_id, mapping: dict[str, str]) -> Job:
    """The user mapped columns by hand (or ignored them): run the dry run again with it.
    The mapping is remembered for this user's next file."""
    from .models import Job as J

    with transaction.atomic():
        job = J.objects.select_for_update().get(pk=_owned(actor, job_id).pk)
        if job.status not in (J.Status.PREVIEW, J.Status.FAILED) or not job.input_file:
            raise Conflict(_("这个导入当前不能修改列对应"))
        if not Path(job.input_file).exists():
            raise Conflict(_("上传的文件已按保存期限删除,请重新上传"))
        importer = get_importer(job.kind)
        clean = {
            str(k)[:100]: (v if v in importer.columns else "")
            for k, v in list(mapping.items())[:200]
        }
        _set(
            job,
            status=J.Status.PENDING,
            message=_("排队中"),
            params={**job.params, "mapping": {**job.params.get("mapping", {}), **clean}},
            result={},
            done=0,
            finished_at=None,
        )
    return _dispatch(job)


def import_cancel(*, actor, job_id) -> Job:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=_owned(actor, job_id).pk)
        if job.status != Job.Status.PREVIEW:
            raise Conflict(_("这个导入当前不能取消"))
        _set(
            job,
            status=Job.Status.CANCELLED,
            finished_at=timezone.now(),
            message=_("已取消,未导入任何数据"),
        )
    _drop(job)  # the kept plan
    return job


def _set(job: Job, **fields) -> None:
    for k, v in fields.items():
        setattr(job, k, v)
    Job.objects.filter(pk=job.pk).update(**fields)


def _fail(job: Job, message: str, **result) -> None:
    _set(
        job,
        status=Job.Status.FAILED,
        finished_at=timezone.now(),
        message=str(message)[:300],
        result={**job.result, "imported": 0, **result},
    )
    _audit_failure(job, errors=job.result.get("error_total", len(job.result.get("errors", []))))


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
    """The body of the background task: the dry run, or the commit when asked for."""
    job = Job.objects.select_related("created_by").get(pk=job_id)
    if job.status != Job.Status.PENDING:
        return job
    busy = False
    # A dry run makes a few objects per row (a million rows: millions of them, most kept
    # to the end); the cyclic collector would go over all of them again and again as they
    # pile up (a fifth of the dry run's time). It is off while the job runs; the importer
    # breaks its own cycles (release) and a collection follows the dry run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with heartbeat(job.pk):
            _run(job)
    except ImportBusy as exc:
        busy = True  # back to the preview: its kept plan stays for the next try
        _set(job, status=Job.Status.PREVIEW, message=str(exc.message))
    except DomainError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        _fail(job, exc.message, errors=details, error_total=len(details))
    except Exception:
        log.exception("import %s failed", job_id)
        _fail(job, _("导入时出现意外错误,未导入任何数据。请检查文件后重试,或联系管理员。"))
    finally:
        if collecting:
            gc.enable()
    if job.params.get("commit") and not busy:
        _drop(job)  # committed or failed: the kept plan is done with
    return job


def _run(job: Job) -> None:
    strategy = job.params.get("commit")
    _set(job, status=Job.Status.RUNNING, message=_("正在校验"), done=0)
    if not strategy:
        _dry_run(job)
        return
    # The commit: checked again and written under the lock of the areas it writes in (of
    # its kind when the importer names none), so what it compares against is what it
    # writes over.
    with transaction.atomic():
        outcome = _check(job, strategy)
        if outcome is None:
            return
        head, preview, plan = outcome
        _set(job, message=_("正在写入"))
        importer = get_importer(job.kind)
        summary = importer.apply(actor=job.created_by, plan=plan, job=job, strategy=strategy)
    _set(
        job,
        status=Job.Status.DONE,
        finished_at=timezone.now(),
        done=job.total,
        message=summary.pop("message", None) or _("导入成功"),
        result={**head, "errors": [], "preview": preview, **summary},
    )


def _dry_run(job: Job) -> None:
    outcome = _check(job, None)
    if outcome is None:
        _give_back_memory(job.total)
        return
    head, preview, plan = outcome
    get_importer(job.kind).release(plan)
    del outcome, plan
    _give_back_memory(job.total)
    _set(
        job,
        status=Job.Status.PREVIEW,
        message=_("校验通过,请确认后导入"),
        done=job.total,
        result={**head, "errors": [], "preview": preview},
    )


def _check(job: Job, strategy: str | None):
    """Validate (or, for a commit after a dry run in this process, re-check the kept
    plan); on bad rows end the job failed and return None."""
    importer = get_importer(job.kind)
    actor = job.created_by
    errors = RowErrors()
    kept = _take(job) if strategy and importer.resolve is not None else None
    if strategy and importer.resolve is None:
        _serialise(job.kind)
    if kept is not None:
        # The rows were parsed and checked by the dry run; check again only what the
        # registry may have changed since.
        (head, cmap, plan), rows = kept
        plan = importer.unpack(plan, rows=rows)
        _set(job, message=_("正在复核"))
        _lock_for(importer, plan, job.kind)
        plan = importer.resolve(actor=actor, plan=plan, errors=errors)
    else:
        with open(job.input_file, "rb") as fh:
            table = read_table(
                fh,
                job.params.get("filename", job.input_file),
                known=[n for names in importer.columns.values() for n in names]
                + list(importer.ignored),
                known_names=[names[0] for names in importer.columns.values()],
            )
            cmap = importer.map(table, job.params.get("mapping"))
            head = {
                "mapping": cmap.describe(),
                "header_row": table.header_row,
                "sheet": table.sheet,
                "fields": {f: names[0] for f, names in importer.columns.items()},
            }
            _set(job, result=head)
            cmap.raise_problems()

            def progress(done: int, total: int | None = None):
                fields = {"done": done}
                if total is not None:
                    fields["total"] = total
                _set(job, **fields)

            plan = importer.validate(
                actor=actor, table=table, cmap=cmap, errors=errors, progress=progress
            )
            if strategy and importer.resolve is not None and not errors:
                # parsed again (a worker that did not run the dry run): lock, then check
                # against the registry again if it moved while the rows were read
                _lock_for(importer, plan, job.kind)
                plan = importer.resolve(actor=actor, plan=plan, errors=errors)
    if errors:
        _fail(
            job,
            _("有 %(n)d 行有误,未导入任何数据") % {"n": errors.total},
            errors=errors.as_list(),
            error_total=errors.total,
            error_fields=_error_columns(errors, cmap),
        )
        return None
    preview = importer.preview(plan)
    if not strategy and importer.resolve is not None:
        _keep(job, (head, cmap, importer.pack(plan)), importer.pack_rows(plan))
    return head, preview, plan


def _error_columns(errors: RowErrors, cmap: ColumnMap) -> dict[str, list[int]]:
    return {
        str(row): sorted(cmap.index[f] for f in fields if f in cmap.index)
        for row, fields in errors.fields.items()
        if row in errors.by_row
    }


def _lock_for(importer: Importer, plan, kind: str) -> None:
    paths = importer.lock_paths(plan)
    if paths is None:
        _serialise(kind)
    else:
        lock_areas(paths)


# An import locks at most this many areas of one level; beyond, their parents instead.
LOCK_FANOUT = 64


def area_lock_plan(paths, fanout: int = LOCK_FANOUT) -> list[tuple[str, bool]]:
    """(path, exclusive) advisory locks for a write into these areas, in the order they
    are taken: multi-granularity locking on the area tree. The areas written in are
    locked exclusively at the village level (a grid's parent), or at a higher level when
    there are more than `fanout` of them; every ancestor of a locked area is locked
    shared. So imports into two villages (or two townships) write at the same time, two
    into the same village wait for each other, and a township's import waits for its
    villages' ones. Taken root first, then by path: never a deadlock."""
    sep = "."  # areas.models.PATH_SEP: a path is the codes from the root, each closed by it
    nodes = {p.rstrip(sep) for p in paths if p}
    # grid -> village: the grid's parent, the unit cadres import for
    nodes = {n.rsplit(sep, 1)[0] if sep in n else n for n in nodes}
    while len(nodes) > fanout:
        parents = {n.rsplit(sep, 1)[0] if sep in n else "" for n in nodes}
        if parents == nodes:
            break
        nodes = parents
    if "" in nodes:
        nodes = {""}  # the whole tree
    shared = set()
    for n in nodes:
        parts = n.split(sep) if n else []
        for i in range(len(parts)):
            shared.add(sep.join(parts[:i]))
    shared -= nodes
    locks = [(p, False) for p in shared] + [(p, True) for p in nodes]
    return sorted(locks, key=lambda lock: (lock[0].count(sep) if lock[0] else -1, lock[0]))


def lock_areas(paths) -> None:
    """Take area_lock_plan's advisory locks (PostgreSQL; until the transaction ends),
    waiting up to IMPORT_LOCK_WAIT seconds, then refusing with ImportBusy."""
    if connection.vendor != "postgresql":
        return
    space = zlib.crc32(b"minqing.import.area") - 2**31
    locks = area_lock_plan(paths)
    _with_lock_wait(
        [
            (
                "SELECT pg_advisory_xact_lock(%s, %s)"
                if exclusive
                else "SELECT pg_advisory_xact_lock_shared(%s, %s)",
                [space, zlib.crc32(path.encode()) - 2**31],
            )
            for path, exclusive in locks
        ]
    )


def _with_lock_wait(statements) -> None:
    wait_ms = int(getattr(settings, "IMPORT_LOCK_WAIT", 600) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_ms}ms"])
        try:
            with transaction.atomic():
                for sql, params in statements:
                    cursor.execute(sql, params)
        except Exception as exc:
            if "lock timeout" in str(exc) or "55P03" in str(getattr(exc, "pgcode", "")):
                raise ImportBusy(_("另一个导入正在写入同一地区,请稍后再确认导入")) from None
            raise
        cursor.execute("SET LOCAL lock_timeout = 0")


def _serialise(kind: str) -> None:
    """Imports of one kind write one at a time: a PostgreSQL advisory lock held until the
    import transaction ends. The second waits up to IMPORT_LOCK_WAIT seconds, then is
    refused with a message (never a deadlock). SQLite serialises writers by itself."""
    if connection.vendor != "postgresql":
        return
    key = zlib.crc32(f"minqing.import.{kind}".encode())
    wait_ms = int(getattr(settings, "IMPORT_LOCK_WAIT", 600) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_ms}ms"])
        try:
            with transaction.atomic():
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        except Exception as exc:
            if "lock timeout" in str(exc) or "55P03" in str(getattr(exc, "pgcode", "")):
                raise ImportBusy(_("另一个导入正在写入,请稍后再确认导入")) from None
            raise
        cursor.execute("SET LOCAL lock_timeout = 0")


def job_errors_xlsx(job: Job, out) -> None:
    """The user's own rows and columns again, the reason in a new column, bad rows tinted
    and the cells at fault highlighted; dates stay dates."""
    from .tabular import error_report_xlsx_to

    by_row = {e["row"]: e["errors"] for e in job.result.get("errors", [])}
    cols = {int(r): set(c) for r, c in job.result.get("error_fields", {}).items()}
    with open(job.input_file, "rb") as fh:
        importer = get_importer(job.kind)
        try:
            table = read_table(
                fh,
                job.params.get("filename", job.input_file),
                known=[n for names in importer.columns.values() for n in names]
                + list(importer.ignored),
                raw=True,
            )
        except DomainError:
            table = None
        if table is None:
            rows = [(r, []) for r in sorted(by_row)]
            headers = []
        else:
            headers = table.headers
            rows = table.rows
        if 0 in by_row or (table and table.header_row in by_row):
            key = 0 if 0 in by_row else table.header_row
            rows = _prepend((key, headers), rows)
        error_report_xlsx_to(out, headers, rows, by_row, cols)


def _prepend(first, rest):
    yield first
    yield from rest


def purge_expired_files(now=None) -> int:
    """Uploaded ledgers hold full IDs: delete each upload and result file
    IMPORT_RETENTION_DAYS after its job ended. Returns how many jobs were purged."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.IMPORT_RETENTION_DAYS)
    # Dry runs the user never confirmed expire the same way.
    Job.objects.filter(status=Job.Status.PREVIEW, created_at__lt=cutoff).update(
        status=Job.Status.CANCELLED, finished_at=now, message=_("预览已过期,未导入任何数据")
    )
    due = list(
        Job.objects.filter(finished_at__lt=cutoff)
        .exclude(input_file="", result_file="")
        .values_list("pk", "input_file", "result_file")[:1000]
    )
    for _pk, *files in due:
        for name in files:
            if name:
                try:
                    Path(name).unlink(missing_ok=True)
                except OSError:
                    log.warning("could not delete %s", name)
    Job.objects.filter(pk__in=[pk for pk, *_f in due]).update(input_file="", result_file="")
    # Kept plans hold full IDs too: gone with their preview.
    for path in plan_dir().glob(f"*{PLAN_SUFFIX}"):
        try:
            if path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
        except OSError:
            pass
    for importer in _IMPORTERS.values():
        importer.purge()
    return len(due)
