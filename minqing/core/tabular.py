"""Reading and writing the spreadsheets cadres keep (xlsx and csv, header row in Chinese).

Reading streams (xlsx through core.xlsx_reader, optionally in a child process for a large
sheet, openpyxl read_only where it cannot; csv through an incremental decoder) and checks the
limits as it goes: rows, columns, cell size, and a long run of blank rows ends the sheet.
The header may be on any of the first ten rows of any sheet: the row whose cells match
the importer's known column names best is the header, and every row keeps the number
Excel shows for it. Writing goes through one formula-safe writer (exports, templates and
error reports alike).
"""

import codecs
import csv
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from .errors import ValidationFailed
from .xlsx_writer import Styled, write_sheets

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_SEARCH_ROWS = 10
# A ledger has no thousand blank rows in a row; a sheet that does (formatting dragged to
# row 1,048,576) ends there instead of being read to its last empty row.
BLANK_RUN_ENDS_SHEET = 1000


def max_rows() -> int:
    return getattr(settings, "IMPORT_MAX_ROWS", 1_100_000)


def max_columns() -> int:
    return getattr(settings, "IMPORT_MAX_COLUMNS", 100)


def max_cell_chars() -> int:
    return getattr(settings, "IMPORT_MAX_CELL_CHARS", 2000)


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number as Excel shows it, cells)
    header_row: int = 1
    sheet: str = ""
    raw: bool = False
    extra: dict = field(default_factory=dict)


# Full-width ASCII (Ｕ+FF01..FF5E) and the ideographic space become half-width.
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20


def half_width(value: str) -> str:
    """１８３、ＡＢＣ、（） as 183, ABC, (): what cadres type with a Chinese input method."""
    return value.translate(_FULL_WIDTH)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if abs(value) >= 1e15:
            # An 18-digit 身份证号 kept as a number has lost its last digits: say so
            # (the rules see the exponent) instead of inventing zeros.
            return format(value, ".6E")
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _raw(value):
    """For the error report: the user's value, dates kept as dates."""
    if isinstance(value, str):
        return value.strip()
    return value


def header_key(text: str) -> str:
    """A header cell compared as a column name: half-width, no spaces, marks or notes."""
    text = half_width(str(text or ""))
    text = re.sub(r"[\s*＊:：()（）\[\]【】]", "", text.split("(")[0].split("（")[0])
    return text.replace("\n", "")


def _too_long(rowno: int, col: int, n: int):
    return ValidationFailed(
        _("第 %(row)d 行第 %(col)d 列的内容有 %(n)d 个字,超过上限 %(max)d,请检查文件")
        % {"row": rowno, "col": col + 1, "n": n, "max": max_cell_chars()}
    )


def _check_row(rowno: int, row, limits: tuple[int, int] | None = None) -> None:
    cell_limit, column_limit = limits or (max_cell_chars(), max_columns())
    try:
        # a csv row (all text) or an xlsx row of text and empty cells: checked in C
        longest = max(map(len, filter(None, row)), default=0)
    except TypeError:  # xlsx cells: numbers, dates among the text
        longest = max(map(len, [v for v in row if v.__class__ is str]), default=0)
    if longest > cell_limit:
        for i, value in enumerate(row):
            if isinstance(value, str) and len(value) > cell_limit:
                raise _too_long(rowno, i, len(value))
    if len(row) > column_limit:
        extra = [v for v in row[column_limit:] if v not in (None, "")]
        if extra:
            raise ValidationFailed(
                _("第 %(row)d 行超过 %(max)d 列,请删去多余的列")
                % {"row": rowno, "max": column_limit}
            )


def _blank(row) -> bool:
    if row and row[0] not in (None, "") and not (isinstance(row[0], str) and not row[0].strip()):
        return False  # the common case: a first cell with something in it
    for v in row:
        if v is not None and v != "" and not (isinstance(v, str) and not v.strip()):
            return False
    return True


