"""A village cadre imports the ledger they keep, at phone width: upload, see the column
mapping and the preview, commit, and find the way back; then a file with a bad row."""

import io
from datetime import date

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from minqing.core.idcard import make_id_number

# serialized_rollback: data migrations' rows (the tags) survive the flush between tests
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def ledger(bad_phone: bool = False) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "户籍人口台账"
    ws.append(["七星村户籍人口台账(2026年)"])
    ws.merge_cells("A1:H1")
    ws.append(["序号", "所属网格", "户号", "户主姓名", "姓名", "公民身份号码", "与户主关系"]
              + ["联系电话", "家庭住址"])  # fmt: skip
    people = [
        ("刘一", make_id_number("110101", date(1961, 5, 1), 11), "户主", 13807320001),
        ("陈二", make_id_number("110101", date(1963, 6, 2), 12), "妻子", "138 0732 0002"),
        ("刘三", make_id_number("110101", date(1990, 7, 3), 13), "儿子", "+86 13807320003"),
    ]
    for i, (name, idn, rel, phone) in enumerate(people, start=1):
        if bad_phone and i == 2:
            phone = "12345678"
        ws.append([i, "第一网格", "BT-001", "刘一", name, idn, rel, phone, "七星村五组 8 号"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(page, content: bytes, name: str):
    page.goto("/registry/import/")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": content}],
    )
    page.click("button[type=submit].primary")


def test_cadre_imports_a_ledger_with_preview(page, login, shot, settings, csp_violations):
    settings.IMPORT_RUNNER = "inline"  # the live server's in-memory SQLite has one writer
    login("cadre")
    page.goto("/registry/import/")
    expect(page.locator(".required-columns")).to_be_visible()
    shot("import-page")
    upload(page, ledger(), "台账.xlsx")
    expect(page.get_by_text("预览（尚未写入）")).to_be_visible()
    expect(page.get_by_text("新增居民 3 人")).to_be_visible()
    shot("import-preview")
    page.click("text=确认导入")
    expect(page.get_by_role("status")).to_contain_text("导入成功")
    expect(page.get_by_role("link", name="重新上传")).to_be_visible()
    shot("import-done")
    # the same file again: nothing to write
    upload(page, ledger(), "台账.xlsx")
    expect(page.get_by_text("3 人无变化").first).to_be_visible()
    assert csp_violations == []  # the progress bar and the choices need no inline style


def test_cadre_sees_bad_rows_and_the_mapping(page, login, shot, settings):
    settings.IMPORT_RUNNER = "inline"
    login("cadre")
    upload(page, ledger(bad_phone=True), "台账.xlsx")
    expect(page.get_by_text("电话号码格式不对")).to_be_visible()
    expect(page.get_by_role("link", name="下载错误清单 (xlsx)")).to_be_visible()
    expect(page.locator("table.mapping")).to_be_visible()  # open when the dry run failed
    shot("import-errors")
