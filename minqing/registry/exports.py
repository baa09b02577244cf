"""Spreadsheet export of any filtered household or resident list (the same filters as the
list pages and the API), with 身份证号 and phones masked.

Rows come from the registry selectors (so the export answers exactly what the list shows,
within jurisdiction), are read in chunks with two extra queries per chunk, and stream
into a write-only workbook on disk: memory stays flat for a county's whole registry.
Every export writes one audit event with its filters and row count.
"""

import tempfile
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.areas.models import Area
from minqing.core.audit import audit_record
from minqing.core.masking import age_on, mask_id_number, mask_phone
from minqing.core.permissions import require
from minqing.core.tabular import write_xlsx_to

from .imports import TEMPLATE_EXAMPLE, TEMPLATE_HEADERS
from .models import Relation, Resident, ResidentStatus, TagPeriod
from .selectors import household_search, resident_search

CHUNK = 2000

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


def registry_export(*, actor, kind: str, filters: ExportFilters) -> Export:
    """Export households or residents matching the list filters, masked, and audit it.

    A grid id the actor cannot see answers 404 (as on every other endpoint), rather than
    an empty sheet that would hide a forged or stale link.
    """
    require(actor, "registry.export")
    area = None
    if filters.grid_id is not None:
        area = Area.objects.visible_to(actor).filter(pk=filters.grid_id).first()
        if area is None:
            raise Http404
    search = household_search if kind == "households" else resident_search
    qs = search(
        fetched_by=actor,
        q=filters.q,
        grid_id=filters.grid_id,
        tag=filters.tag,
        status=filters.status,
    )
    if kind == "households":
        headers, rows, title = HOUSEHOLD_HEADERS, household_rows(qs), _("户")
    else:
        headers, rows, title = RESIDENT_HEADERS, resident_rows(qs), _("居民")
    counter = _Counter(rows)
    fh = write_xlsx_file(headers, counter, title=title)
    audit_record(
        actor=actor,
        action="registry.export",
        area=area if area is not None else _home_area(actor),
        detail={"kind": kind, "filters": filters.as_dict(), "rows": counter.n},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return Export(file=fh, filename=f"{_('户籍台账')}-{title}-{stamp}.xlsx", rows=counter.n)


def import_template() -> bytes:
    """An empty ledger in the import's shape, with two example rows."""
    fh = write_xlsx_file(TEMPLATE_HEADERS, TEMPLATE_EXAMPLE, title=_("户籍台账"))
    with fh:
        return fh.read()


def household_rows(qs):
    """One row per household: masked head ID and phone, living members, current tags."""
    values = qs.values_list(
        "pk",
        "number",
        "grid__code",
        "grid__name",
        "address",
        "head__name",
        "head__id_number",
        "phone",
        "notes",
    )
    for chunk in _chunked(values.iterator(chunk_size=CHUNK)):
        ids = [r[0] for r in chunk]
        living = dict(
            Resident.objects.filter(household_id__in=ids, status=ResidentStatus.LIVING)
            .values("household_id")
            .annotate(n=Count("id"))
            .values_list("household_id", "n")
        )
        tags = defaultdict(list)
        for household_id, tag in (
            TagPeriod.objects.current()
            .filter(household_id__in=ids)
            .order_by("tag__order", "tag__name")
            .values_list("household_id", "tag__name")
        ):
            if tag not in tags[household_id]:
                tags[household_id].append(tag)
        for pk, number, code, grid, address, head, head_id, phone, notes in chunk:
            yield (
                number,
                code,
                grid,
                address,
                head or "",
                mask_id_number(head_id),
                mask_phone(phone),
                living.get(pk, 0),
                "、".join(tags.get(pk, ())),
                notes,
            )


def resident_rows(qs):
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
    for chunk in _chunked(values.iterator(chunk_size=CHUNK)):
        ids = [r[0] for r in chunk]
        households = {r[1] for r in chunk}
        own, shared = defaultdict(list), defaultdict(list)
        for resident_id, household_id, tag in (
            TagPeriod.objects.current()
            .filter(Q(resident_id__in=ids) | Q(resident__isnull=True, household_id__in=households))
            .order_by("tag__order", "tag__name")
            .values_list("resident_id", "household_id", "tag__name")
        ):
            (own[resident_id] if resident_id else shared[household_id]).append(tag)
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
                mask_id_number(idn),
                relations.get(rel, rel),
                mask_phone(phone),
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
    def __init__(self, rows):
        self.rows = rows
        self.n = 0

    def __iter__(self):
        for row in self.rows:
            self.n += 1
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


def _home_area(actor):
    """The audit event of an unfiltered export hangs on the actor's (first) area."""
    return (
        Area.objects.filter(pk__in=actor.jurisdictions.values("area_id")).order_by("path").first()
    )