def _numbered(
    raw_rows: Iterator, start: int, convert, width: int = 0
) -> Iterator[tuple[int, list]]:
    """(Excel row number, converted cells) of the non-blank rows, checking the limits;
    rows shorter than `width` are padded to it (the error report's reason column)."""
    blank_run = 0
    empty = convert(None) if width else None
    columns = max_columns()
    limits = (max_cell_chars(), columns)  # read once, not from settings every row
    seen = 0
    limit = max_rows()
    for number, row in enumerate(raw_rows, start=start):
        if _blank(row):
            blank_run += 1
            if blank_run >= BLANK_RUN_ENDS_SHEET:
                return
            continue
        blank_run = 0
        _check_row(number, row, limits)
        seen += 1
        if seen > limit:
            raise ValidationFailed(_("文件超过 %(max)d 行,请分成几个文件导入") % {"max": limit})
        if convert is _cell:  # text and empty cells, the common case, without a call
            cells = [
                c.strip() if c.__class__ is str else "" if c is None else _cell(c)
                for c in row[:columns]
            ]
        else:
            cells = [convert(c) for c in row[:columns]]
        if len(cells) < width:
            cells += [empty] * (width - len(cells))
        yield number, cells


def _score(cells, known: set[str]) -> int:
    return sum(1 for c in cells if c and header_key(c) in known)


def _find_header(candidates, known: set[str]):
    """Of (sheet, [(rowno, cells)...]) pick the (sheet, index) whose row names most known
    columns; ties go to the first sheet, then the upper row."""
    best = None
    for s, rows in enumerate(candidates):
        for i, (_n, cells) in enumerate(rows):
            score = _score([_cell(c) for c in cells], known)
            if score and (best is None or score > best[0]):
                best = (score, s, i)
    return best


def _no_header(found: list[str], known_names: list[str] | None):
    found = [f for f in found if f][:20]
    expected = "、".join(known_names or [])
    return ValidationFailed(
        _("找不到表头:前 %(n)d 行中没有可识别的列名。找到的是:%(found)s;应包含:%(expected)s")
        % {"n": HEADER_SEARCH_ROWS, "found": "、".join(found) or "—", "expected": expected}
    )


# ---------------------------------------------------------------- csv


def _csv_encoding(fileobj) -> str:
    """Excel on Chinese Windows saves CSV as GBK; everything else is UTF-8 (maybe with BOM)."""
    head = fileobj.read(65536)
    fileobj.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise ValidationFailed(_("无法识别文件编码,请另存为 UTF-8 或 xlsx"))


def _csv_lines(text) -> Iterator[str]:
    """Lines of bounded length: one endless line is a refusal, not an out-of-memory."""
    limit = max_cell_chars() * max_columns()
    while True:
        try:
            line = text.readline(limit + 1)
        except UnicodeDecodeError:
            raise ValidationFailed(_("文件中有无法识别的字符,请另存为 UTF-8 或 xlsx"))
        if not line:
            return
        if len(line) > limit and not line.endswith("\n"):
            raise ValidationFailed(_("文件中有一行过长(超过 %(n)d 个字),请检查文件") % {"n": limit})
        yield line


