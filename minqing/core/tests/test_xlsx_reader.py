"""The streaming xlsx reader (core.xlsx_reader) gives openpyxl's values for every cell:
on the real-ledger fixtures of the import tests and on workbooks hypothesis writes with
openpyxl; and it keeps the hostile-file protections."""

import io
import zipfile
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from minqing.core.errors import ValidationFailed
from minqing.core.tabular import read_table
from minqing.core.xlsx_reader import XlsxTooLarge, open_workbook
from minqing.registry.tests.test_ledger import ledger_rows, ledger_xlsx

pytestmark = pytest.mark.django_db(False)


def _trim(row) -> tuple:
    row = list(row)
    while row and row[-1] is None:
        row.pop()
    return tuple(row)


def openpyxl_values(content: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    out = {ws.title: [_trim(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    wb.close()
    return out


def fast_values(content: bytes) -> dict[str, list[tuple]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    book = open_workbook(archive, part_limit=2**30)
    assert book is not None
    out = {
        title: [_trim(r) for r in book.rows(path, max_columns=10_000)]
        for title, path in book.sheets
    }
    # openpyxl pads the sheet to its last row with empty rows; the reader stops at the last
    # row written
    return out


def same(content: bytes) -> None:
    theirs, ours = openpyxl_values(content), fast_values(content)
    assert list(theirs) == list(ours)
    for title, rows in theirs.items():
        mine = ours[title]
        while rows and rows[-1] == ():
            rows.pop()
        while mine and mine[-1] == ():
            mine.pop()
        assert mine == rows, title


def test_real_ledger_fixtures_read_as_openpyxl_reads_them():
    rows = ledger_rows()
    same(ledger_xlsx())
    same(ledger_xlsx(blank_tail=300))
    same(ledger_xlsx(title_rows=False, sheets=("一", "二")))
    rows[0][7] = date(1955, 3, 7)
    rows[1][7] = datetime(1957, 8, 12, 10, 30)
    same(ledger_xlsx(rows))


def test_dates_times_booleans_errors_formulas_inline_strings_and_1904():
    wb = Workbook()
    ws = wb.active
    ws.append(["日期", "时间", "时长", "布尔", "公式", "错误", "浮点", "大数"])
    ws.append([date(2001, 3, 5), time(8, 30), timedelta(hours=30), True, "=1+1", "#N/A", 1.5])
    ws["H2"] = 4.30302e17
    ws["A3"] = 36956
    ws["A3"].number_format = "yyyy年m月d日"  # a custom date format
    ws["B3"] = 36956
    ws["B3"].number_format = "0.00"
    ws.merge_cells("A4:D4")
    ws["A4"] = "合并的标题"
    content = io.BytesIO()
    wb.save(content)
    same(content.getvalue())
    wb.epoch = datetime(1904, 1, 1)
    content = io.BytesIO()
    wb.save(content)
    same(content.getvalue())


def test_inline_strings_and_shared_formula_cached_values():
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c>'
        '<c r="B1" t="inlineStr"><is><r><t>身份</t></r><r><t>证号</t></r>'
        '<rPh sb="0" eb="2"><t>しん</t></rPh></is></c></row>'
        '<row r="3"><c r="A3"><f t="shared" ref="A3:A4" si="0">B3*2</f><v>4</v></c>'
        '<c r="C3" t="str"><f>"x"</f><v>x</v></c></row>'
        '<row r="4"><c r="A4"><f t="shared" si="0"/><v>6</v></c></row>'
        "</sheetData></worksheet>"
    )
    content = _package(sheet)
    same(content)
    assert fast_values(content)["S"] == [("姓名", "身份证号"), (), (4, None, "x"), (6,)]


def _package(sheet_xml: str, shared: str | None = None) -> bytes:
    """A minimal xlsx with one sheet "S" (and optional shared strings)."""
    buf = io.BytesIO()
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats'
            '-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            + (
                '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                if shared
                else ""
            )
            + "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/workbook.xml",
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{rel}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets>'
            "</workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (
                f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
                if shared
                else ""
            )
            + "</Relationships>",
        )
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        if shared:
            z.writestr("xl/sharedStrings.xml", shared)
    return buf.getvalue()


def test_entities_are_never_expanded():
    """A billion-laughs sheet: the entities stay unexpanded, memory and time stay small."""
    lol = '<!ENTITY a "' + "x" * 100 + '">'
    for i in range(1, 9):
        lol += f'<!ENTITY {chr(97 + i)} "' + f"&{chr(96 + i)};" * 10 + '">'
    sheet = (
        f"<!DOCTYPE worksheet [{lol}]>"
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名&i;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    content = _package(sheet)
    try:
        rows = fast_values(content)["S"]
    except Exception as exc:  # refusing the file is fine too
        assert "Entity" in str(exc) or "entity" in str(exc)
        return
    assert len(str(rows)) < 1000


def test_zip_bomb_is_refused_before_it_is_inflated(settings):
    big = '<row r="1"><c r="A1"><v>1</v></c></row>' * 200_000  # ~8 MB, zipped to ~30 KB
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{big}</sheetData></worksheet>"
    )
    content = _package(sheet)
    assert len(content) < 100_000
    with pytest.raises(XlsxTooLarge):
        open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=1_000_000)
    settings.IMPORT_MAX_XLSX_PART_BYTES = 1_000_000
    with pytest.raises(ValidationFailed, match="解压后超过"):
        read_table(io.BytesIO(content), "炸弹.xlsx", known=["姓名"])


def test_wide_rows_are_cut_but_still_refused(settings):
    settings.IMPORT_MAX_COLUMNS = 5
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
        '<row r="2"><c r="A2"><v>1</v></c><c r="XFD2"><v>2</v></c></row>'
        "</sheetData></worksheet>"
    )
    with pytest.raises(ValidationFailed, match="第 2 行超过 5 列"):
        list(read_table(io.BytesIO(_package(sheet)), "宽.xlsx", known=["姓名"]).rows)


