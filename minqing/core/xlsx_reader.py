"""A streaming xlsx reader: the sheet XML, the shared strings and the styles (for date
cells), nothing else. It gives the same cell values as openpyxl's read-only mode with
data_only=True (text, int, float, bool, datetime/time/timedelta, error strings, formulas'
cached values, None for an empty cell).

The sheet and the shared strings are read by a scanner (compiled regexes over the inflated
XML, a megabyte at a time: no Python object per element; a row of plain text cells, the
common ledger, out of one findall with no Python step per cell; a piece of rows as Excel
saves them, empty cells left out, numbers and shared strings, by one split and a
comprehension per column), using a fifth to a
quarter of openpyxl's time; lxml reads what the scanner does not recognise, from the
first row it does not (see "the scanner" below). A large sheet
may be read in a child process beside the importer (rows_in_process; off unless
IMPORT_XLSX_READER_PROCESS_BYTES is set).

Hostile files: every part's uncompressed size is bounded (a zip bomb is refused before it
is inflated: zipfile never inflates past the size it declares), XML entities are never
expanded and no DTD or network is read, a row keeps at most max_columns + 1 cells (the
last one only to say that the row is too wide), and gaps between rows are yielded as
empty rows so the caller's blank-run rule ends a sheet of a million formatted empty rows;
with a run_limit, a giant cell is refused as the part holding it is read (CellTooLarge).

`open_workbook` returns None when the package is not laid out the way this reader knows
(a strict-OOXML file, a missing workbook part): the caller falls back to openpyxl.
"""

import codecs
import os
import posixpath
import re
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


class Unrecognised(Exception):
    """The scanner met something it does not know: lxml reads the part instead."""


class CellTooLarge(Exception):
    """A part holds a run of text (a cell) longer than the reader was told to allow."""


class BadNumber(Exception):
    """A number cell whose text is no finite number (inf, nan, 1e999 which overflows,
    digits past int's limit): the row as Excel numbers it, the column (0-based), the text."""

    def __init__(self, row: int, col: int, text: str):
        super().__init__(row, col, text)
        self.row, self.col, self.text = row, col, text


def _float(v: str) -> float:
    """float(v) of a number cell with a point or an exponent; ValueError for what is no
    finite number (float() takes inf and nan, and makes 1e999 inf)."""
    value = float(v)
    if value - value:  # inf - inf and nan - nan are nan (true); a finite number's is 0.0
        raise ValueError(v)
    return value


class _RunBounded:
    """A part's stream that refuses, as it is read, a run of more than `limit` bytes
    between two '<' (it bounds every cell's text): the check of a giant cell made on the
    way, not in a pass of its own over the inflated part. The same test as
    core.tabular's _text_run_over, chunk by chunk."""

    def __init__(self, fh, limit: int):
        self.fh, self.limit, self.carry = fh, limit, 0  # carry: the run the last read ended in
        self.over = re.compile(b"<[^<]{%d}" % (limit + 1))

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(n)
        if not chunk:
            return chunk
        first = chunk.find(b"<")
        if first < 0:
            self.carry += len(chunk)
            if self.carry > self.limit:
                raise CellTooLarge
        else:
            if self.carry + first > self.limit or self.over.search(chunk):
                raise CellTooLarge
            self.carry = len(chunk) - chunk.rfind(b"<") - 1
        return chunk

    def close(self) -> None:
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open(archive: zipfile.ZipFile, path: str, run_limit: int | None):
    fh = archive.open(path)
    return fh if run_limit is None else _RunBounded(fh, run_limit)


# ------------------------------------------------------------------ the scanner
#
# The sheet XML is inflated from the zip a megabyte at a time, decoded, and cut before the
# last cell or row that may be incomplete; each piece is tokenised by one compiled regex
# (findall: a tuple of strings per cell, no object per element). A token that is not one of
# the forms below (whitespace aside) is Unrecognised, and so is an entity reference other
# than the five of XML or a character reference, a DTD, a comment, a processing instruction,
# a namespace prefix, a character XML does not allow, or another encoding than UTF-8.

_CHUNK = 1 << 20
_CARRY_LIMIT = 32 << 20  # a single cell or head this large is lxml's to read

