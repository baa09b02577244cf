"""An xlsx laid out as Excel (and WPS) save it, written by hand, not by openpyxl: every
text in a shared strings table (count and uniqueCount), empty cells left out, r on every
row and cell, rows with spans and x14ac:dyDescent, a dimension tag, styles on cells (s=),
numbers without t (phones, IDs kept as numbers), dates as numbers with a date style, and
some styled empty cells (<c r="B7" s="1"/>) as Excel leaves them after a cell is cleared.

Used by the reader's tests (the same values as openpyxl's writer and reader) and by
bench/bench_registry.py (--xlsx-layout excel)."""

import io
import zipfile
from datetime import date, datetime
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><fileVersion appName="xl" lastEdited="7" '
    'lowestEdited="7" rupBuild="27328"/><workbookPr defaultThemeVersion="166925"/>'
    '<bookViews><workbookView xWindow="0" yWindow="0" windowWidth="28800" '
    'windowHeight="12300"/></bookViews><sheets>'
    '<sheet name="{title}" sheetId="1" r:id="rId1"/></sheets><calcPr calcId="191029"/>'
    "</workbook>"
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId4" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
# cellXfs: 0 general, 1 text (@), 2 a date (yyyy/m/d, builtin 14), 3 general with a fill
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/>'
    '<name val="等线"/><family val="2"/><charset val="134"/><scheme val="minor"/></font>'
    '</fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill>'
    '<patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid">'
    '<fgColor rgb="FFFFFF00"/><bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
    'xfId="0"/><xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" '
    'applyNumberFormat="1"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" '
    'applyNumberFormat="1"/><xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" '
    'applyFill="1"/></cellXfs><cellStyles count="1"><cellStyle name="常规" xfId="0" '
    'builtinId="0"/></cellStyles></styleSheet>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}" xmlns:mc="{MC}" mc:Ignorable="x14ac" '
    f'xmlns:x14ac="{X14AC}"><dimension ref="{{ref}}"/><sheetViews><sheetView '
    'tabSelected="1" workbookViewId="0"><selection activeCell="A1" sqref="A1"/></sheetView>'
    '</sheetViews><sheetFormatPr defaultRowHeight="14.25" x14ac:dyDescent="0.2"/>'
    '<cols><col min="1" max="{width}" width="18.625" customWidth="1"/></cols><sheetData>'
)
SHEET_TAIL = (
    '</sheetData><phoneticPr fontId="1" type="noConversion"/><pageMargins left="0.7" '
    'right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    '<pageSetup paperSize="9" orientation="portrait"/></worksheet>'
)


def _number(value) -> str:
    if isinstance(value, float):
        text = repr(value)
        if text.endswith(".0"):
            text = text[:-2]
        return text.replace("e+", "E+").replace("e-", "E-")
    return str(value)


def excel_xlsx(rows, *, title: str = "Sheet1", styled_empty: bool = True) -> bytes:
    """rows (lists of str, int, float, date, datetime or None) as Excel saves them: each
    text once in the shared strings (in order of first use), numbers and dates as <v>
    numbers (dates with style 2), None left out, except that every seventh empty cell
    stays as a styled empty cell when styled_empty."""
    strings: dict[str, int] = {}
    uses = 0
    body = []
    width = max((len(r) for r in rows), default=1) or 1
    last_row = 0
    for n, row in enumerate(rows, 1):
        cells = []
        for j, value in enumerate(row):
            ref = f"{get_column_letter(j + 1)}{n}"
            if value is None:
                if styled_empty and (n + j) % 7 == 0:
                    cells.append(f'<c r="{ref}" s="3"/>')
                continue
            if isinstance(value, str):
                index = strings.setdefault(value, len(strings))
                uses += 1
                style = ' s="1"' if (n + j) % 5 == 0 else ""
                cells.append(f'<c r="{ref}"{style} t="s"><v>{index}</v></c>')
            elif isinstance(value, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, date | datetime):
                cells.append(f'<c r="{ref}" s="2"><v>{_number(to_excel(value))}</v></c>')
            else:
                style = ' s="3"' if (n + j) % 11 == 0 else ""
                cells.append(f'<c r="{ref}"{style}><v>{_number(value)}</v></c>')
        if not cells:
            continue  # Excel writes no element for a row with nothing in it
        last_row = n
        body.append(
            f'<row r="{n}" spans="1:{width}" x14ac:dyDescent="0.2">' + "".join(cells) + "</row>"
        )
    ref = f"A1:{get_column_letter(width)}{max(last_row, 1)}"
    sheet = SHEET_HEAD.format(ref=ref, width=width) + "".join(body) + SHEET_TAIL
    sst = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        f'<sst xmlns="{MAIN}" count="{uses}" uniqueCount="{len(strings)}">'
        + "".join(
            f'<si><t xml:space="preserve">{escape(s)}</t></si>'
            if s != s.strip()
            else f"<si><t>{escape(s)}</t></si>"
            for s in strings
        )
        + "</sst>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("xl/workbook.xml", WORKBOOK.replace("{title}", escape(title)))
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        z.writestr("xl/styles.xml", STYLES)
        z.writestr("xl/sharedStrings.xml", sst)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()