def test_gaps_are_numbered_as_excel_shows_them():
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
        '<row r="5"><c r="C5" t="s"><v>1</v></c></row>'
        "</sheetData></worksheet>"
    )
    shared = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<si><t>姓名</t></si><si><t>张三</t></si></sst>"
    )
    table = read_table(io.BytesIO(_package(sheet, shared)), "缺行.xlsx", known=["姓名"])
    assert table.header_row == 2
    assert list(table.rows) == [(5, ["", "", "张三"])]


def test_strict_or_odd_packages_fall_back_to_openpyxl():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("_rels/.rels", "<Relationships/>")
    assert open_workbook(zipfile.ZipFile(buf), part_limit=2**30) is None


text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r"),
    max_size=20,
)
cell = st.one_of(
    st.none(),
    text,
    st.integers(min_value=-(2**53), max_value=2**53),
    # openpyxl writes 16 significant digits: a float within an ulp of the largest is
    # written as one that overflows to inf, which the readers refuse (BadNumber)
    st.floats(min_value=-1e300, max_value=1e300, width=64),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(cell, max_size=8), max_size=12), st.booleans())
def test_hypothesis_workbooks_read_as_openpyxl_reads_them(rows, title_row):
    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append(["标题"])
        ws.merge_cells("A1:C1")
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    same(buf.getvalue())


# ---------------------------------------------------------------- the scanner
#
# rows() scans the sheet with regexes and hands what it does not recognise to lxml. The
# tests below check that the scanner itself read the layouts Excel, WPS and openpyxl write
# (no fallback), that it gives exactly lxml's and openpyxl's values, and that anything odd
# goes to lxml from the row it appears in.

REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def scanned_values(content: bytes) -> dict[str, list[tuple]]:
    """The scanner alone: raises Unrecognised instead of falling back."""
    from minqing.core.xlsx_reader import _scanned_strings

    archive = zipfile.ZipFile(io.BytesIO(content))
    book = open_workbook(archive, part_limit=2**30)
    if book._shared_path and b"<si>" in archive.read(book._shared_path):
        book._shared = _scanned_strings(archive, book._shared_path)
        assert book._shared == book._parsed_strings()
    return {
        title: [_trim(r) for r in book._scanned_rows(path, max_columns=10_000)]
        for title, path in book.sheets
    }


def parsed_values(content: bytes) -> dict[str, list[tuple]]:
    book = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
    return {
        title: [_trim(r) for r in book._parsed_rows(path, max_columns=10_000)]
        for title, path in book.sheets
    }


def scanned_as_everyone(content: bytes) -> None:
    """The scanner reads the file itself, as lxml and openpyxl read it."""
    assert scanned_values(content) == parsed_values(content)
    same(content)


def _rewrite(content: bytes, *, shared: bool, rich: bool, no_r: bool, excel: bool) -> bytes:
    """The workbook openpyxl wrote (inline strings, CJK as &#NNNNN;, r on every row and
    cell) rewritten as other writers lay it out: shared strings (some as rich-text runs),
    UTF-8 text as Excel and WPS write it, no r attributes (WPS), Excel's row attributes."""
    from lxml import etree

    src = zipfile.ZipFile(io.BytesIO(content))
    strings: list = []
    sheets = {}
    for name in src.namelist():
        if not name.startswith("xl/worksheets/sheet"):
            continue
        root = etree.fromstring(src.read(name))
        for row in root.iter(f"{{{MAIN}}}row"):
            if no_r:
                row.attrib.pop("r", None)
            if excel:
                row.set("spans", "1:8")
                row.set(
                    "{http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac}dyDescent", "0.25"
                )
            for c in row:
                if no_r:
                    c.attrib.pop("r", None)
                if excel and c.get("t") == "n":
                    del c.attrib["t"]  # Excel writes numbers without t
                if shared and c.get("t") == "inlineStr":
                    node = c.find(f"{{{MAIN}}}is")
                    if node is None:
                        continue
                    text = "".join(node.itertext())
                    c.remove(node)
                    c.set("t", "s")
                    etree.SubElement(c, f"{{{MAIN}}}v").text = str(len(strings))
                    strings.append(text)
        nsmap = {None: MAIN, "x14ac": "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"}
        new = etree.Element(f"{{{MAIN}}}worksheet", nsmap=nsmap if excel else {None: MAIN})
        new[:] = list(root)
        sheets[name] = etree.tostring(new, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            data = sheets.get(name) or src.read(name)
            if shared and name == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                    b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            if shared and name == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" '
                    'Target="sharedStrings.xml"/></Relationships>'.encode(),
                )
            z.writestr(name, data)
        if shared:
            sst = etree.Element(f"{{{MAIN}}}sst", nsmap={None: MAIN})
            for i, text in enumerate(strings):
                si = etree.SubElement(sst, f"{{{MAIN}}}si")
                if rich and i % 3 == 1 and len(text) > 1:
                    for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                        r = etree.SubElement(si, f"{{{MAIN}}}r")
                        rpr = etree.SubElement(r, f"{{{MAIN}}}rPr")
                        etree.SubElement(rpr, f"{{{MAIN}}}b")
                        t = etree.SubElement(r, f"{{{MAIN}}}t")
                        t.text = part
                        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
                else:
                    t = etree.SubElement(si, f"{{{MAIN}}}t")
                    t.text = text
                    if text != text.strip():
                        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            z.writestr(
                "xl/sharedStrings.xml",
                etree.tostring(sst, xml_declaration=True, encoding="UTF-8", standalone=True),
            )
    return out.getvalue()