_CELL = (
    # 1: the column letters of r (always first when present); 2: the other attributes
    r'<c(?: r="([A-Z]{1,3})[0-9]+")?((?:\s+[\w:]+="[^"]*")*)\s*(?:/>|>(?:'
    # a formula (its text is not a value) and/or the cached value, 3: <v>'s text
    r"(?:<f(?:\s[^>]*)?/>|<f(?:\s[^>]*)?>[^<]*</f>)?(?:<v>([^<]*)</v>|<v/>)?"
    # 4: an inline string of one <t>, not empty
    r'|<is><t(?: xml:space="preserve")?>([^<]+)</t></is>'
    # 5: any other inline string (rich text runs, empty), parsed by lxml
    r"|(<is>(?:[^<]|<(?!/is>))*</is>)"
    r")</c>)"
)
# 6: anything else: a row's start or end, whitespace, or what is not recognised
_TOKEN = re.compile(_CELL + r"|(<row(?:\s[^>]*)?>|</row>|\s+|[^<]+|<[^>]*>?)")
_ROW_START = re.compile(r'<row((?:\s+[\w:]+="[^"]*")*)\s*(/?)>')
_ROW_NUMBER = re.compile(r'\sr="([^"]*)"')
_ATTRIBUTE = re.compile(r'\s+([\w:]+)="([^"]*)"')
_SI = re.compile(
    r'<si><t(?: xml:space="preserve")?>([^<]*)</t></si>'
    r"|(<si>(?:[^<]|<(?!/si>))*</si>|<si/>)"
    r"|(\s+|[^<]+|<[^>]*>?)"
)
_HEAD = re.compile(r"\ufeff?(<\?xml\s[^>]*\?>)?\s*<(worksheet|sst)(\s[^>]*)?>")
_ENCODING = re.compile(r"""encoding\s*=\s*["']([^"']*)["']""")
_MAIN_NS = f'xmlns="{MAIN}"'
# characters XML 1.0 does not allow (lxml refuses the file): the control characters, by
# their byte (bytes.translate deletes every other byte, in C), and U+FFFE, U+FFFF
_XML_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (0x9, 0xA, 0xD))
_REFERENCE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

# The fast path: a whole row of plain text cells, all inline strings of one <t> (what
# openpyxl and this project's exports write) or all shared strings (Excel's text), with
# r on every row and cell and single-letter columns; its values come out of findall
# without a Python step per cell. Anything else (numbers, dates, entities, rich text,
# two-letter columns, whitespace between cells...) is read by the tokens above.
_FAST_INLINE_CELL = (
    r'<c r="([A-Z])[0-9]+"(?: s="[0-9]+")? t="inlineStr">'
    r'(?:<is><t(?: xml:space="preserve")?>([^<&]+)</t></is>)?</c>'
)
_FAST_SHARED_CELL = r'<c r="([A-Z])[0-9]+"(?: s="[0-9]+")?(?: t="s"><v>([0-9]+)</v></c>|/>)'
_FAST_INLINE = re.compile(_FAST_INLINE_CELL)
_FAST_SHARED = re.compile(_FAST_SHARED_CELL)
_FAST_ROW_HEAD = re.compile(r'<row r="([0-9]+)"(?:\s+[\w:]+="[^"]*")*>')
_DENSE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FAST_MISSES = 8  # rows of a piece the fast path may miss before the tokens read the rest


def _fast_row(seg: str, start: int, max_columns: int, book) -> tuple | None:
    """The values of the row whose cells are seg[start:], as the tokens would give them
    (empty cells None, trailing ones dropped), when every cell is of one fast form;
    None when the tokens must read it.

    Every '<' of the row must be one of its matched cells' own (an inline string cell
    has 6, an empty one 2; a shared string cell 4, an empty one 1): then nothing but
    character data lies between the cells, which XML readers skip as openpyxl does."""
    body = seg[start:]
    if "&" in body or "]]>" in body:
        return None  # entities (and what XML refuses) are the tokens'
    cells = _FAST_INLINE.findall(body)
    shared = False
    if cells:
        letters, values = zip(*cells, strict=True)
        if body.count("<") != 6 * len(values) - 4 * values.count(""):
            return None
    else:
        cells = _FAST_SHARED.findall(body)
        if not cells:
            return None if "<" in body else ()
        letters, values = zip(*cells, strict=True)
        if body.count("<") != 4 * len(values) - 3 * values.count(""):
            return None
        shared = True
    n = len(values)
    while n and not values[n - 1]:
        n -= 1
    if not n:
        return ()
    letters = "".join(letters[:n])
    if letters == _DENSE[:n]:
        if n > max_columns:
            return None
        values = values[:n]
        if shared:
            strings = book.shared
            return tuple([strings[int(v)] if v else None for v in values])
        if "" in values:
            return tuple([v or None for v in values])
        return values
    last = ord(letters[-1]) - 65
    if last >= max_columns or not all(map(str.__lt__, letters, letters[1:])):
        return None
    row: list = [None] * (last + 1)
    strings = book.shared if shared else None
    for letter, v in zip(letters, values, strict=False):
        if v:
            row[ord(letter) - 65] = strings[int(v)] if shared else v
    return tuple(row)


