"""Spreadsheet export of any filtered household or resident list (the same filters as the
list pages and the API), with 身份证号 and phones masked.

Rows come from the registry selectors (so the export answers exactly what the list shows,
within jurisdiction), are read in chunks with two extra queries per chunk, and stream
into a write-only workbook on disk: memory stays flat for a county's whole registry.
Every export writes one audit event with its filters and row count.
"""

import io
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.areas.models import Area
from minqing.core.audit import audit_record
from minqing.core.dbcursor import ids_condition, prepared_cursor
from minqing.core.jobs import heartbeat
from minqing.core.masking import age_on, mask_id_number, mask_phone
from minqing.core.models import Job
from minqing.core.permissions import require
from minqing.core.tabular import write_sheets_to, write_xlsx_to

from .models import Relation, ResidentStatus, Tag, TagPeriod
from .selectors import (
    household_list_statement,
    household_search,
    living_members,
    resident_search,
)

CHUNK = 2000
EXPORT_JOB = "registry.export"

HOUSEHOLD_HEADERS = [
    "户编号",
    "网格代码",
    "网格",
    "住址",
    "户主",
    "户主身份证号",
    "联系电话",
    "在住人数",
    "标签",
    "备注",
]
RESIDENT_HEADERS = [
    "网格代码",
    "网格",
    "户编号",
    "住址",
    "姓名",
    "性别",
    "年龄",
    "身份证号",
    "与户主关系",
    "手机号",
    "状态",
    "标签",
]


@dataclass
class ExportFilters:
    q: str = ""
    grid_id: int | None = None
    tag: str | None = None
    status: str | None = None

    @classmethod
    def from_params(cls, params) -> "ExportFilters":
        """From a query string (page) or keyword arguments (API); a malformed grid id is 404."""
        grid = params.get("grid_id") or None
        try:
            grid = int(grid) if grid is not None else None
        except (TypeError, ValueError):
            raise Http404
        return cls(
            q=(params.get("q") or "").strip(),
            grid_id=grid,
            tag=params.get("tag") or None,
            status=params.get("status") or None,
        )

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class Export:
    file: object  # an open temporary file holding the workbook, at position 0
    filename: str
    rows: int


HOUSEHOLD_WIDTHS = [22, 17, 16, 34, 10, 22, 15, 9, 24, 20]
RESIDENT_WIDTHS = [17, 16, 22, 34, 10, 6, 12, 22, 11, 15, 8, 24]
# Exports above this many rows leave the request: a background job with a progress page.
EXPORT_INLINE_ROWS = 3000


def _export_area(actor, filters: "ExportFilters"):
    """The filtered area (404 when not visible: a forged or stale link, not an empty sheet)."""
    if filters.grid_id is None:
        return None
    area = Area.objects.visible_to(actor).filter(pk=filters.grid_id).first()
    if area is None:
        raise Http404
    return area


def _export_qs(actor, kind, filters):
    search = household_search if kind == "households" else resident_search
    return search(
        fetched_by=actor,
        q=filters.q,
        grid_id=filters.grid_id,
        tag=filters.tag,
        status=filters.status,
    )


def _held_areas(actor) -> list:
    """The actor's jurisdiction areas, highest first (path order): from the paths the
    session keeps and the process's copy of the areas (areas.selectors.held_areas), read
    for a superuser (whose scope is not their jurisdictions)."""
    if not actor.is_superuser:
        from minqing.areas.selectors import held_areas

        return held_areas(actor)
    return list(Area.objects.filter(pk__in=actor.jurisdictions.values("area_id")).order_by("path"))


