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