# Faster still: a whole piece of such rows, every one as wide as the piece's first (each
# cell there, the empty ones too, as openpyxl and this project's exports write them), cut
# by one regex split whose pattern is a whole row of that many cells: the split's text
# between two rows must be empty, so the rows tile the piece and nothing is skipped. No
# Python step per cell, nor one per row but to build its tuple.
_WHOLE_ROW_HEAD = r'<row r="([0-9]+)"(?:\s+[\w:]+="[^"<&]*")*>'
_WHOLE_INLINE_CELL = (
    r'<c r="{letter}[0-9]+"(?: s="[0-9]+")? t="inlineStr">'
    r'(?:<is><t(?: xml:space="preserve")?>([^<&]+)</t></is>)?</c>'
)
_WHOLE_SHARED_CELL = r'<c r="{letter}[0-9]+"(?: s="[0-9]+")?(?: t="s"><v>([0-9]+)</v></c>|/>)'
_WHOLE_PATTERNS: dict[tuple[int, bool], re.Pattern] = {}
_WHOLE_MISSES = 3  # pieces of a sheet that may fail to tile before it is no longer tried


def _whole_pattern(width: int, shared: bool) -> re.Pattern:
    pattern = _WHOLE_PATTERNS.get((width, shared))
    if pattern is None:
        cell = _WHOLE_SHARED_CELL if shared else _WHOLE_INLINE_CELL
        cells = "".join(cell.format(letter=letter) for letter in _DENSE[:width])
        pattern = _WHOLE_PATTERNS[width, shared] = re.compile(_WHOLE_ROW_HEAD + cells + "</row>")
    return pattern


def _whole_rows(piece: str, max_columns: int, book) -> list[tuple[int, tuple]] | None:
    """(row number, values) of every row of the piece, as _fast_row gives them, when the
    piece is nothing but rows of plain text cells as wide as its first row; None when
    it is not (the rows are then read one by one)."""
    end = piece.find("</row>")
    if end < 0 or "]]>" in piece:
        return None
    first = piece[:end]
    width = first.count("<c ")
    if not 0 < width <= min(max_columns, len(_DENSE)):
        return None
    if piece.count("<c ") != width * piece.count("<row "):
        return None  # rows of other widths (Excel leaves empty cells out): no split tried
    shared = 't="inlineStr"' not in first
    parts = _whole_pattern(width, shared).split(piece)
    step = width + 2  # the row number, the cells, the text up to the next row
    if len(parts) < step or any(parts[::step]):
        return None
    strings = book.shared if shared else None
    rows = []
    append = rows.append
    it = iter(parts)
    next(it)
    for group in zip(*[it] * step, strict=True):
        values = group[1:-1]
        if shared:
            values = tuple([None if v is None else strings[int(v)] for v in values])
        if values[-1] is None:  # empty cells at the end are dropped
            n = width - 1
            while n and values[n - 1] is None:
                n -= 1
            values = values[:n]
        append((int(group[0]), values))
    return rows


# The same for the layout Excel and WPS save: empty cells left out (so rows differ in
# width), text as shared strings, numbers (phones, IDs kept as numbers, dates with a date
# style) as <v> without t, styled empty cells, rows with no cell as <row .../>. The row
# pattern has every column up to the piece's widest one, each optional; a cell is a
# shared string (its index captured), a number (its style and text captured) or empty.
# The rows must still tile the piece; values are built per row from the captures.
_SPARSE_ROW_HEAD = r'<row r="([0-9]+)"(?:\s+[\w:]+="[^"<&]*")*'
_SPARSE_CELL = (
    r'(?:<c r="{letter}[0-9]+"(?: s="[0-9]+")?(?: t="s"><v>([0-9]+)</v></c>|/>)'
    r'|<c r="{letter}[0-9]+"( s="[0-9]+")?(?: t="n")?>'
    r"<v>(-?[0-9]+(?:\.[0-9]+)?(?:[Ee][+-]?[0-9]+)?)</v></c>)?"
)
_SPARSE_PATTERNS: dict[int, re.Pattern] = {}
_SPARSE_LETTERS = re.compile(r'<c r="([A-Z]+)[0-9]')


