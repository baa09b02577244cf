"""Registry import/export endpoints (mounted under /api/registry/)."""

from ninja import File, Router, Status, UploadedFile

from minqing.core.imports import import_start
from minqing.core.permissions import require
from minqing.core.schemas import JobOut, job_out
from minqing.core.tabular import xlsx_response

from .exports import ExportFilters, import_template, registry_export
from .views_io import export_response

router = Router()

XLSX_RESPONSE = {
    "responses": {
        200: {
            "description": "xlsx",
            "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        }
    }
}


@router.post("/import", response={202: JobOut})
def import_registry(request, file: UploadedFile = File(...)):
    """Upload an xlsx/csv ledger (one row per person); all-or-nothing. Poll
    /api/core/jobs/{id} for progress and the bad rows."""
    job = import_start(actor=request.user, kind="registry", upload=file)
    job.refresh_from_db()
    return Status(202, job_out(job))


@router.get("/import/template.xlsx", openapi_extra=XLSX_RESPONSE)
def import_template_xlsx(request):
    """The import spreadsheet with its headers and two example rows."""
    require(request.user, "registry.import")
    return xlsx_response(import_template(request.user), "户籍台账导入模板.xlsx")


@router.get("/export/households.xlsx", openapi_extra=XLSX_RESPONSE)
def export_households(
    request, q: str = "", grid_id: int | None = None, tag: str = "", status: str = ""
):
    """Households matching the list filters, as xlsx with masked IDs and phones."""
    filters = ExportFilters(q=q.strip(), grid_id=grid_id, tag=tag or None, status=status or None)
    return export_response(registry_export(actor=request.user, kind="households", filters=filters))


@router.get("/export/residents.xlsx", openapi_extra=XLSX_RESPONSE)
def export_residents(
    request, q: str = "", grid_id: int | None = None, tag: str = "", status: str = ""
):
    """Residents matching the list filters, as xlsx with masked IDs and phones."""
    filters = ExportFilters(q=q.strip(), grid_id=grid_id, tag=tag or None, status=status or None)
    return export_response(registry_export(actor=request.user, kind="residents", filters=filters))
