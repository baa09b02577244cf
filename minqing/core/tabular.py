"""Reading and writing the spreadsheets cadres keep (xlsx and csv, header row in Chinese)."""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.http import HttpResponse
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill

from .errors import ValidationFailed

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number as the user sees it, cells)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves CSV as GBK; everything else is UTF-8 (maybe with BOM).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(_("无法识别文件编码,请另存为 UTF-8 或 xlsx"))


def read_table(fileobj, filename: str) -> Table:
    """Header row plus numbered data rows; blank rows are skipped."""
    name = filename.lower()
    if name.endswith(".csv") or name.endswith(".txt"):
        text = _decode(fileobj.read())
        reader = csv.reader(io.StringIO(text))
        try:
            headers = [_cell(h) for h in next(reader)]
        except StopIteration:
            raise ValidationFailed(_("文件是空的"))

        def rows():
            for number, row in enumerate(reader, start=2):
                cells = [_cell(c) for c in row]
                if any(cells):
                    yield number, cells

        return Table(headers=headers, rows=rows())
    if name.endswith(".xlsx") or name.endswith(".xlsm"):
        try:
            wb = load_workbook(fileobj, read_only=True, data_only=True)
        except Exception:
            raise ValidationFailed(_("无法读取 Excel 文件,请确认是 .xlsx 格式"))
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        try:
            headers = [_cell(h) for h in next(it)]
        except StopIteration:
            raise ValidationFailed(_("文件是空的"))

        def xrows():
            for number, row in enumerate(it, start=2):
                cells = [_cell(c) for c in row]
                if any(cells):
                    yield number, cells
            wb.close()

        return Table(headers=headers, rows=xrows())
    raise ValidationFailed(_("只支持 .xlsx 或 .csv 文件"))


def map_columns(headers: list[str], columns: dict[str, tuple[str, ...]], required: set[str]):
    """Find each field's column by its Chinese header (or an alias); name missing ones."""
    normalized = [h.replace(" ", "").replace("*", "") for h in headers]
    index = {}
    for field, names in columns.items():
        for name in names:
            if name in normalized:
                index[field] = normalized.index(name)
                break
    missing = [columns[f][0] for f in required if f not in index]
    if missing:
        raise ValidationFailed(
            _("缺少必需的列:%(cols)s") % {"cols": "、".join(sorted(missing))},
            details=[{"row": 1, "errors": [_("缺少列 %(c)s") % {"c": c} for c in missing]}],
        )
    return index


def pick(cells: list[str], index: dict[str, int], field: str) -> str:
    i = index.get(field)
    return cells[i] if i is not None and i < len(cells) else ""


def write_xlsx_to(
    out,
    headers,
    rows: Iterable[Iterable],
    *,
    title: str = "Sheet1",
    caption: str = "",
    widths: list[int] | None = None,
) -> None:
    """Stream rows into a write-only workbook saved to `out` (constant memory for big
    exports). Text starting with "=" stays text, never a formula in the reader's Excel.
    `caption` is a first line above the header (what was exported, with which filter);
    `widths` sets the columns' widths; the header row stays frozen when scrolling."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    bold = Font(bold=True)
    for i, width in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3" if caption else "A2"
    if caption:
        first = WriteOnlyCell(ws, value=caption)
        first.data_type = "s"
        ws.append([first])

    def text(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell

    header_cells = []
    for h in headers:
        c = WriteOnlyCell(ws, value=str(h))
        c.font = bold
        header_cells.append(c)
    ws.append(header_cells)
    for row in rows:
        ws.append([text(v) if isinstance(v, str) and v[:1] == "=" else v for v in row])
    wb.save(out)


def write_xlsx(headers: list[str], rows: Iterable[Iterable], *, title: str = "Sheet1") -> bytes:
    buf = io.BytesIO()
    write_xlsx_to(buf, headers, rows, title=title)
    return buf.getvalue()


def error_report_xlsx(headers: list[str], rows: list[tuple[int, list[str]]], errors: dict) -> bytes:
    """The user's own rows with an error column added, bad rows highlighted."""
    wb = Workbook()
    ws = wb.active
    ws.title = "errors"
    ws.append([_("行号"), *headers, _("错误原因")])
    red = PatternFill("solid", fgColor="FFD7D7")
    for number, cells in rows:
        reasons = errors.get(number)
        ws.append([number, *cells, "；".join(reasons) if reasons else ""])
        if reasons:
            for cell in ws[ws.max_row]:
                cell.fill = red
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    from urllib.parse import quote

    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response