def _sparse_pattern(width: int) -> re.Pattern:
    pattern = _SPARSE_PATTERNS.get(width)
    if pattern is None:
        cells = "".join(_SPARSE_CELL.format(letter=letter) for letter in _DENSE[:width])
        pattern = _SPARSE_PATTERNS[width] = re.compile(
            _SPARSE_ROW_HEAD + "(?:/>|>" + cells + "</row>)"
        )
    return pattern


def _sparse_rows(piece: str, max_columns: int, book) -> list[tuple[int, tuple]] | None:
    """(row number, values) of every row of the piece, as the tokens give them, when the
    piece is nothing but rows of shared-string, number and empty cells in column order
    (any of them left out, single-letter columns); None when it is not.

    The values are built a column at a time (one comprehension over the piece's rows),
    then zipped into rows."""
    if "]]>" in piece:
        return None
    # The last piece's width first (a pattern wider than the rows reads them the same,
    # trailing empty cells dropped); a piece it does not tile is measured and tried again.
    width = book._sparse_width if book._sparse_width <= max_columns else 0
    while True:
        if width:
            parts = _sparse_pattern(width).split(piece)
            step = 3 * width + 2  # the row number, three captures a cell, the text between
            if len(parts) >= step and not any(parts[::step]):
                break
        measured = 1
        for i in range(min(max_columns, len(_DENSE)), 0, -1):
            if f'<c r="{_DENSE[i - 1]}' in piece:  # a wider or two-letter column: no tiling
                measured = i
                break
        if measured == width:
            return None
        width = book._sparse_width = measured
    try:
        columns = _sparse_columns(parts, width, step, book)
    except ValueError:  # a number that is none: read row by row, which says where it is
        return None
    rows = []
    append = rows.append
    last = width - 1
    for number, row in zip(parts[1::step], zip(*columns, strict=True), strict=True):
        if row[last] is None:  # empty cells at the end are dropped
            n = last
            while n and row[n - 1] is None:
                n -= 1
            row = row[:n]
        append((int(number), row))
    return rows


def _sparse_columns(parts: list, width: int, step: int, book) -> list[list]:
    """The values of each column of a split piece (ValueError: a number that is none)."""
    strings = None
    columns = []
    for col in range(width):
        indexes = parts[2 + 3 * col :: step]
        numbers = parts[4 + 3 * col :: step]
        if any(indexes):
            if strings is None:
                strings = book.shared
            values = [None if v is None else strings[int(v)] for v in indexes]
        else:
            values = indexes
        if any(numbers):
            styles = parts[3 + 3 * col :: step]
            if any(styles):
                values = [
                    x if v is None else _sparse_number(v, style, book)
                    for x, v, style in zip(values, numbers, styles, strict=True)
                ]
            else:
                values = [
                    x
                    if v is None
                    else (_float(v) if ("." in v or "E" in v or "e" in v) else int(v))
                    for x, v in zip(values, numbers, strict=True)
                ]
        columns.append(values)
    return columns


def _sparse_number(v: str, style: str | None, book):
    """A number cell's value (a date or time when its style is one)."""
    value = _float(v) if ("." in v or "E" in v or "e" in v) else int(v)
    if style is not None:
        kind = book._sparse_kinds.get(style)
        if kind is None:
            kind = book._sparse_kinds[style] = book._kind(style)
        if kind[1]:
            try:
                value = from_excel(value, book.epoch, timedelta=kind[2])
            except (OverflowError, ValueError):
                value = "#VALUE!"
    return value


# cell types: how the text of <v> becomes a value
_NUMBER, _SHARED, _INLINE, _BOOL, _TEXT, _ISO = range(6)
_TYPES = {
    None: _NUMBER,
    "n": _NUMBER,
    "s": _SHARED,
    "inlineStr": _INLINE,
    "b": _BOOL,
    "str": _TEXT,
    "e": _TEXT,
    "d": _ISO,
}


def _reference(match) -> str:
    name = match.group(1)
    if name[0] != "#":
        return _NAMED[name]
    try:
        code = int(name[2:], 16) if name[1] == "x" else int(name[1:])
    except ValueError:
        raise Unrecognised from None
    if not (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ):
        raise Unrecognised
    return chr(code)


def _unescape(text: str) -> str:
    """XML's five entities and character references; any other & is not recognised."""
    out, n = _REFERENCE.subn(_reference, text)
    if n != text.count("&"):
        raise Unrecognised
    return out


