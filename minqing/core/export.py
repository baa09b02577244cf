"""One streamed xlsx export for every list: rows from an iterator (a queryset's
.iterator()), written by the write-only workbook to a spooled temporary file, then sent in
chunks. Memory stays flat at 1M rows; the formula guard of core.tabular applies."""

import tempfile
from urllib.parse import quote

from django.http import FileResponse

from .tabular import XLSX_TYPE, write_xlsx_to


def xlsx_export_response(headers, rows, *, filename: str, title: str = "Sheet1"):
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write_xlsx_to(out, headers, rows, title=title)
    out.seek(0)
    response = FileResponse(out, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response