ledger_text = st.one_of(
    text,
    st.sampled_from(
        [
            "张三",
            " 李四 ",
            "１８３０７３２１２３４",
            "Ｘ号",
            "a & b <c> \"d\" 'e'",
            "&amp; &#60; &lt;",
            "第一行\n第二行",
            "  ",
            "x005F_x000D_",
            "_x000D_",
            "湖南省湘潭市雨湖区（东）",
            "=1+1",
        ]
    ),
)
ledger_cell = st.one_of(
    cell,
    ledger_text,
    st.integers(min_value=10**17, max_value=10**18 - 1).map(float),  # an ID kept as a number
    st.integers(min_value=10**10, max_value=10**11),  # a phone kept as a number
)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.lists(st.lists(ledger_cell, max_size=8), max_size=10), min_size=1, max_size=3),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_scanner_reads_every_layout_as_openpyxl_does(sheets, sparse, shared, rich, no_r, excel):
    wb = Workbook()
    wb.remove(wb.active)
    for s, rows in enumerate(sheets):
        ws = wb.create_sheet(f"表{s + 1}")
        for i, r in enumerate(rows, 1):
            if sparse:  # rows and columns left out, as a hand-kept ledger has them
                for j, v in enumerate(r):
                    if v is not None and (i + j) % 3:
                        ws.cell(row=2 * i, column=2 * j + 1, value=v)
            else:
                ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    content = _rewrite(buf.getvalue(), shared=shared, rich=rich, no_r=no_r, excel=excel)
    scanned_as_everyone(content)


def test_fixtures_are_scanned_not_parsed():
    scanned_as_everyone(ledger_xlsx())
    scanned_as_everyone(ledger_xlsx(blank_tail=300))
    scanned_as_everyone(ledger_xlsx(title_rows=False, sheets=("一", "二")))


SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
    "<sheetData>{rows}</sheetData><pageMargins/></worksheet>"
)
SST = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<sst xmlns="{MAIN}" count="4" uniqueCount="4">'
    "<si><t>姓名</t></si>"
    '<si><t xml:space="preserve"> 张 三 </t></si>'
    '<si><r><rPr><b/><sz val="11"/></rPr><t>身份</t></r><r><t xml:space="preserve">证号 </t></r>'
    '<rPh sb="0" eb="2"><t>しん</t></rPh><phoneticPr fontId="1"/></si>'
    "<si><t>a&amp;b&#x4E2D;&#25991;&#13;x005F_y</t></si>"
    "</sst>"
)


def test_excel_layout_with_shared_strings_rich_runs_and_references():
    rows = (
        '<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>2</v></c>'
        '<c r="C1" s="0" t="s"><v>3</v></c></row>'
        '<row r="2" spans="1:3" ht="20" customHeight="1"><c r="A2" t="s"><v>1</v></c>'
        '<c r="B2"><v>4.30302E+17</v></c><c r="C2" t="b"><v>0</v></c></row>'
        '<row r="3"><c r="A3" s="0"/><c r="B3" t="e"><v>#N/A</v></c>'
        '<c r="C3" t="str"><f>A1&amp;"x"</f><v>姓名&lt;x&gt;</v></c></row>'
    )
    content = _package(SHEET.format(rows=rows), SST)
    scanned_as_everyone(content)
    assert scanned_values(content)["S"] == [
        ("姓名", "身份证号 ", "a&b中文\rx005F_y".replace("x005F_", "")),
        (" 张 三 ", 4.30302e17, False),
        (None, "#N/A", "姓名<x>"),
    ]


def test_wps_layout_without_r_attributes_and_crlf_text():
    rows = (
        '<row><c t="inlineStr"><is><t>姓名</t></is></c><c t="inlineStr"><is><t>备注</t>'
        "</is></c></row>"
        '<row><c/><c t="inlineStr"><is><t xml:space="preserve">一\r\n二\r三&#13;</t></is></c>'
        "<c><v>12</v></c></row>"
        "<row/>"
        '<row><c t="inlineStr"><is><t></t></is></c><c t="inlineStr"></c><c><v></v></c></row>'
    )
    content = _package(SHEET.format(rows=rows))
    scanned_as_everyone(content)
    assert scanned_values(content)["S"] == [
        ("姓名", "备注"),
        (None, "一\n二\n三\r", 12),
        (),
        ("",),
    ]
    # the same line ends in a sheet without a character reference (decoded another way)
    rows = '<row><c t="inlineStr"><is><t>一\r\n二\r三\n</t></is></c></row>'
    content = _package(SHEET.format(rows=rows))
    scanned_as_everyone(content)
    assert scanned_values(content)["S"] == [("一\n二\n三\n",)]


FAST_ROWS = (
    # inline strings as openpyxl writes them: empty cells, a style, xml:space
    '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c>'
    '<c r="B1" s="1" t="inlineStr"><is><t xml:space="preserve"> 身份证号 </t></is></c>'
    '<c r="C1" t="inlineStr"></c><c r="D1" t="inlineStr"><is><t>&#25143;&#20027;</t></is></c>'
    '<c r="E1" t="inlineStr"></c></row>'
    # shared strings as Excel writes them: styled empty cells, missing cells
    '<row r="2" spans="1:6" x14ac:dyDescent="0.25"><c r="A2" s="3" t="s"><v>1</v></c>'
    '<c r="B2" s="3"/><c r="D2" t="s"><v>0</v></c><c r="F2" s="2"/></row>'
    '<row r="3"><c r="B3" t="s"><v>2</v></c></row>'
    '<row r="4"></row>'
    '<row r="5"><c r="A5" s="4"/><c r="B5"/></row>'
    # whitespace between the cells (pretty-printed rows) is skipped as XML readers skip it
    '<row r="6">\n  <c r="A6" t="s"><v>0</v></c>\n  <c r="C6" t="s"><v>1</v></c>\n</row>'
    # the tokens' rows: a number, an entity, columns out of order or of two letters, inline
    # and shared strings in one row, an empty <t>
    '<row r="7"><c r="A7" t="s"><v>0</v></c><c r="B7"><v>12</v></c></row>'
    '<row r="8"><c r="A8" t="inlineStr"><is><t>a&amp;b</t></is></c></row>'
    '<row r="10"><c r="Z10" t="s"><v>0</v></c><c r="AA10" t="s"><v>1</v></c></row>'
    '<row r="11"><c r="A11" t="s"><v>0</v></c><c r="B11" t="inlineStr"><is><t>x</t></is></c>'
    "</row>"
    '<row r="12"><c r="A12" t="inlineStr"><is><t></t></is></c></row>'
    # and back to the fast path
    '<row r="13"><c r="A13" t="inlineStr"><is><t>张三</t></is></c></row>'
)