def describe(*, actor, kind: str, filters: "ExportFilters", area, held=None) -> tuple[str, str]:
    """(first line of the sheet, words for the file name): area, filters and date. `held`:
    the actor's jurisdiction areas when already read."""
    from .selectors import HOUSEHOLD_EMPTY

    if area is not None:
        place = area.name
    else:
        held = _held_areas(actor) if held is None else held
        place = "、".join(a.name for a in held) or _("全部辖区")
    words = []
    if filters.tag:
        tag = Tag.objects.filter(code=filters.tag).first()
        words.append(tag.name if tag else filters.tag)
    if filters.status:
        labels = {
            **{v: str(lbl) for v, lbl in ResidentStatus.choices},
            HOUSEHOLD_EMPTY: _("无在住成员"),
        }
        words.append(labels.get(filters.status, filters.status))
    if filters.q:
        words.append(_("搜索“%(q)s”") % {"q": filters.q})
    what = _("户") if kind == "households" else _("居民")
    now = timezone.localtime()
    caption = _("%(what)s台账 · 区域：%(place)s · 筛选：%(f)s · 导出于 %(at)s") % {
        "what": what,
        "place": place,
        "f": "，".join(words) or _("无"),
        "at": now.strftime("%Y-%m-%d %H:%M"),
    }
    name = "-".join([f"{what}台账", place[:40], *words, now.strftime("%Y%m%d")])
    for bad in '/\\:*?"<>|':
        name = name.replace(bad, "_")
    return caption, f"{name}.xlsx"


def export_size(*, actor, kind: str, filters: "ExportFilters") -> int:
    """Rows the export will hold: from the kept summaries when the filters allow, else
    counted (so the view can choose between answering now and a background job)."""
    from .selectors import kept_count

    require(actor, "registry.export")
    _export_area(actor, filters)
    known = kept_count(
        fetched_by=actor,
        kind=kind,
        q=filters.q,
        grid_id=filters.grid_id,
        tag=filters.tag,
        status=filters.status,
    )
    return known if known is not None else _export_qs(actor, kind, filters).count()


def registry_export(
    *,
    actor,
    kind: str,
    filters: ExportFilters,
    reveal_reason: str = "",
    progress=None,
    out=None,
    inline: bool = False,
) -> Export:
    """Export households or residents matching the list filters, masked, and audit it.

    With `reveal_reason` (roles with the reveal right only) the residents' IDs and phones
    are written in full: the ledger cadres correct and import again. Audited with the
    reason typed. `progress(done)` is called every chunk; `out` is a file to write to
    (else a temporary file). A grid id the actor cannot see answers 404 (as on every other
    endpoint), rather than an empty sheet that would hide a forged or stale link.
    `inline`: answered in the request (at most EXPORT_INLINE_ROWS rows), read at once.
    """
    require(actor, "registry.export")
    reveal_reason = (reveal_reason or "").strip()[:200]
    if reveal_reason:
        require(actor, "registry.reveal_id")
    area = _export_area(actor, filters)
    if kind == "households":
        if inline:
            rows = household_rows(None, values=_inline_household_values(actor, filters))
        else:
            rows = household_rows(_export_qs(actor, kind, filters))
        headers, rows, title, widths = (
            HOUSEHOLD_HEADERS,
            rows,
            _("户"),
            HOUSEHOLD_WIDTHS,
        )
    else:
        qs = _export_qs(actor, kind, filters)
        headers, rows, title, widths = (
            RESIDENT_HEADERS,
            resident_rows(qs, reveal=bool(reveal_reason), stream=not inline),
            _("居民"),
            RESIDENT_WIDTHS,
        )
    # an unfiltered export names the actor's areas and its audit event hangs on the first
    held = _held_areas(actor) if area is None else None
    caption, filename = describe(actor=actor, kind=kind, filters=filters, area=area, held=held)
    counter = _Counter(rows, progress)
    fh = out if out is not None else tempfile.TemporaryFile(suffix=".xlsx")
    write_xlsx_to(fh, headers, counter, title=title, caption=caption, widths=widths)
    fh.seek(0)
    audit_record(
        actor=actor,
        action="registry.export",
        area=area if area is not None else (held[0] if held else None),
        detail={
            "kind": kind,
            "filters": filters.as_dict(),
            "rows": counter.n,
            **({"unmasked": True, "reason": reveal_reason} if reveal_reason else {}),
        },
    )
    return Export(file=fh, filename=filename, rows=counter.n)