# A character reference to a non-ASCII character (openpyxl writes every CJK character as
# one): decoded for a whole piece at once, below; the others per value by _unescape.
_NON_ASCII_REFERENCE = re.compile(
    r"&#(12[89]|1[3-9][0-9]|[2-9][0-9]{2}|[1-9][0-9]{3,}"
    r"|x[89a-fA-F][0-9a-fA-F]|x[1-9a-fA-F][0-9a-fA-F]{2,});"
)
# What a piece is cut at: a simpler pattern than the one above (the cut runs faster); the
# references it matches that the one above does not (ASCII, a hex one with a leading 0)
# are put back as they were, for _unescape.
_REFERENCE_CUT = re.compile(r"&#([1-9][0-9]{2,}|x[0-9a-fA-F]{2,});")


class _Characters(dict):
    """Reference (without &# and ;) -> its character, or the reference itself when it is
    not one _NON_ASCII_REFERENCE decodes; at most 200,000 of them kept."""

    def __missing__(self, name: str) -> str:
        if _NON_ASCII_REFERENCE.fullmatch(f"&#{name};") is None:
            return f"&#{name};"
        code = int(name[1:], 16) if name[0] == "x" else int(name)
        if not (0x80 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF):
            raise Unrecognised  # a character XML does not allow: lxml refuses the file
        char = chr(code)
        if len(self) < 200_000:
            self[name] = char
        return char


_CHARACTERS = _Characters()


def _non_ascii_references(piece: str) -> str:
    """The piece with its references to non-ASCII characters decoded: cut at every
    reference (one regex split), each looked up in a dict without a Python call (map
    over the dict's own lookup), joined again. A decoded character cannot be markup, so
    the tokens stay where they were."""
    parts = _REFERENCE_CUT.split(piece)
    if len(parts) == 1:
        return piece
    parts[1::2] = map(_CHARACTERS.__getitem__, parts[1::2])
    return "".join(parts)


def _decoded(fh) -> Iterator[str]:
    """The part as text, a megabyte at a time, line ends normalised as an XML parser
    does (a CR of a CRLF split between two chunks kept for the next one)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    held = ""
    while True:
        data = fh.read(_CHUNK)
        if data.translate(None, _XML_BYTES):
            raise Unrecognised  # a control character XML does not allow
        try:
            text = held + decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise Unrecognised from None
        held = ""
        if data and text.endswith("\r"):
            text, held = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\ufffe" in text or "\uffff" in text:
            raise Unrecognised
        if text:
            yield text
        if not data:
            return


def _head(chunks: Iterator[str], root: str, first: str) -> str:
    """Read up to the first `first` (the sheet's <sheetData, the strings' first <si): check
    the declaration and the root (UTF-8, the main namespace as the default, no DTD) and
    return the text from `first` on."""
    buf = ""
    for text in chunks:
        buf += text
        at = buf.find(first)
        if at >= 0 and len(buf) >= at + len(first) + 2:
            break
        if len(buf) > _CARRY_LIMIT:
            raise Unrecognised
    else:
        raise Unrecognised
    head = buf[:at]
    match = _HEAD.match(head)
    if match is None or match.group(2) != root or _MAIN_NS not in (match.group(3) or ""):
        raise Unrecognised
    declaration = match.group(1) or ""
    encoding = _ENCODING.search(declaration)
    if encoding and encoding.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Unrecognised
    rest = head[match.end() :]
    if "<!" in rest or "<?" in rest or "<row" in rest:
        raise Unrecognised
    return buf[at:]


def _tail_ends(chunks: Iterator[str], tail: str, root: str) -> None:
    """Read the part to its end (zipfile checks its CRC there) and check it closes its
    root; anything odd is lxml's to judge."""
    for text in chunks:
        tail = (tail + text)[-256:]
    if not tail.rstrip().endswith(f"</{root}>"):
        raise Unrecognised


def _pieces(chunks: Iterator[str], starts: tuple[str, ...], end: str, root: str, inner: tuple = ()):
    """The text between the opening (already consumed) and `end`, in pieces that each
    end before the start of a cell or row (or string): no token is cut in two. Pieces
    are cut before one of `starts` (a row: whole rows for the fast path); before one of
    `inner` (a cell) only when a single row runs past a few chunks."""
    buf = ""
    for text in chunks:
        buf += text
        stop = buf.find(end)
        if stop >= 0:
            yield buf[:stop]
            _tail_ends(chunks, buf[stop:], root)
            return
        cut = max(buf.rfind(s) for s in starts)
        if cut <= 0 and inner and len(buf) > 4 * _CHUNK:
            cut = max(buf.rfind(s) for s in inner)
        if cut > 0:
            yield buf[:cut]
            buf = buf[cut:]
        if len(buf) > _CARRY_LIMIT:
            raise Unrecognised
    raise Unrecognised  # no end: truncated, lxml says so