def _with_x14ac(rows: str) -> str:
    return SHEET.format(rows=rows).replace(
        f'xmlns:r="{REL}"',
        f'xmlns:r="{REL}" xmlns:x14ac="http://schemas.microsoft.com/office/'
        'spreadsheetml/2009/9/ac"',
    )


def test_plain_text_rows_are_read_in_one_step_with_the_same_values(monkeypatch):
    from minqing.core import xlsx_reader

    shared = f'<sst xmlns="{MAIN}"><si><t>甲</t></si><si><t> 乙</t></si><si><t></t></si></sst>'
    content = _package(_with_x14ac(FAST_ROWS), shared)
    fast = []
    original = xlsx_reader._fast_row

    def counted(*args):
        row = original(*args)
        fast.append(row is not None)
        return row

    monkeypatch.setattr(xlsx_reader, "_fast_row", counted)
    scanned_as_everyone(content)
    assert scanned_values(content)["S"] == [
        ("姓名", " 身份证号 ", None, "户主"),
        (" 乙", None, None, "甲"),
        (None, ""),
        (),
        (),
        ("甲", None, " 乙"),
        ("甲", 12),
        ("a&b",),
        (),
        (*[None] * 25, "甲", " 乙"),
        ("甲", "x"),
        ("",),
        ("张三",),
    ]
    fast.clear()
    scanned_values(content)
    assert fast == [True] * 6 + [False] * 5 + [True]
    # a narrow limit: the tokens cut the row as before
    book = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
    path = book.sheets[0][1]
    for limit in (1, 2, 3, 4):
        assert list(book._scanned_rows(path, max_columns=limit)) == list(
            book._parsed_rows(path, max_columns=limit)
        )
    # columns out of order: the tokens' (openpyxl reads such a row another way)
    content = _package(
        SHEET.format(
            rows='<row r="1"><c r="C1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        ),
        shared,
    )
    fast.clear()
    assert scanned_values(content) == parsed_values(content) == {"S": [(None, " 乙", "甲")]}
    assert fast == [False]
    # after eight rows the fast path missed, the tokens read the rest of the piece
    rows = '<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'
    many = "".join(rows.format(n=n) for n in range(1, 12)) + FAST_ROWS.replace('r="1"', 'r="20"')
    content = _package(_with_x14ac(many), shared)
    fast.clear()
    assert scanned_values(content) == parsed_values(content)
    assert fast == [False] * 8


def _uniform_rows(shared: bool, rows: int = 40, first: int = 1) -> str:
    """Rows of four plain text cells, every cell there (the empty ones too), as openpyxl's
    write-only mode (inline) or a shared-string writer lays them out."""
    out = []
    for n in range(first, first + rows):
        if shared:
            cells = [
                f'<c r="A{n}" t="s"><v>0</v></c>',
                f'<c r="B{n}" s="2"/>' if n % 3 else f'<c r="B{n}" s="2" t="s"><v>1</v></c>',
                f'<c r="C{n}" t="s"><v>2</v></c>',
                f'<c r="D{n}"/>' if n % 2 else f'<c r="D{n}" t="s"><v>0</v></c>',
            ]
        else:
            cells = [
                f'<c r="A{n}" t="inlineStr"><is><t>&#24352;&#19977;{n}</t></is></c>',
                f'<c r="B{n}" s="1" t="inlineStr"><is><t xml:space="preserve"> {n} </t></is></c>',
                f'<c r="C{n}" t="inlineStr"></c>'
                if n % 3
                else f'<c r="C{n}" t="inlineStr"><is><t>x></t></is></c>',
                f'<c r="D{n}" t="inlineStr"></c>'
                if n % 2
                else f'<c r="D{n}" t="inlineStr"><is><t>&#20303;</t></is></c>',
            ]
        if n % 7 == 0:  # a row of empty cells
            cells = [f'<c r="{c}{n}" t="inlineStr"></c>' for c in "ABCD"]
            if shared:
                cells = [f'<c r="{c}{n}" s="2"/>' for c in "ABCD"]
        out.append(f'<row r="{n}" spans="1:4">' + "".join(cells) + "</row>")
    return "".join(out)


@pytest.mark.parametrize("shared", [False, True])
def test_pieces_of_rows_as_wide_as_their_first_are_read_in_one_step(monkeypatch, shared):
    from minqing.core import xlsx_reader

    sst = f'<sst xmlns="{MAIN}"><si><t>甲</t></si><si><t> 乙</t></si><si><t></t></si></sst>'
    whole, fast = [], []
    original_whole, original_fast = xlsx_reader._whole_rows, xlsx_reader._fast_row

    def counted_whole(*args):
        rows = original_whole(*args)
        whole.append(rows is not None)
        return rows

    def counted_fast(*args):
        row = original_fast(*args)
        fast.append(row is not None)
        return row

    monkeypatch.setattr(xlsx_reader, "_whole_rows", counted_whole)
    monkeypatch.setattr(xlsx_reader, "_fast_row", counted_fast)
    # a gap in the row numbers (rows 41-44 missing) is yielded as empty rows
    rows = _uniform_rows(shared) + _uniform_rows(shared, rows=10, first=45)
    content = _package(SHEET.format(rows=rows), sst if shared else None)
    values = scanned_values(content)["S"]
    assert whole == [True] and fast == []
    assert values == parsed_values(content)["S"]
    assert len(values) == 54 and values[40:44] == [()] * 4 and values[6] == ()
    same(content)
    # cut into pieces of 1 KB: each piece read in one step, the values as before
    monkeypatch.setattr(xlsx_reader, "_CHUNK", 1024)
    whole.clear()
    assert scanned_values(content)["S"] == values
    assert len(whole) > 5 and all(whole) and fast == []
    # up to a row: the rows after it are not read
    book = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
    path = book.sheets[0][1]
    assert [_trim(r) for r in book._scanned_rows(path, max_columns=100, max_row=3)] == values[:3]
    monkeypatch.setattr(xlsx_reader, "_CHUNK", 1 << 20)
    # a narrow limit: the rows are read one by one and cut as before
    for limit in (1, 2, 3):
        assert list(book._scanned_rows(path, max_columns=limit)) == list(
            book._parsed_rows(path, max_columns=limit)
        )


@pytest.mark.parametrize(
    "odd",
    [
        '<row r="41"><c r="A41" t="inlineStr"><is><t>窄</t></is></c></row>',  # narrower
        "\n",  # text between two rows
        '<row r="41"><c r="A41"><v>1</v></c><c r="B41" t="inlineStr"></c>'
        '<c r="C41" t="inlineStr"></c><c r="D41" t="inlineStr"></c></row>',  # a number
        '<row r="41"><c r="A41" t="inlineStr"><is><t>a&amp;b</t></is></c>'
        '<c r="B41" t="inlineStr"></c><c r="C41" t="inlineStr"></c>'
        '<c r="D41" t="inlineStr"></c></row>',  # an entity
        '<row r="41"><c r="A41" t="inlineStr"><is><t>]]&gt;</t></is></c>'
        '<c r="B41" t="inlineStr"></c><c r="C41" t="inlineStr"></c>'
        '<c r="D41" t="inlineStr"></c></row>',
    ],
)
def test_a_piece_that_is_not_all_such_rows_is_read_row_by_row(monkeypatch, odd):
    from minqing.core import xlsx_reader

    whole = []
    original = xlsx_reader._whole_rows

    def counted(*args):
        rows = original(*args)
        whole.append(rows is not None)
        return rows

    monkeypatch.setattr(xlsx_reader, "_whole_rows", counted)
    rows = _uniform_rows(False) + odd + _uniform_rows(False, rows=5, first=42)
    content = _package(SHEET.format(rows=rows))
    assert scanned_values(content) == parsed_values(content)
    assert whole == [False]
    same(content)


@pytest.mark.parametrize(
    "odd",
    [
        "<!-- a comment -->",
        '<c r="A4" cm="1"><v>1</v></c>',  # an attribute the scanner does not know
        '<c r="A4" t="x"><v>1</v></c>',  # a cell type it does not know
        '<c r="A4"><v>1</v><extLst/></c>',
        '<c r="A4">\n<v>1</v>\n</c>',  # pretty-printed
        '<c r="A4" t="inlineStr"><is><t>&#65;&#x42;</t></is></c>',
        "<c r='A4'><v>1</v></c>",
        '<c t="s" r="A4"><v>0</v></c>',  # r after t
    ],
)
def test_what_the_scanner_does_not_know_is_read_by_lxml_from_that_row(odd):
    from minqing.core.xlsx_reader import Unrecognised

    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
        '<row r="2"><c r="A2"><v>2</v></c></row>'
        f'<row r="4">{odd}<c r="B4"><v>3</v></c></row>'
        '<row r="5"><c r="A5"><v>5</v></c></row>'
    )
    shared = f'<sst xmlns="{MAIN}"><si><t>甲</t></si></sst>'
    content = _package(SHEET.format(rows=rows), shared)
    book = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
    path = book.sheets[0][1]
    scanned = book._scanned_rows(path, max_columns=100)
    if "&#65;" not in odd:  # ASCII references are decoded per value: still the scanner's
        assert [next(scanned) for _ in range(3)] == [("姓名",), (2,), ()]
        with pytest.raises(Unrecognised):
            next(scanned)
    assert list(book.rows(path, max_columns=100)) == list(book._parsed_rows(path, max_columns=100))
    same(content)


