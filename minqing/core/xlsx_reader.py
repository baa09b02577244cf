"""A streaming xlsx reader on lxml's iterparse: the sheet XML, the shared strings and the
styles (for date cells), nothing else. It gives the same cell values as openpyxl's
read-only mode with data_only=True (text, int, float, bool, datetime/time/timedelta,
error strings, formulas' cached values, None for an empty cell) at about twice its speed.

Hostile files: every part's uncompressed size is bounded (a zip bomb is refused before it
is inflated: zipfile never inflates past the size it declares), XML entities are never
expanded and no DTD or network is read, a row keeps at most max_columns + 1 cells (the
last one only to say that the row is too wide), and gaps between rows are yielded as
empty rows so the caller's blank-run rule ends a sheet of a million formatted empty rows.

`open_workbook` returns None when the package is not laid out the way this reader knows
(a strict-OOXML file, a missing workbook part): the caller falls back to openpyxl.
"""

import posixpath
import zipfile
from collections.abc import Iterator

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import (
    CALENDAR_MAC_1904,
    CALENDAR_WINDOWS_1900,
    from_excel,
    from_ISO8601,
)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = REL + "/officeDocument"
_M = f"{{{MAIN}}}"
ROW, CELL, V, F, IS, T, R, SI = (_M + n for n in ("row", "c", "v", "f", "is", "t", "r", "si"))
RPH = _M + "rPh"


class XlsxTooLarge(Exception):
    """A part of the package inflates beyond the limit."""


def _parser_args() -> dict:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
    }


def _xml(archive: zipfile.ZipFile, name: str):
    """A small part (workbook, rels, styles) parsed whole, entities off."""
    parser = etree.XMLParser(**_parser_args())
    with archive.open(name) as fh:
        return etree.parse(fh, parser).getroot()


_LETTERS: dict[str, int] = {}


def _column(letters: str) -> int:
    """'B' -> 1 (0-based); cached (at most 16,384 of them)."""
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    index -= 1
    if len(_LETTERS) < 20000:
        _LETTERS[letters] = index
    return index


def _text(node) -> str:
    """The text of a <si> or <is>: its <t>, and the <t> of its rich-text runs (<r>);
    phonetic runs (<rPh>) are not text, as in openpyxl."""
    parts = []
    for child in node:
        tag = child.tag
        if tag == T:
            parts.append(child.text or "")
        elif tag == R:
            for t in child:
                if t.tag == T:
                    parts.append(t.text or "")
    return "".join(parts)