def export_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_start(*, actor, kind: str, filters: ExportFilters, total: int) -> Job:
    """A big export as a background job (Celery with Redis, else a thread): the request
    returns at once to the job page, which shows progress and then the download link."""
    require(actor, "registry.export")
    _export_area(actor, filters)
    job = Job.objects.create(
        kind=EXPORT_JOB,
        created_by=actor,
        total=total,
        params={
            "kind": kind,
            "filters": filters.as_dict(),
            "filename": _("导出") + " · " + (_("户") if kind == "households" else _("居民")),
        },
        message=_("排队中"),
    )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        thread = threading.Thread(target=_run_in_thread, args=(str(job.pk),), daemon=True)
        transaction.on_commit(thread.start)
    else:
        from .tasks import run_export

        transaction.on_commit(lambda: run_export.delay(str(job.pk)))
    return job


def _run_in_thread(job_id: str) -> None:
    from django.db import connection

    try:
        export_run(job_id)
    finally:
        connection.close()


def export_run(job_id: str) -> Job:
    """The body of the export job: write the workbook to the media directory."""
    job = Job.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        return job
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, message=_("正在导出"))
    path = export_dir() / f"{job.pk}.xlsx"

    def progress(done):
        Job.objects.filter(pk=job.pk).update(done=done)

    try:
        with heartbeat(job.pk), path.open("w+b") as out:
            export = registry_export(
                actor=job.created_by,
                kind=job.params["kind"],
                filters=ExportFilters.from_params(job.params["filters"]),
                progress=progress,
                out=out,
            )
    except Exception:  # the page must say it failed rather than spin forever
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, finished_at=timezone.now(), message=_("导出失败")
        )
        raise
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE,
        finished_at=timezone.now(),
        done=export.rows,
        total=export.rows,
        message=_("导出完成"),
        result={"download": str(path), "filename": export.filename, "rows": export.rows},
    )
    job.refresh_from_db()
    return job


def import_template(actor=None) -> bytes:
    """The ledger in the import's shape with two example rows marked 示例 (refused if
    uploaded unchanged), and a second sheet listing the user's own grids and codes."""
    from .imports import template_sheets

    buf = io.BytesIO()
    write_sheets_to(buf, template_sheets(actor))
    return buf.getvalue()


def _fetch(values, stream: bool):
    """The rows in chunks: through a server-side cursor when streaming (a job's export of a
    county), else read at once (an export answered in the request: a few thousand rows at
    most, no cursor to declare, fetch from and close)."""
    return values.iterator(chunk_size=CHUNK) if stream else iter(list(values))


HOUSEHOLD_COLUMNS = (
    *("pk", "number", "grid__code", "grid__name", "address", "head__name", "head__id_number"),
    *("phone", "notes", "living_count"),
)


def _inline_household_values(actor, filters: "ExportFilters") -> list:
    """An export answered in the request: household_search's rows from the household list's
    statement, compiled once per shape of search (selectors.household_list_statement),
    not built and compiled by the ORM per request. The same rows and order."""
    statement = household_list_statement(
        fetched_by=actor,
        columns=HOUSEHOLD_COLUMNS,
        q=filters.q,
        grid_id=filters.grid_id,
        tag=filters.tag,
        status=filters.status,
    )
    return statement[0 : 2**62]