@pytest.mark.parametrize(
    "sheet",
    [
        # a namespace prefix
        f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v>'
        "</x:c></x:row></x:sheetData></x:worksheet>",
        # another encoding
        f'<?xml version="1.0" encoding="GBK"?><worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>',
        # a DTD
        f'<!DOCTYPE worksheet><worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v>'
        "</c></row></sheetData></worksheet>",
        # an entity of its own
        f'<!DOCTYPE worksheet [<!ENTITY a "x">]><worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&a;</t></is></c></row></sheetData></worksheet>',
        # another namespace
        '<worksheet xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"><sheetData>'
        '<row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>',
        # no rows at all
        f'<worksheet xmlns="{MAIN}"><sheetData/></worksheet>',
    ],
)
def test_odd_sheets_are_lxmls(sheet):
    content = _package(sheet)
    book = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
    path = book.sheets[0][1]
    assert list(book.rows(path, max_columns=100)) == list(book._parsed_rows(path, max_columns=100))


@pytest.mark.parametrize(
    "broken",
    [
        '<row r="2"><c r="A2"><v>1</v></c>',  # truncated: no </row>, no </sheetData>
        '<row r="2"><c r="A2"><v>1</v></c></row></sheetData>',  # no </worksheet>
        '<row r="2"><c r="A2" t="inlineStr"><is><t>a\x01b</t></is></c></row>',
        '<row r="2"><c r="A2" t="inlineStr"><is><t>&#1;</t></is></c></row>',
        '<row r="2"><c r="A2" t="inlineStr"><is><t>&nbsp;</t></is></c></row>',
        '<row r="2"><c r="A2" t="inlineStr"><is><t>&#99999999;</t></is></c></row>',
        '<row r="2"><c r="A2" t="inlineStr"><is><t>a & b</t></is></c></row>',
    ],
)
def test_broken_sheets_are_refused_as_before(broken):
    from lxml.etree import XMLSyntaxError

    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        f"<t>姓名</t></is></c></row>{broken}"
    )
    if "</sheetData>" not in broken and "</row>" in broken:
        sheet += "</sheetData></worksheet>"
    content = _package(sheet)
    book = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
    path = book.sheets[0][1]
    with pytest.raises(XMLSyntaxError):
        list(book.rows(path, max_columns=100))
    with pytest.raises(ValidationFailed, match="无法读取"):
        list(read_table(io.BytesIO(content), "坏.xlsx", known=["姓名"]).rows)


