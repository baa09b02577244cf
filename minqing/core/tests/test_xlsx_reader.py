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
    st.floats(allow_nan=False, allow_infinity=False, width=64),
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