def _household_tags(ids) -> dict[int, list[str]]:
    """The current tags of these households and their members, by household, in tag order,
    each name once: one prepared statement for any chunk (dbcursor.ids_condition; the ids
    come from a scoped query), not an ORM query built and planned per chunk."""
    cond, params = ids_condition("tp.household_id", ids)
    with prepared_cursor() as cur:
        cur.execute(
            "SELECT tp.household_id, t.name FROM registry_tagperiod tp"
            " JOIN registry_tag t ON t.id = tp.tag_id"
            f' WHERE tp.end_date IS NULL AND {cond} ORDER BY t."order", t.name',
            params,
        )
        found = cur.fetchall()
    tags = defaultdict(list)
    for household_id, tag in found:
        if tag not in tags[household_id]:
            tags[household_id].append(tag)
    return tags


def household_rows(qs, *, stream: bool = True, values=None):
    """One row per household: masked head ID and phone, living members, current tags.
    `values`: the rows of HOUSEHOLD_COLUMNS already read (an inline export), else read
    from `qs`."""
    if values is None:
        values = _fetch(
            qs.annotate(living_count=living_members()).values_list(*HOUSEHOLD_COLUMNS), stream
        )
    for chunk in _chunked(values):
        tags = _household_tags([r[0] for r in chunk])
        for pk, number, code, grid, address, head, head_id, phone, notes, living in chunk:
            yield (
                number,
                code,
                grid,
                address,
                head or "",
                mask_id_number(head_id),
                mask_phone(phone),
                living,
                "、".join(tags.get(pk, ())),
                notes,
            )


def resident_rows(qs, *, reveal: bool = False, stream: bool = True):
    """One row per resident, masked; tags are the person's own and their household's."""
    relations = {value: str(label) for value, label in Relation.choices}
    statuses = {value: str(label) for value, label in ResidentStatus.choices}
    genders = {"M": _("男"), "F": _("女")}
    values = qs.values_list(
        "pk",
        "household_id",
        "household__grid__code",
        "household__grid__name",
        "household__number",
        "household__address",
        "name",
        "gender",
        "birth_date",
        "id_number",
        "relation",
        "phone",
        "status",
        "status_date",
    )
    today = timezone.localdate()
    for chunk in _chunked(_fetch(values, stream)):
        ids = [r[0] for r in chunk]
        households = {r[1] for r in chunk}
        own, shared = defaultdict(list), defaultdict(list)
        # Two indexed lookups (by resident, by household), not one OR that scans the
        # whole tag history for every chunk.
        periods = TagPeriod.objects.current().order_by("tag__order", "tag__name")
        for resident_id, tag in periods.filter(resident_id__in=ids).values_list(
            "resident_id", "tag__name"
        ):
            own[resident_id].append(tag)
        for household_id, tag in periods.filter(
            resident__isnull=True, household_id__in=households
        ).values_list("household_id", "tag__name"):
            shared[household_id].append(tag)
        for row in chunk:
            pk, hh, code, grid, number, address, name, gender, birth, idn, rel, phone, st, on = row
            # The age, not the birth date (core.masking); at death for the deceased.
            age = age_on(birth, on if st == ResidentStatus.DECEASED and on else today)
            yield (
                code,
                grid,
                number,
                address,
                name,
                genders.get(gender, ""),
                age,
                idn if reveal else mask_id_number(idn),
                relations.get(rel, rel),
                phone if reveal else mask_phone(phone),
                statuses.get(st, st),
                "、".join([*shared.get(hh, ()), *own.get(pk, ())]),
            )


def write_xlsx_file(headers, rows, *, title: str):
    """Rows streamed into a workbook in a temporary file (deleted on close)."""
    fh = tempfile.TemporaryFile(suffix=".xlsx")
    write_xlsx_to(fh, headers, rows, title=title)
    fh.seek(0)
    return fh


class _Counter:
    def __init__(self, rows, progress=None):
        self.rows = rows
        self.n = 0
        self.progress = progress

    def __iter__(self):
        for row in self.rows:
            self.n += 1
            if self.progress is not None and self.n % CHUNK == 0:
                self.progress(self.n)
            yield row


def _chunked(iterator, size: int = CHUNK):
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