def _fragment(text: str, tag: str) -> str:
    """The text of a rich or odd <is>/<si>, parsed alone by lxml (entities off)."""
    try:
        node = etree.fromstring(
            f'<{tag} xmlns="{MAIN}"' + text[len(tag) + 1 :], etree.XMLParser(**_parser_args())
        )
    except etree.XMLSyntaxError:
        raise Unrecognised from None
    return _text(node)


def _scanned_strings(
    archive: zipfile.ZipFile, path: str, run_limit: int | None = None
) -> list[str]:
    strings: list[str] = []
    append = strings.append
    with _open(archive, path, run_limit) as fh:
        chunks = _decoded(fh)
        buf = _head(chunks, "sst", "<si")
        if not buf.startswith("<si"):
            raise Unrecognised

        def all_chunks():
            yield buf
            yield from chunks

        for piece in _pieces(all_chunks(), ("<si>", "<si "), "</sst>", "sst"):
            if "&#" in piece:
                piece = _non_ascii_references(piece)
            for simple, odd, other in _SI.findall(piece):
                if other:
                    if not other.isspace():
                        raise Unrecognised
                    continue
                if odd:
                    text = "" if odd == "<si/>" else _fragment(odd, "si")
                else:
                    text = _unescape(simple) if "&" in simple else simple
                append(text.replace("x005F_", "") if "x005F_" in text else text)
    return strings


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
    def __init__(self, archive: zipfile.ZipFile, *, part_limit: int, run_limit: int | None = None):
        self.archive = archive
        self.part_limit = part_limit
        # the sheets and the shared strings are read through _RunBounded when set
        self.run_limit = run_limit
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
        self._sparse_kinds: dict[str, tuple] = {}  # a number cell's ' s="N"' -> its kind
        self._sparse_width = 0  # the columns of the last piece _sparse_rows read
        self.date_styles, self.timedelta_styles = self._styles(styles if styles in names else None)

    def part_size(self, path: str) -> int:
        """How large the part inflates to (as its zip entry says)."""
        return self._names[path].file_size

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
            strings = None
            if self._shared_path:
                try:
                    strings = _scanned_strings(self.archive, self._shared_path, self.run_limit)
                except Unrecognised:
                    strings = None
            self._shared = strings if strings is not None else self._parsed_strings()
        return self._shared

    def _parsed_strings(self) -> list[str]:
        """The shared strings on lxml's iterparse: any well-formed part."""
        strings = []
        if self._shared_path:
            with _open(self.archive, self._shared_path, self.run_limit) as fh:
                for _e, node in etree.iterparse(fh, tag=SI, **_parser_args()):
                    strings.append(_text(node).replace("x005F_", ""))
                    node.clear()
                    while node.getprevious() is not None:
                        del node.getparent()[0]
        return strings

    # ------------------------------------------------------------ rows

    def rows(self, path: str, *, max_columns: int, max_row: int | None = None) -> Iterator[tuple]:
        """Every row from row 1 on, as a tuple of values (trailing empty cells dropped);
        a missing row is an empty tuple. At most max_columns + 1 cells a row: the extra
        one holds the first non-empty value past the limit, so the caller sees the row
        is too wide.

        The scanner reads the sheet; from the first row it does not recognise on, lxml
        reads it (from the start, the rows already given skipped)."""
        given = 0
        try:
            for row in self._scanned_rows(path, max_columns=max_columns, max_row=max_row):
                given += 1
                yield row
            return
        except Unrecognised:
            pass
        for n, row in enumerate(
            self._parsed_rows(path, max_columns=max_columns, max_row=max_row), 1
        ):
            if n > given:
                yield row

    def _scanned_rows(
        self, path: str, *, max_columns: int, max_row: int | None = None
    ) -> Iterator[tuple]:
        """rows() by the scanner; raises Unrecognised (before the row it cannot read is
        given) for anything it does not know."""
        shared = None
        epoch = self.epoch
        letters_of = _LETTERS
        kinds: dict[str, tuple] = {}  # a cell's attributes but r -> (type, date, timedelta)
        counter = 0
        values: list | None = None  # the row being read
        col = -1
        whole_misses = sparse_misses = 0
        with _open(self.archive, path, self.run_limit) as fh:
            chunks = _decoded(fh)
            buf = _head(chunks, "worksheet", "<sheetData")
            if buf.startswith("<sheetData/>"):
                _tail_ends(chunks, buf[12:], "worksheet")
                return
            if not buf.startswith("<sheetData>"):
                raise Unrecognised

            def all_chunks():
                yield buf[11:]
                yield from chunks

            rows_start, cells_start = ("<row ", "<row>", "<row/"), ("<c ", "<c>")
            fast_head = _FAST_ROW_HEAD.match
            for piece in _pieces(
                all_chunks(), rows_start, "</sheetData>", "worksheet", cells_start
            ):
                if "&#" in piece:
                    piece = _non_ascii_references(piece)
                # a piece in one step: openpyxl's layout (every cell written), else Excel's
                # (empty cells left out, shared strings); either gives up after a few misses
                rows = None
                if values is None and whole_misses < _WHOLE_MISSES:
                    rows = _whole_rows(piece, max_columns, self)
                    whole_misses += rows is None
                if rows is None and values is None and sparse_misses < _WHOLE_MISSES:
                    rows = _sparse_rows(piece, max_columns, self)
                    sparse_misses += rows is None
                if rows is not None:
                    for number, row in rows:
                        if max_row is not None and number > max_row:
                            return
                        while counter + 1 < number:
                            counter += 1
                            yield ()
                        counter = number
                        yield row
                    continue
                segments = piece.split("</row>")
                tail = segments.pop()  # after the last row's end: a row cut, or nothing
                count = len(segments)
                i = misses = 0
                while i <= count:
                    if i == count:
                        general = tail
                    elif values is None and misses < _FAST_MISSES:
                        # A row of plain text cells (inline or shared strings): its values
                        # out of one findall, without a Python step per cell. Any other
                        # row is read by the tokens below.
                        seg = segments[i]
                        m = fast_head(seg)
                        row = None if m is None else _fast_row(seg, m.end(), max_columns, self)
                        if row is not None:
                            number = int(m.group(1))
                            if max_row is not None and number > max_row:
                                return
                            while counter + 1 < number:
                                counter += 1
                                yield ()
                            counter = number
                            yield row
                            i += 1
                            continue
                        misses += 1
                        general = seg + "</row>"
                    else:
                        general = "</row>".join(segments[i:]) + "</row>" + tail
                        i = count
                    i += 1
                    tokens = _TOKEN.findall(general)
                    for letters, attributes, v, text, odd, other in tokens:
                        if other:
                            if other == "</row>":
                                if values is None:
                                    raise Unrecognised
                                yield tuple(values)
                                values = None
                                continue
                            if other.isspace():
                                continue
                            row = _ROW_START.fullmatch(other)
                            if row is None or values is not None:
                                raise Unrecognised
                            r = _ROW_NUMBER.search(row.group(1))
                            r = r.group(1) if r else None
                            if r and not (r.isascii() and r.isdigit()):
                                raise Unrecognised
                            number = int(r) if r else counter + 1
                            if max_row is not None and number > max_row:
                                return
                            while counter + 1 < number:
                                counter += 1
                                yield ()
                            counter = number
                            col = -1
                            if row.group(2):
                                yield ()
                            else:
                                values = []
                            continue
                        if values is None:
                            raise Unrecognised  # a cell outside a row
                        if letters:
                            col = letters_of.get(letters)
                            if col is None:
                                col = _column(letters)
                        else:
                            col += 1
                        kind = kinds.get(attributes)
                        if kind is None:
                            kind = kinds[attributes] = self._kind(attributes)
                        t = kind[0]
                        if t == _INLINE:
                            if text:
                                value = _unescape(text) if "&" in text else text
                            elif odd:
                                value = _fragment(odd, "is")
                            else:
                                continue
                        elif not v:
                            continue
                        else:
                            if "&" in v:
                                v = _unescape(v)
                            if t == _NUMBER:
                                try:
                                    value = (
                                        _float(v) if ("." in v or "E" in v or "e" in v) else int(v)
                                    )
                                except ValueError:
                                    raise BadNumber(counter, col, v) from None
                                if kind[1]:
                                    try:
                                        value = from_excel(value, epoch, timedelta=kind[2])
                                    except (OverflowError, ValueError):
                                        value = "#VALUE!"
                            elif t == _SHARED:
                                if shared is None:
                                    shared = self.shared
                                value = shared[int(v)]
                            elif t == _TEXT:
                                value = v
                            elif t == _BOOL:
                                value = bool(int(v))
                            else:
                                value = from_ISO8601(v)
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
            if values is not None:
                raise Unrecognised  # a row left open

    def _kind(self, attributes: str) -> tuple:
        """(type, is a date, is a timedelta) of a cell's attributes other than r."""
        found = dict(_ATTRIBUTE.findall(attributes))
        if len(found) != len(_ATTRIBUTE.findall(attributes)) or set(found) - {"s", "t"}:
            raise Unrecognised
        t = _TYPES.get(found.get("t"), -1)
        if t < 0:
            raise Unrecognised
        s = found.get("s")
        if s is None or s == "0":
            return (t, False, False)
        if not (s.isascii() and s.isdigit()):
            raise Unrecognised
        return (t, int(s) in self.date_styles, int(s) in self.timedelta_styles)

    def _parsed_rows(
        self, path: str, *, max_columns: int, max_row: int | None = None
    ) -> Iterator[tuple]:
        """rows() on lxml's iterparse: any well-formed sheet."""
        shared = self.shared
        dates, deltas, epoch = self.date_styles, self.timedelta_styles, self.epoch
        letters_of = _LETTERS
        digits = "0123456789"
        counter = 0
        with _open(self.archive, path, self.run_limit) as fh:
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
                            try:
                                value = (
                                    _float(value)
                                    if ("." in value or "E" in value or "e" in value)
                                    else int(value)
                                )
                            except ValueError:
                                raise BadNumber(number, col, value) from None
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