def test_the_scanner_streams_a_large_sheet_in_pieces(monkeypatch):
    """Pieces of 4 KB: every cut falls somewhere in a row; the values do not change."""
    from minqing.core import xlsx_reader

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("大")
    for i in range(3000):
        ws.append([f"张三{i}", i, i * 1.5, " 空 格 ", "第一行\n第二行", None, "湘潭&株洲"])
        if i == 100:  # a row longer than four pieces: cut between its cells
            ws.append([f"第{j}列的内容" for j in range(600)])
    buf = io.BytesIO()
    wb.save(buf)
    content = _rewrite(buf.getvalue(), shared=True, rich=True, no_r=False, excel=True)
    for data in (buf.getvalue(), content):
        whole = scanned_values(data)
        monkeypatch.setattr(xlsx_reader, "_CHUNK", 4096)
        assert scanned_values(data) == whole
        monkeypatch.setattr(xlsx_reader, "_CHUNK", 1 << 20)
        assert whole == parsed_values(data)


def _rows_of(path, name="台账.xlsx"):
    with open(path, "rb") as fh:
        table = read_table(fh, name, known=["姓名"])
        return table.header_row, list(table.rows)


def test_a_large_sheet_is_read_in_a_reader_process(settings, tmp_path, monkeypatch):
    """The same rows, numbers and values whether the sheet is read here or by the child
    process (forced here with a limit of 0 bytes)."""
    from minqing.core import xlsx_reader

    started = []
    real_popen = __import__("subprocess").Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr("subprocess.Popen", popen)
    monkeypatch.setattr(xlsx_reader, "_BATCH", 7)  # several batches
    rows = ledger_rows()
    rows[0][7] = date(1955, 3, 7)
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx(rows, blank_tail=20))
    here = _rows_of(path)
    assert not started
    settings.IMPORT_XLSX_READER_PROCESS_BYTES = 0
    assert _rows_of(path) == here
    assert len(started) == 1 and started[0].returncode is not None


def test_the_reader_process_says_what_went_wrong_and_ends(settings, tmp_path, monkeypatch):
    settings.IMPORT_XLSX_READER_PROCESS_BYTES = 0
    started = []
    real_popen = __import__("subprocess").Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr("subprocess.Popen", popen)
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        "<t>姓名</t></is></c></row>"
        + "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(2, 30))
        + '<row r="30"><c'  # truncated after the rows the header is looked for in
    )
    path = tmp_path / "坏.xlsx"
    path.write_bytes(_package(sheet))
    with pytest.raises(ValidationFailed, match="无法读取"):
        _rows_of(path)
    assert started[-1].returncode is not None
    # stopped early (the importer's error limit, a cancelled job): the child is ended
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("大")
    ws.append(["姓名"])
    for i in range(20_000):
        ws.append([f"张三{i}"])
    path = tmp_path / "大.xlsx"
    wb.save(path)
    with open(path, "rb") as fh:
        rows = read_table(fh, "大.xlsx", known=["姓名"]).rows
        assert next(rows) == (2, ["张三0"])
        rows.close()
    assert started[-1].returncode is not None


def test_without_a_reader_process_the_rows_are_read_here(settings, tmp_path, monkeypatch):
    """Under a server whose executable is not Python (uWSGI), or when the child cannot be
    started, the same rows are read in this process."""
    import sys

    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx())
    here = _rows_of(path)
    settings.IMPORT_XLSX_READER_PROCESS_BYTES = 0
    monkeypatch.setattr(sys, "executable", "/usr/bin/uwsgi")
    assert _rows_of(path) == here

    def refuse(*args, **kwargs):
        raise OSError("no more processes")

    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")
    monkeypatch.setattr("subprocess.Popen", refuse)
    assert _rows_of(path) == here


@pytest.mark.parametrize(
    "where",
    ["inline", "shared", "after a row lxml reads", "in the header rows", "at the end"],
)
def test_a_giant_cell_is_refused_as_the_sheet_is_read_once(settings, monkeypatch, where):
    """The fast reader checks the parts as it reads them (no pass of their own before):
    a giant cell anywhere is refused with the same message; a sheet is inflated once."""
    settings.IMPORT_MAX_CELL_CHARS = 100
    giant = "长" * 2000
    header = '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>张{n}</t></is></c></row>'
        for n in range(2, 3000)
    )
    cell = f'<c r="A3000" t="inlineStr"><is><t>{giant}</t></is></c>'
    shared = None
    if where == "shared":
        shared = f'<sst xmlns="{MAIN}"><si><t>{giant}</t></si></sst>'
        cell = '<c r="A3000" t="s"><v>0</v></c>'
    elif where == "after a row lxml reads":
        rows += '<row r="2999"><!-- odd --><c r="A2999"><v>1</v></c></row>'
    elif where == "in the header rows":
        rows = rows.replace("<t>张2</t>", f"<t>{giant}</t>")
    sheet = SHEET.format(rows=header + rows + f'<row r="3000">{cell}</row>')
    if where == "at the end":  # after the last row, in the sheet's tail
        sheet = sheet.replace("<pageMargins/>", f"<pageMargins/>{'x' * 1000}")
    content = _package(sheet, shared)
    with pytest.raises(ValidationFailed, match="单元格的内容超过 100 个字"):
        list(read_table(io.BytesIO(content), "大.xlsx", known=["姓名"]).rows)
    # without the giant cell, the sheet's bytes are inflated once (and the header rows'
    # piece a second time), not once more for a check of its own
    rows = rows.replace(giant, "张")
    content = _package(SHEET.format(rows=header + rows), None)
    read = []
    original = zipfile.ZipExtFile.read

    def counted(self, n=-1):
        data = original(self, n)
        if self.name.endswith("sheet1.xml"):
            read.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)
    table = read_table(io.BytesIO(content), "台账.xlsx", known=["姓名"])
    assert len(list(table.rows)) == rows.count("<row ")
    size = zipfile.ZipFile(io.BytesIO(content)).getinfo("xl/worksheets/sheet1.xml").file_size
    again = size if where == "after a row lxml reads" else 0  # lxml reads it from the start
    assert sum(read) <= size + min(size, 1 << 20) + again


