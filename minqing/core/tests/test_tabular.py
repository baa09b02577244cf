import io

from openpyxl import load_workbook

from minqing.core.tabular import write_xlsx


def test_text_starting_with_equals_stays_text():
    content = write_xlsx(["名称", "数"], [['=HYPERLINK("http://x")', 3], ["七星村", 4]])
    ws = load_workbook(io.BytesIO(content)).active
    cell = ws["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'
    assert ws["B2"].value == 3 and ws["A1"].font.bold