def open_workbook(
    archive: zipfile.ZipFile, *, part_limit: int, run_limit: int | None = None
) -> FastWorkbook | None:
    """The reader for this package, or None when openpyxl should read it instead.
    `run_limit`: the sheets and shared strings raise CellTooLarge, as they are read, at a
    run of more bytes than this between two '<'."""
    try:
        return FastWorkbook(archive, part_limit=part_limit, run_limit=run_limit)
    except XlsxTooLarge:
        raise
    except (KeyError, etree.XMLSyntaxError, ValueError, AttributeError):
        return None


# ------------------------------------------------------------------ a reader process
#
# A large sheet is scanned in a child process while the importer validates the rows
# already read: the rows come back as pickled batches through a pipe, whose buffer bounds
# what is in flight. The child is this file run alone (python -I: no Django, no project
# path), reading the upload the parent has on disk.

_BATCH = 2000


class ReaderFailed(Exception):
    """The reader process could not read the sheet: kind is "too_large", "unreadable"
    (what the reader raises for a file it cannot read), "bad_number" (BadNumber's row,
    column and text follow), "spawn" (it could not be started; raised before any row) or
    "error" (anything else)."""

    def __init__(self, kind: str, *detail):
        super().__init__(kind, *detail)
        self.kind = kind


def rows_in_process(
    file_path: str, sheet: str, *, start: int, max_columns: int, part_limit: int
) -> Iterator[tuple]:
    """rows(sheet, max_columns=max_columns) from row `start` on, read by a child process."""
    import pickle
    import subprocess
    import sys

    if not os.path.basename(sys.executable or "").startswith("python"):
        raise ReaderFailed("spawn", f"not a Python interpreter: {sys.executable}")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", __file__, file_path, sheet, str(start), str(max_columns)]
            + [str(part_limit)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError as exc:
        raise ReaderFailed("spawn", str(exc)) from None
    try:
        while True:
            try:
                message = pickle.load(proc.stdout)
            except EOFError:
                raise ReaderFailed("error", "the reader process ended early") from None
            if message is None:
                return
            if message[0] != "rows":
                raise ReaderFailed(*message)
            yield from message[1]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def _child(argv: list[str]) -> None:
    import pickle
    import sys

    file_path, sheet, start, max_columns, part_limit = argv
    start, max_columns = int(start), int(max_columns)
    out = sys.stdout.buffer

    def send(message) -> None:
        out.write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        with zipfile.ZipFile(file_path) as archive:
            book = open_workbook(archive, part_limit=int(part_limit))
            if book is None:
                raise KeyError("layout")
            batch = []
            for n, row in enumerate(book.rows(sheet, max_columns=max_columns), 1):
                if n >= start:
                    batch.append(row)
                    if len(batch) >= _BATCH:
                        send(("rows", batch))
                        batch = []
            if batch:
                send(("rows", batch))
    except XlsxTooLarge:
        send(("too_large",))
    except BadNumber as exc:
        send(("bad_number", exc.row, exc.col, exc.text))
    except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, KeyError, IndexError, ValueError):
        send(("unreadable",))
    except Exception as exc:  # noqa: BLE001 - the parent says what it was
        send(("error", repr(exc)[:500]))
    send(None)
    out.flush()


if __name__ == "__main__":
    import sys

    try:
        _child(sys.argv[1:])
    except BrokenPipeError:  # the parent stopped reading
        pass