# ------------------------------------------------ Excel's own layout, written by hand
#
# excel_layout.excel_xlsx writes what Excel saves (shared strings, empty cells left out, r
# on every row and cell, a dimension, styles, numbers without t, dates as styled numbers);
# the reader reads such a sheet a piece at a time (_sparse_rows) and gives exactly the
# values openpyxl reads from it, and from the same values written by openpyxl.

excel_text = st.text(
    alphabet=st.sampled_from("张李王桂兰村网格第一二号０１８Ｘ 0123456789abcX-_.,、&<>\"'\n\t"),
    min_size=1,  # Excel keeps no empty text
    max_size=12,
)
excel_cell = st.one_of(
    st.none(),
    st.none(),
    excel_text,
    st.integers(min_value=10**10, max_value=2 * 10**10),  # a phone kept as a number
    st.integers(min_value=-(10**6), max_value=10**6),
    # Excel keeps 15 significant digits (openpyxl's writer may round a 17th): an ID kept
    # as a number is 4.30302195503071E+17
    st.integers(min_value=10**17, max_value=10**18 - 1).map(lambda n: float(f"{n:.15g}")),
    st.floats(min_value=-1e300, max_value=1e300).map(lambda f: float(f"{f:.15g}")),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
)


def _sparse_counted(monkeypatch, whole: list | None = None) -> list[bool]:
    """_sparse_rows' answers (read or not) as the scanner asks it; _whole_rows' in whole."""
    from minqing.core import xlsx_reader

    calls: list[bool] = []
    original, original_whole = xlsx_reader._sparse_rows, xlsx_reader._whole_rows

    def counted(*args):
        rows = original(*args)
        calls.append(rows is not None)
        return rows

    def counted_whole(*args):
        rows = original_whole(*args)
        whole.append(rows is not None)
        return rows

    monkeypatch.setattr(xlsx_reader, "_sparse_rows", counted)
    if whole is not None:
        monkeypatch.setattr(xlsx_reader, "_whole_rows", counted_whole)
    return calls


def _openpyxl_written(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for i, r in enumerate(rows, 1):
        for j, v in enumerate(r, 1):
            if v is not None:
                ws.cell(row=i, column=j, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(excel_cell, max_size=11), min_size=1, max_size=15))
def test_excel_layout_reads_as_openpyxl_reads_it_and_as_openpyxls_own_file(rows):
    from minqing.core.tests.excel_layout import excel_xlsx

    with pytest.MonkeyPatch.context() as monkeypatch:
        whole: list[bool] = []
        calls = _sparse_counted(monkeypatch, whole)
        content = excel_xlsx(rows)
        scanned_as_everyone(content)  # the scanner's values are lxml's and openpyxl's
        whole.clear()
        calls.clear()
        ours = scanned_values(content)["Sheet1"]
        # the piece read in one step: as a whole (every row as wide as the first) or sparse
        if any(v is not None for r in rows for v in r):
            assert whole == [True] or (calls == [True] and not any(whole))
    theirs = fast_values(_openpyxl_written(rows))["Sheet"]
    while theirs and theirs[-1] == ():
        theirs.pop()
    while ours and ours[-1] == ():
        ours.pop()
    assert ours == theirs


def test_excel_layout_ledger_is_read_a_piece_at_a_time(monkeypatch):
    """A ledger as Excel saves it (title row, header, IDs as text, phones as numbers,
    birth dates as date cells, empty cells left out), cut into pieces of 2 KB: every piece
    read in one step, the values openpyxl reads."""
    from minqing.core import xlsx_reader
    from minqing.core.tests.excel_layout import excel_xlsx

    rows = [
        ["七星村户籍人口台账（2026年）"],
        ["序号", "姓名", "身份证号", "电话", "出生日期", "备注"],
    ]
    for n in range(1, 200):
        rows.append(
            [
                n,
                f"张{n}",
                f"43030219550307{n:04d}",
                13807320000 + n if n % 3 else None,
                date(1955, 3, 7) + timedelta(days=n) if n % 4 else None,
                "低保" if n % 9 == 0 else None,
            ]
        )
    content = excel_xlsx(rows, title="台账")
    calls = _sparse_counted(monkeypatch)
    monkeypatch.setattr(xlsx_reader, "_CHUNK", 2048)
    scanned_as_everyone(content)
    values = scanned_values(content)["台账"]
    assert len(calls) > 10 and all(calls)
    assert values[2] == (1, "张1", "430302195503070001", 13807320001, datetime(1955, 3, 8))
    assert values[4] == (3, "张3", "430302195503070003", None, datetime(1955, 3, 10))
    assert values[10][5] == "低保"