class FastWorkbook:
    def __init__(self, archive: zipfile.ZipFile, *, part_limit: int):
        self.archive = archive
        self.part_limit = part_limit
        names = {i.filename: i for i in archive.infolist()}
        for info in names.values():
            if info.file_size > part_limit:
                raise XlsxTooLarge(info.filename)
        self._names = names
        rels = _xml(archive, "_rels/.rels")
        target = next((r.get("Target") for r in rels if r.get("Type") == OFFICE_DOCUMENT), None)
        if not target:
            raise KeyError("officeDocument")
        book = posixpath.normpath(target.lstrip("/"))
        root = _xml(archive, book)
        if root.tag != _M + "workbook":
            raise KeyError("workbook namespace")
        base = posixpath.dirname(book)
        book_rels = _xml(archive, posixpath.join(base, "_rels", posixpath.basename(book) + ".rels"))
        by_id = {}
        shared = styles = None
        for r in book_rels:
            t = r.get("Target") or ""
            path = posixpath.normpath(
                t.lstrip("/") if t.startswith("/") else posixpath.join(base, t)
            )
            kind = (r.get("Type") or "").rsplit("/", 1)[-1]
            by_id[r.get("Id")] = (kind, path)
            if kind == "sharedStrings":
                shared = path
            elif kind == "styles":
                styles = path
        pr = root.find(_M + "workbookPr")
        self.epoch = CALENDAR_WINDOWS_1900
        if pr is not None and pr.get("date1904") in ("1", "true"):
            self.epoch = CALENDAR_MAC_1904
        self.sheets: list[tuple[str, str]] = []
        sheets = root.find(_M + "sheets")
        for s in sheets if sheets is not None else ():
            kind, path = by_id.get(s.get(f"{{{REL}}}id"), ("", ""))
            if kind == "worksheet" and path in names:
                self.sheets.append((s.get("name") or "", path))
        self._shared_path = shared if shared in names else None
        self._shared: list[str] | None = None
        self.date_styles, self.timedelta_styles = self._styles(styles if styles in names else None)

    # ------------------------------------------------------------ parts

    def _styles(self, path):
        dates, deltas = set(), set()
        if path is None:
            return dates, deltas
        root = _xml(self.archive, path)
        custom = {}
        fmts = root.find(_M + "numFmts")
        for f in fmts if fmts is not None else ():
            try:
                custom[int(f.get("numFmtId"))] = f.get("formatCode") or ""
            except (TypeError, ValueError):
                continue
        xfs = root.find(_M + "cellXfs")
        for i, xf in enumerate(xfs if xfs is not None else ()):
            try:
                fid = int(xf.get("numFmtId") or 0)
            except ValueError:
                continue
            fmt = custom[fid] if fid in custom else BUILTIN_FORMATS.get(fid)
            if fmt and is_date_format(fmt):
                dates.add(i)
            if fmt and is_timedelta_format(fmt):
                deltas.add(i)
        return dates, deltas

    @property
    def shared(self) -> list[str]:
        if self._shared is None:
            strings = []
            if self._shared_path:
                with self.archive.open(self._shared_path) as fh:
                    for _e, node in etree.iterparse(fh, tag=SI, **_parser_args()):
                        strings.append(_text(node).replace("x005F_", ""))
                        node.clear()
                        while node.getprevious() is not None:
                            del node.getparent()[0]
            self._shared = strings
        return self._shared

    # ------------------------------------------------------------ rows

    def rows(self, path: str, *, max_columns: int, max_row: int | None = None) -> Iterator[tuple]:
        """Every row from row 1 on, as a tuple of values (trailing empty cells dropped);
        a missing row is an empty tuple. At most max_columns + 1 cells a row: the extra
        one holds the first non-empty value past the limit, so the caller sees the row
        is too wide."""
        shared = self.shared
        dates, deltas, epoch = self.date_styles, self.timedelta_styles, self.epoch
        letters_of = _LETTERS
        digits = "0123456789"
        counter = 0
        with self.archive.open(path) as fh:
            for _e, row in etree.iterparse(fh, tag=ROW, **_parser_args()):
                r = row.get("r")
                number = int(r) if r else counter + 1
                if max_row is not None and number > max_row:
                    break
                while counter + 1 < number:
                    counter += 1
                    yield ()
                counter = number
                values: list = []
                col = -1
                for c in row:
                    if c.tag != CELL:
                        continue
                    ref = c.get("r")
                    if ref:
                        letters = ref.rstrip(digits)
                        col = letters_of.get(letters)
                        if col is None:
                            col = _column(letters)
                    else:
                        col += 1
                    t = c.get("t")
                    if t == "inlineStr":
                        node = c.find(IS)
                        if node is None:
                            continue
                        if len(node) == 1 and node[0].tag == T:
                            value = node[0].text or ""
                        else:
                            value = _text(node)
                    else:
                        value = None
                        for child in c:
                            if child.tag == V:
                                value = child.text
                                break
                        if not value:
                            continue
                        if t is None or t == "n":
                            value = (
                                float(value)
                                if ("." in value or "E" in value or "e" in value)
                                else int(value)
                            )
                            s = c.get("s")
                            if s and s != "0" and int(s) in dates:
                                try:
                                    value = from_excel(value, epoch, timedelta=int(s) in deltas)
                                except (OverflowError, ValueError):
                                    value = "#VALUE!"
                        elif t == "s":
                            value = shared[int(value)]
                        elif t == "b":
                            value = bool(int(value))
                        elif t == "d":
                            value = from_ISO8601(value)
                        # "str" (a formula's text) and "e" (an error) stay as text
                    n = len(values)
                    if col == n and col < max_columns:
                        values.append(value)
                    elif col >= max_columns:
                        if n <= max_columns and value != "":
                            values.extend([None] * (max_columns - n))
                            values.append(value)
                    elif col > n:
                        values.extend([None] * (col - n))
                        values.append(value)
                    else:
                        values[col] = value
                row.clear()
                while row.getprevious() is not None:
                    del row.getparent()[0]
                yield tuple(values)


def open_workbook(archive: zipfile.ZipFile, *, part_limit: int) -> FastWorkbook | None:
    """The reader for this package, or None when openpyxl should read it instead."""
    try:
        return FastWorkbook(archive, part_limit=part_limit)
    except XlsxTooLarge:
        raise
    except (KeyError, etree.XMLSyntaxError, ValueError, AttributeError):
        return None