def _csv_rows(fileobj) -> Iterator[list[str]]:
    encoding = _csv_encoding(fileobj)
    text = io.TextIOWrapper(fileobj, encoding=encoding, newline="")
    csv.field_size_limit(max(max_cell_chars() * 2, 131072))
    reader = csv.reader(_csv_lines(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                _("第 %(row)d 行无法读取:%(e)s") % {"row": reader.line_num, "e": exc}
            )
        yield row


def _read_csv(fileobj, known, known_names, raw) -> Table:
    rows = _csv_rows(fileobj)
    head = []
    for n in range(1, HEADER_SEARCH_ROWS + 1):
        try:
            head.append((n, next(rows)))
        except StopIteration:
            break
    if not any(any(c.strip() for c in r) for _n, r in head):
        raise ValidationFailed(_("文件是空的"))
    index = 0
    if known:
        best = _find_header([head], known)
        if best is None:
            raise _no_header([_cell(c) for _n, r in head for c in r], known_names)
        index = best[2]
    else:
        while index < len(head) and _blank(head[index][1]):
            index += 1
    header_row, header_cells = head[index]
    _check_row(header_row, header_cells)
    rest = (r for _n, r in head[index + 1 :])

    def chained():
        yield from rest
        yield from rows

    convert = _raw if raw else str.strip  # csv cells are all text: strip in C
    return Table(
        headers=[_cell(h) for h in header_cells[: max_columns()]],
        rows=_numbered(chained(), header_row + 1, convert),
        header_row=header_row,
        raw=raw,
    )


# ---------------------------------------------------------------- xlsx


def _text_run_over(fh, limit: int) -> bool:
    """Whether an XML stream holds a run of more than `limit` bytes between two '<' (it
    bounds every cell's text), read in chunks; a giant cell costs one chunk. Within a
    chunk a regex looks for a '<' followed by limit + 1 other bytes (the '<' found by a
    fast search, each run read once, no object per run)."""
    over = re.compile(b"<[^<]{%d}" % (limit + 1))
    carry = 0  # the run the last chunk ended in
    while chunk := fh.read(1 << 20):
        first = chunk.find(b"<")
        if first < 0:
            carry += len(chunk)
            if carry > limit:
                return True
            continue
        if carry + first > limit or over.search(chunk):
            return True
        carry = len(chunk) - chunk.rfind(b"<") - 1
    return False


def _cell_run_limit() -> int:
    """The most bytes a cell's text may take in the XML: UTF-8 takes at most 4 bytes a
    character; every parsed cell is then checked in characters."""
    return max_cell_chars() * 4 + 200


def _cell_too_large():
    return ValidationFailed(
        _("文件中有一个单元格的内容超过 %(max)d 个字,请检查文件") % {"max": max_cell_chars()}
    )


def _cells_bounded(archive: zipfile.ZipFile) -> None:
    """openpyxl builds each text node whole (and the shared strings all at once): refuse a
    giant cell, in the shared strings or inline in a sheet, before it does. (The fast
    reader makes the same check as it reads the parts: open_workbook's run_limit.)"""
    stop_at = _cell_run_limit()
    for info in archive.infolist():
        name = info.filename.lower()
        if not name.endswith(".xml") or info.file_size <= stop_at:
            continue
        if "sharedstrings" not in name and "worksheets/" not in name:
            continue
        with archive.open(info) as fh:
            if _text_run_over(fh, stop_at):
                raise _cell_too_large()


def max_xlsx_part_bytes() -> int:
    """The most one part of an xlsx package (a sheet, the shared strings) may inflate to."""
    return getattr(settings, "IMPORT_MAX_XLSX_PART_BYTES", 1536 * 2**20)


def _unreadable():
    return ValidationFailed(_("无法读取 Excel 文件,请确认是 .xlsx 格式"))


def _bad_number(sheet: str, row: int, col: int | None = None, text: str = ""):
    """A number cell that is no number (inf, nan, 1e999): the sheet, row and column."""
    from openpyxl.utils import get_column_letter

    if col is None:  # openpyxl's reader says which row, not which cell
        return ValidationFailed(
            _("工作表“%(sheet)s”第 %(row)d 行有不是有效数字的单元格") % {"sheet": sheet, "row": row}
        )
    return ValidationFailed(
        _("工作表“%(sheet)s”第 %(row)d 行 %(col)s 列不是有效的数字:%(v)s")
        % {"sheet": sheet, "row": row, "col": get_column_letter(col + 1), "v": text[:20]}
    )


def _too_large_xlsx():
    return ValidationFailed(
        _("Excel 文件解压后超过 %(max)d MB,请分成几个文件导入")
        % {"max": max_xlsx_part_bytes() // 2**20}
    )


def _read_xlsx(fileobj, known, known_names, raw) -> Table:
    """The fast streaming reader (xlsx_reader, lxml) when the package is laid out the usual
    way; openpyxl's read-only mode otherwise."""
    from .xlsx_reader import XlsxTooLarge, open_workbook

    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError):
        raise _unreadable()
    try:
        fast = open_workbook(archive, part_limit=max_xlsx_part_bytes(), run_limit=_cell_run_limit())
        if fast is None or reader_process_bytes() is not None:
            # openpyxl (or a reader process, which reads without the check): a pass of
            # its own first. The fast reader checks the parts as it reads them, so a
            # sheet is inflated once, not twice.
            _cells_bounded(archive)
    except XlsxTooLarge:
        archive.close()
        raise _too_large_xlsx()
    except (zipfile.BadZipFile, OSError):
        archive.close()
        raise _unreadable()
    except ValidationFailed:
        archive.close()
        raise
    if fast is None:
        archive.close()
        fileobj.seek(0)
        return _read_xlsx_openpyxl(fileobj, known, known_names, raw)
    return _read_xlsx_fast(fast, archive, known, known_names, raw, getattr(fileobj, "name", None))


def _fast_rows(fast, path: str, *, start: int = 1, max_row: int | None = None):
    from lxml.etree import XMLSyntaxError

    from .xlsx_reader import BadNumber, CellTooLarge, XlsxTooLarge

    rows = fast.rows(path, max_columns=max_columns(), max_row=max_row)
    try:
        for number, row in enumerate(rows, 1):
            if number >= start:
                yield row
    except CellTooLarge:
        raise _cell_too_large()
    except BadNumber as exc:
        raise _bad_number(_sheet_title(fast, path), exc.row, exc.col, exc.text)
    except XMLSyntaxError:
        raise _unreadable()
    except XlsxTooLarge:
        raise _too_large_xlsx()
    except (zipfile.BadZipFile, OSError, KeyError, IndexError, ValueError):
        raise _unreadable()


def _sheet_title(fast, path: str) -> str:
    return next((title for title, p in fast.sheets if p == path), path)


def reader_process_bytes() -> int | None:
    """A sheet that inflates to more than this is read in a child process, beside the
    validation of the rows already read. Off unless set: on the shared 2-core bench
    machine, with no idle core, the child's CPU competed with the importer and the
    database and the import was slower than reading in-process (bench/RESULTS.md, imp4)."""
    return getattr(settings, "IMPORT_XLSX_READER_PROCESS_BYTES", None)


def _process_rows(file_path: str, fast, path: str, *, start: int):
    from .xlsx_reader import ReaderFailed, rows_in_process

    try:
        yield from rows_in_process(
            file_path,
            path,
            start=start,
            max_columns=max_columns(),
            part_limit=fast.part_limit,
        )
    except ReaderFailed as exc:
        if exc.kind == "spawn":  # no row read yet: read them here
            yield from _fast_rows(fast, path, start=start)
            return
        if exc.kind == "too_large":
            raise _too_large_xlsx()
        if exc.kind == "unreadable":
            raise _unreadable()
        if exc.kind == "bad_number":
            raise _bad_number(_sheet_title(fast, path), *exc.args[1:])
        raise RuntimeError(f"xlsx reader process: {exc.args}")


def _read_xlsx_fast(fast, archive, known, known_names, raw, file_path=None) -> Table:
    try:
        candidates = []
        for _title, path in fast.sheets:
            head = []
            for n, row in enumerate(_fast_rows(fast, path, max_row=HEADER_SEARCH_ROWS), 1):
                _check_row(n, row)
                head.append((n, list(row)))
            candidates.append(head)
        s, index = _pick_header(candidates, known, known_names)
    except BaseException:
        archive.close()
        raise
    title, path = fast.sheets[s]
    header_row, header_cells = candidates[s][index]
    convert = _raw if raw else _cell

    start = header_row + 1
    limit = reader_process_bytes()
    if (
        limit is not None
        and isinstance(file_path, str)
        and fast.part_size(path) > limit
        and os.path.isfile(file_path)
    ):
        source = _process_rows(file_path, fast, path, start=start)
    else:
        source = _fast_rows(fast, path, start=start)

    def rows():
        try:
            yield from _numbered(
                source,
                header_row + 1,
                convert,
                min(len(header_cells), max_columns()),
            )
        finally:
            source.close()  # the reader process, if any, ends here
            archive.close()

    return Table(
        headers=[_cell(h) for h in header_cells[: max_columns()]],
        rows=rows(),
        header_row=header_row,
        sheet=title,
        raw=raw,
    )


def _pick_header(candidates, known, known_names) -> tuple[int, int]:
    """(sheet index, row index) of the header among the first rows of every sheet."""
    if known:
        best = _find_header(candidates, known)
        if best is None:
            found = [_cell(c) for head in candidates for _n, r in head for c in r]
            raise _no_header(found, known_names)
        return best[1], best[2]
    head = candidates[0] if candidates else []
    index = 0
    while index < len(head) and _blank(head[index][1]):
        index += 1
    if index >= len(head):
        raise ValidationFailed(_("文件是空的"))
    return 0, index


def _openpyxl_rows(ws, *, min_row: int = 1, max_row: int | None = None):
    """ws.iter_rows' values, a number cell that is no number (openpyxl's int("inf") raises,
    float("1e999") is inf) refused naming its row, as the fast reader does."""
    rows = ws.iter_rows(min_row=min_row, max_row=max_row, values_only=True)
    number = min_row
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except ValueError:
            raise _bad_number(ws.title, number) from None
        for col, value in enumerate(row):
            if value.__class__ is float and value - value:  # inf, nan
                raise _bad_number(ws.title, number, col, str(value))
        yield row
        number += 1


def _read_xlsx_openpyxl(fileobj, known, known_names, raw) -> Table:
    try:
        wb = load_workbook(fileobj, read_only=True, data_only=True)
    except ValidationFailed:
        raise
    except Exception:
        raise _unreadable()
    sheets = [ws for ws in wb.worksheets if hasattr(ws, "iter_rows")]
    candidates = []
    for ws in sheets:
        head = []
        for n, row in enumerate(_openpyxl_rows(ws, max_row=HEADER_SEARCH_ROWS), 1):
            _check_row(n, row)
            head.append((n, list(row)))
        candidates.append(head)
    try:
        s, index = _pick_header(candidates, known, known_names)
    except ValidationFailed:
        wb.close()
        raise
    ws = sheets[s]
    header_row, header_cells = candidates[s][index]
    convert = _raw if raw else _cell

    def rows():
        try:
            yield from _numbered(
                _openpyxl_rows(ws, min_row=header_row + 1), header_row + 1, convert
            )
        finally:
            wb.close()

    return Table(
        headers=[_cell(h) for h in header_cells[: max_columns()]],
        rows=rows(),
        header_row=header_row,
        sheet=ws.title,
        raw=raw,
    )


def read_table(fileobj, filename: str, *, known=None, known_names=None, raw=False) -> Table:
    """The header row and the numbered data rows after it; blank rows are skipped.

    `known` (header keys of the importer's columns) turns on header detection over the
    first ten rows of every sheet; `raw` keeps cell values as typed (dates as dates) for
    the error report."""
    name = filename.lower()
    known = {header_key(k) for k in known} if known else None
    if name.endswith(".csv") or name.endswith(".txt"):
        return _read_csv(fileobj, known, known_names, raw)
    if name.endswith(".xlsx") or name.endswith(".xlsm"):
        return _read_xlsx(fileobj, known, known_names, raw)
    raise ValidationFailed(_("只支持 .xlsx 或 .csv 文件"))


# ---------------------------------------------------------------- columns


@dataclass
class ColumnMap:
    """Which column became which field: shown to the user before anything is written."""

    headers: list[str]
    index: dict[str, int]  # field -> column
    fields: list[str]  # per column: the field it feeds, or "" (ignored)
    labels: dict[str, str]  # field -> its Chinese name
    problems: list[str]
    by_hand: set[int] = field(default_factory=set)

    def describe(self) -> list[dict]:
        return [
            {
                "col": i,
                "header": h,
                "field": self.fields[i],
                "label": self.labels.get(self.fields[i], ""),
                "by_hand": i in self.by_hand,
            }
            for i, h in enumerate(self.headers)
            if h
        ]

    def raise_problems(self) -> None:
        if self.problems:
            raise ValidationFailed(
                "；".join(self.problems), details=[{"row": 0, "errors": self.problems}]
            )


def map_columns(
    headers: list[str],
    columns: dict[str, tuple[str, ...]],
    required,
    *,
    overrides: dict[str, str] | None = None,
    ignored: tuple[str, ...] = (),
) -> ColumnMap:
    """Find each field's column by its Chinese header or a synonym; the user's own choices
    (`overrides`: header -> field, or "" to ignore it) come first. Required entries are
    field names or tuples of fields of which one is enough. Two columns feeding one field,
    and a required field without a column, are problems named in Chinese."""
    labels = {f: names[0] for f, names in columns.items()}
    lookup = {}
    for f, names in columns.items():
        for name in names:
            lookup.setdefault(header_key(name), f)
    skip = {header_key(n) for n in ignored}
    overrides = {header_key(k): v for k, v in (overrides or {}).items()}
    fields, by_hand = [], set()
    for i, h in enumerate(headers):
        key = header_key(h)
        if key in overrides and (overrides[key] in columns or overrides[key] == ""):
            fields.append(overrides[key])
            by_hand.add(i)
        elif key in skip:
            fields.append("")
        else:
            fields.append(lookup.get(key, ""))
    index: dict[str, int] = {}
    problems = []
    for i, f in enumerate(fields):
        if not f:
            continue
        if f in index:
            problems.append(
                _("“%(a)s”和“%(b)s”两列都对应“%(f)s”,请在列对应中忽略其中一列")
                % {"a": headers[index[f]], "b": headers[i], "f": labels[f]}
            )
        else:
            index[f] = i
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(o in index for o in options):
            problems.append(
                _("缺少必需的列:%(c)s") % {"c": _("或").join(labels[o] for o in options)}
            )
    return ColumnMap(list(headers), index, fields, labels, problems, by_hand)


def pick(cells: list[str], index: dict[str, int], field: str) -> str:
    i = index.get(field)
    return cells[i] if i is not None and i < len(cells) else ""


def rows_text(rows: list[int], limit: int = 5) -> str:
    """第 3、4、5 行, or 第 3、4、5、6、7 行等 120 行: a message never lists every row."""
    shown = "、".join(str(r) for r in rows[:limit])
    if len(rows) <= limit:
        return _("第 %(rows)s 行") % {"rows": shown}
    return _("第 %(rows)s 行等 %(n)d 行") % {"rows": shown, "n": len(rows)}


# ---------------------------------------------------------------- writing


def write_xlsx_to(
    out,
    headers,
    rows: Iterable[Iterable],
    *,
    title: str = "Sheet1",
    caption: str = "",
    widths: list[int] | None = None,
) -> None:
    """Stream rows into a workbook written to `out` (constant memory for big exports).
    Every string is written as text: one starting with = + - @ never becomes a formula in
    the reader's Excel. Dates are date cells shown as dates. `caption` is a first line
    above the header (what was exported, with which filter); `widths` sets the columns'
    widths; the header row stays frozen when scrolling (core.xlsx_writer)."""
    write_sheets_to(out, [(title, headers, rows)], caption=caption, widths=widths)


def write_sheets_to(out, sheets, *, caption: str = "", widths=None) -> None:
    """Several sheets of (title, headers, rows), through the same formula-safe cells
    (the caption and widths apply to the first sheet)."""
    write_sheets(out, sheets, caption=caption, widths=widths)


def write_xlsx(headers: list[str], rows: Iterable[Iterable], *, title: str = "Sheet1") -> bytes:
    buf = io.BytesIO()
    write_xlsx_to(buf, headers, rows, title=title)
    return buf.getvalue()


BAD_CELL = "FFB3B3"
BAD_ROW = "FFE8E8"


def error_report_rows(rows, errors: dict, bad_cells: dict):
    for number, cells in rows:
        reasons = errors.get(number)
        if not reasons:
            yield [number, *cells, ""]
            continue
        cols = bad_cells.get(number) or set()
        out = [Styled(number, BAD_ROW)]
        for i, v in enumerate(cells):
            out.append(Styled(v, BAD_CELL if i in cols else BAD_ROW))
        out.append(Styled("；".join(reasons), BAD_ROW))
        yield out


def error_report_xlsx_to(out, headers, rows, errors: dict, bad_cells: dict | None = None):
    """The user's own rows and columns, the reason in a new last column, bad rows tinted
    and the cells at fault highlighted; through the same formula-safe writer as exports."""
    write_xlsx_to(
        out,
        [_("行号"), *headers, _("错误原因")],
        error_report_rows(rows, errors, bad_cells or {}),
        title=_("错误清单"),
    )


def error_report_xlsx(headers, rows, errors: dict, bad_cells: dict | None = None) -> bytes:
    buf = io.BytesIO()
    error_report_xlsx_to(buf, headers, rows, errors, bad_cells)
    return buf.getvalue()


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    from urllib.parse import quote

    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response