@pytest.mark.parametrize(
    "odd",
    [
        '<row r="3" spans="1:3"><c r="A3" t="b"><v>1</v></c></row>',  # a boolean
        '<row r="3"><c r="A3" t="str"><f>1+1</f><v>2</v></c></row>',  # a formula
        '<row r="3"><c r="B3" t="s"><v>0</v></c><c r="A3" t="s"><v>1</v></c></row>',  # order
        '<row r="3"><c r="AA3" t="s"><v>0</v></c></row>',  # a two-letter column
        '<row r="3"><c r="A3"><v> 12</v></c></row>',  # a number the scanner leaves alone
        '<row r="3"> <c r="A3" t="s"><v>0</v></c></row>',  # whitespace
        '<row r="3" spans="1:3" />',
    ],
)
def test_what_the_excel_piece_does_not_know_is_read_row_by_row(monkeypatch, odd):
    calls = _sparse_counted(monkeypatch)
    sst = f'<sst xmlns="{MAIN}"><si><t>甲</t></si><si><t> 乙</t></si></sst>'
    rows = (
        '<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="C1" s="0"><v>7</v></c></row>'
        '<row r="2" spans="1:3"><c r="B2" t="s"><v>1</v></c></row>'
        + odd
        + '<row r="5" spans="1:3"/><row r="6"><c r="C6"><v>1.5E+17</v></c></row>'
    )
    content = _package(_with_x14ac(rows), sst)
    # lxml's values (openpyxl reads cells out of order another way)
    assert scanned_values(content) == parsed_values(content)
    assert calls == [False]
    # and without the odd row the piece is read in one step
    content = _package(_with_x14ac(rows.replace(odd, "")), sst)
    same(content)
    calls.clear()
    assert scanned_values(content) == parsed_values(content)
    assert calls == [True]
    assert scanned_values(content)["S"] == [
        ("甲", None, 7),
        (None, " 乙"),
        (),
        (),
        (),
        (None, None, 1.5e17),
    ]


# ------------------------------------------------ a number cell that is no number

BAD_NUMBERS = ["inf", "-inf", "nan", "NaN", "Infinity", "1e999", "-1E999", "1" + "0" * 400 + ".5"]
BAD_NUMBERS += ["9" * 5000]  # past int()'s 4300 digits


def _bad_number_file(layout: str, text: str) -> tuple[bytes, str]:
    """(file, sheet) whose cell B3 is a number cell <v>text</v>: in the layout Excel saves
    (shared strings, numbers without t: read a piece at a time by _sparse_rows) or with
    inline strings (read row by row by the tokens)."""
    from minqing.core.tests.excel_layout import excel_xlsx

    if layout == "excel":
        rows = [["姓名", "手机号"], ["张三", 13807321236], ["李四", 424242], ["王五", 13807321237]]
        content = excel_xlsx(rows, title="台账", styled_empty=False)
        sheet = "台账"
    else:
        cells = [
            ("姓名", "手机号"),
            ("张三", "13807321236"),
            ("李四", "424242"),
            ("王五", "13807321237"),
        ]
        body = "".join(
            f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{a}</t></is></c>'
            + (
                f'<c r="B{i}" t="inlineStr"><is><t>{b}</t></is></c>'
                if i == 1
                else f'<c r="B{i}"><v>{b}</v></c>'
            )
            + "</row>"
            for i, (a, b) in enumerate(cells, 1)
        )
        content = _package(f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>')
        sheet = "S"
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                assert data.count(b"<v>424242</v>") == 1
                data = data.replace(b"<v>424242</v>", f"<v>{text}</v>".encode())
            dst.writestr(item, data)
    return out.getvalue(), sheet


@pytest.mark.parametrize("text", BAD_NUMBERS)
@pytest.mark.parametrize("layout", ["excel", "inline"])
def test_a_number_cell_that_is_no_number_is_named_by_every_reader(
    settings, tmp_path, monkeypatch, layout, text
):
    """<v>inf</v>, nan, 1e999 (float() makes it inf), digits past int()'s limit: the piece
    reader (_sparse_rows) leaves the piece to the row-by-row reader, which names the row
    and column; so does lxml's reader, the reader process and openpyxl's fallback. The
    table refuses the file: "工作表“台账”第 3 行 B 列不是有效的数字"."""
    from minqing.core import xlsx_reader
    from minqing.core.xlsx_reader import BadNumber

    good, _sheet = _bad_number_file(layout, "424242")
    content, sheet = _bad_number_file(layout, text)
    expected = f"工作表“{sheet}”第 3 行 B 列不是有效的数字"

    def book():
        found = open_workbook(zipfile.ZipFile(io.BytesIO(content)), part_limit=2**30)
        return found, found.sheets[0][1]

    # the fast readers: the piece reader reads the good file in one step, not this one
    with monkeypatch.context() as m:
        calls = _sparse_counted(m)
        fast_values(good)
        assert calls == ([True] if layout == "excel" else [False])
        calls.clear()
        b, path = book()
        with pytest.raises(BadNumber) as caught:
            list(b.rows(path, max_columns=100))
        assert not any(calls)
    assert (caught.value.row, caught.value.col, caught.value.text) == (3, 1, text)
    # lxml's reader
    b, path = book()
    with pytest.raises(BadNumber) as caught:
        list(b._parsed_rows(path, max_columns=100))
    assert (caught.value.row, caught.value.col, caught.value.text) == (3, 1, text)
    # the table, from each reader
    with pytest.raises(ValidationFailed, match=expected) as refused:
        list(read_table(io.BytesIO(content), "台账.xlsx", known=["姓名"]).rows)
    assert text[:20] in refused.value.message and len(refused.value.message) < 60

    def unrecognised(self, *args, **kwargs):
        raise xlsx_reader.Unrecognised
        yield

    with monkeypatch.context() as m:
        m.setattr(xlsx_reader.FastWorkbook, "_scanned_rows", unrecognised)
        with pytest.raises(ValidationFailed, match=expected):
            list(read_table(io.BytesIO(content), "台账.xlsx", known=["姓名"]).rows)
    file = tmp_path / "台账.xlsx"
    file.write_bytes(content)
    with monkeypatch.context() as m:
        m.setattr(settings, "IMPORT_XLSX_READER_PROCESS_BYTES", 0, raising=False)
        with pytest.raises(ValidationFailed, match=expected):
            _rows_of(file)
    with monkeypatch.context() as m:
        m.setattr(xlsx_reader, "open_workbook", lambda *a, **k: None)  # openpyxl reads it
        with pytest.raises(ValidationFailed, match=f"工作表“{sheet}”第 3 行"):
            list(read_table(io.BytesIO(content), "台账.xlsx", known=["姓名"]).rows)
