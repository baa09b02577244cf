import io

from openpyxl import load_workbook

from minqing.core.tabular import write_xlsx


def test_text_starting_with_equals_stays_text():
    content = write_xlsx(["名称", "数"], [['=HYPERLINK("http://x")', 3], ["七星村", 4]])
    ws = load_workbook(io.BytesIO(content)).active
    cell = ws["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'
    assert ws["B2"].value == 3 and ws["A1"].font.bold


def test_text_runs_over_the_limit_are_found_wherever_they_fall():
    from minqing.core.tabular import _text_run_over

    def over(data: bytes, limit: int = 10) -> bool:
        return _text_run_over(io.BytesIO(data), limit)

    # a run is every byte between two '<' (a tag's own name and attributes included)
    assert not over(b"<a>0123456</a>")  # "a>0123456": 9
    assert not over(b"<a>01234567</a>")  # exactly the limit
    assert over(b"<a>012345678</a>")
    assert not over(b"0123456789<a/>")  # before the first '<'
    assert over(b"0123456789X<a/>")
    assert over(b"<a/>0123456789X")  # after the last one
    assert not over(b"<a/>" * 1000)
    # across the megabyte chunks the stream is read in
    chunk = 1 << 20
    assert over(b"<" + b"x" * (chunk - 1) + b"yy<", limit=chunk)
    assert not over(b"<" + b"x" * (chunk - 1) + b"y<", limit=chunk)
    assert over(b"x" * (3 * chunk), limit=2 * chunk)
    assert not over(b"x" * (2 * chunk) + b"<", limit=2 * chunk)
    filler = (b"<abc" * chunk)[: chunk - 5]  # short runs up to a run cut by the chunk's end
    assert not over(filler + b"<" + b"y" * 9 + b"<", limit=9)
    assert over(filler + b"<" + b"y" * 10 + b"<", limit=9)


# ---------------------------------------------------------------- the direct writer

import zipfile  # noqa: E402
from datetime import UTC, date, datetime, time  # noqa: E402
from decimal import Decimal  # noqa: E402

import pytest  # noqa: E402
from django.utils.translation import gettext_lazy  # noqa: E402
from lxml import etree  # noqa: E402

from minqing.core.tabular import Styled, write_sheets_to, write_xlsx_to  # noqa: E402
from minqing.core.xlsx_reader import open_workbook  # noqa: E402

HOSTILE = [
    '=HYPERLINK("http://x","点我")',
    "+86 138",
    "-1+1",
    "@SUM(A1)",
    "430102199001011234",  # an ID number: text, never a number that loses digits
    "0731",  # a leading zero stays
    "a<b>&c\"d'e",
    "&amp; is not decoded twice",
    "]]>",
    "张三丰 王\u3000小明",
    "  leading and trailing  ",
    "line\nbreak",
    "carriage\r\nreturn",
    "tab\there",
    "_x0041_",  # as openpyxl writes it: literal
    "𠀀 outside the BMP",
]


def _cells(content: bytes, read_only: bool = False) -> list[list]:
    wb = load_workbook(io.BytesIO(content), read_only=read_only)
    return [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]


def _fast_rows(content: bytes) -> list[tuple]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    book = open_workbook(archive, part_limit=10**8)
    assert book is not None  # our own reader's fast path takes it
    return list(book.rows(book.sheets[0][1], max_columns=50))


def test_every_part_is_well_formed_xml():
    content = write_xlsx(["名称"], [[v] for v in HOSTILE] + [["\x01\x0b\x1f\ufffe"]])
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = set(archive.namelist())
    assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml"} <= names
    for name in names:
        etree.fromstring(archive.read(name))  # raises on anything malformed


@pytest.mark.parametrize("read_only", [False, True])
def test_text_reads_back_exactly_in_openpyxl(read_only):
    content = write_xlsx(["名称"], [[v] for v in HOSTILE])
    rows = _cells(content, read_only)
    assert rows[0] == ["名称"]
    assert [r[0] for r in rows[1:]] == HOSTILE
    ws = load_workbook(io.BytesIO(content)).active
    assert all(ws.cell(i, 1).data_type == "s" for i in range(2, len(HOSTILE) + 2))


def test_text_reads_back_exactly_in_the_importers_reader():
    content = write_xlsx(["名称"], [[v] for v in HOSTILE])
    assert [r[0] for r in _fast_rows(content)[1:]] == HOSTILE


def test_control_characters_are_left_out_not_refused():
    # XML 1.0 cannot hold them; openpyxl refused the whole export for one
    content = write_xlsx(["备注", "户编号"], [["a\x01b\x0bc\x1fd\ufffee", "1"], ["\x00", "2"]])
    assert _cells(content)[1:] == [["abcde", "1"], [None, "2"]]


def test_numbers_dates_and_booleans_keep_their_types():
    row = [
        3,
        -2.5,
        Decimal("1.25"),
        True,
        date(2025, 1, 2),
        datetime(2025, 1, 2, 13, 45),
        datetime(2025, 1, 2),
        time(8, 30),
        None,
        12345678901234567,
    ]
    content = write_xlsx([f"c{i}" for i in range(len(row))], [row])
    ws = load_workbook(io.BytesIO(content)).active
    values = [c.value for c in ws[2]]
    assert values[:4] == [3, -2.5, 1.25, True]
    assert values[4] == datetime(2025, 1, 2) and ws["E2"].number_format == "yyyy-mm-dd"
    assert values[5] == datetime(2025, 1, 2, 13, 45)
    assert ws["F2"].number_format == "yyyy-mm-dd hh:mm"
    assert values[6] == datetime(2025, 1, 2) and ws["G2"].number_format == "yyyy-mm-dd"
    assert values[7] == time(8, 30)
    assert values[8] is None and values[9] == 12345678901234567
    fast = _fast_rows(content)[1]
    assert fast[4] == date(2025, 1, 2) or fast[4] == datetime(2025, 1, 2)


def test_an_aware_datetime_is_shown_in_local_time():
    content = write_xlsx(["时间"], [[datetime(2025, 1, 1, 16, 30, tzinfo=UTC)]])
    assert _cells(content)[1] == [datetime(2025, 1, 2, 0, 30)]  # Asia/Shanghai


def test_lazy_text_and_other_objects_are_written_as_text():
    content = write_xlsx(["a", "b"], [[gettext_lazy("合计"), Decimal("NaN")]])
    assert _cells(content)[1] == ["合计", "NaN"]


def test_caption_header_widths_freeze_and_fills():
    buf = io.BytesIO()
    write_xlsx_to(
        buf,
        ["户编号", "住址"],
        [["4311", Styled("bad", "FFB3B3")], [Styled(date(2020, 1, 1), "FFE8E8"), "x"]],
        title="户",
        caption="户台账 · 区域：<溪富社区> & 筛选",
        widths=[22, 34],
    )
    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    assert ws.title == "户" and ws.freeze_panes == "A3"
    assert ws["A1"].value == "户台账 · 区域：<溪富社区> & 筛选"
    assert ws["A2"].font.bold and ws["B2"].font.bold and not ws["A3"].font.bold
    assert ws.column_dimensions["A"].width == 22 and ws.column_dimensions["B"].width == 34
    assert ws["B3"].value == "bad" and ws["B3"].fill.fgColor.rgb.endswith("FFB3B3")
    assert ws["A4"].value == datetime(2020, 1, 1) and ws["A4"].number_format == "yyyy-mm-dd"
    assert ws["A4"].fill.fgColor.rgb.endswith("FFE8E8") and ws["A3"].fill.fill_type is None


def test_several_sheets_and_wide_rows():
    wide = [f"c{i}" for i in range(60)]  # past Z: AA, AB...
    buf = io.BytesIO()
    write_sheets_to(buf, [("网格[1]/2", ["a"], [["1"]]), ("网格[1]/2", wide, [wide])])
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    assert [ws.title for ws in wb.worksheets] == ["网格_1__2", "网格_1__22"]
    second = wb.worksheets[1]
    assert [c.value for c in second[2]] == wide and second["BH2"].value == "c59"
    assert second.freeze_panes == "A2"


def test_an_empty_export_is_a_workbook_with_its_header():
    content = write_xlsx(["户编号", "住址"], [])
    assert _cells(content) == [["户编号", "住址"]]


def test_rows_of_text_and_empty_cells_are_checked_and_converted_as_before():
    """The reader's rows mix text and None (empty cells): a cell over the limit is found
    among them (and among numbers), None becomes '' and the text is stripped."""
    import pytest

    from minqing.core.errors import ValidationFailed
    from minqing.core.tabular import _cell, _check_row, _numbered

    limits = (5, 10)
    _check_row(2, ("12345", None, ""), limits)
    with pytest.raises(ValidationFailed, match="第 2 行第 3 列的内容有 6 个字"):
        _check_row(2, (None, "a", "123456"), limits)
    with pytest.raises(ValidationFailed, match="第 3 行第 2 列"):
        _check_row(3, (1.5, "123456", None), limits)
    rows = [(" 张三 ", None, 3), (None, None), ("", " "), (None, "x ")]
    assert list(_numbered(iter(rows), 2, _cell)) == [(2, ["张三", "", "3"]), (5, ["", "x"])]
