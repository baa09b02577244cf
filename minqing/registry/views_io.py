"""Registry spreadsheet pages: import upload (then the core job page shows progress and
errors), the import template, and the xlsx export of any filtered list."""

from pathlib import Path
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.core.models import Job
from minqing.core.permissions import has_perm, require
from minqing.core.tabular import XLSX_TYPE, xlsx_response
from minqing.core.views import import_upload

from .exports import (
    EXPORT_INLINE_ROWS,
    EXPORT_JOB,
    ExportFilters,
    export_size,
    export_start,
    import_template,
    registry_export,
)
from .imports import COLUMNS, FIELDS, RELATION_WORDS, REQUIRED, STATUS_WORDS


@login_required
@require_http_methods(["GET", "POST"])
def import_registry(request):
    require(request.user, "registry.import")
    done, error = import_upload(request, kind="registry")
    if done:
        return done
    recent = Job.objects.visible_to(request.user).filter(kind="registry")[:5]
    required = {f for need in REQUIRED for f in (need if isinstance(need, tuple) else (need,))}
    columns = [
        {
            "name": COLUMNS[f][0] if f != "grid" else f"{COLUMNS[f][0]}/{COLUMNS['grid_name'][0]}",
            "aliases": COLUMNS[f][1:],
            "required": f in required,
        }
        for f in FIELDS
        if f != "grid_name"
    ]
    return render(
        request,
        "registry/import.html",
        {
            "error": error,
            "recent": recent,
            "columns": columns,
            "relations": [str(r.label) for r in RELATION_WORDS],
            "statuses": [str(s.label) for s in STATUS_WORDS],
            "can_reveal": has_perm(request.user, "registry.reveal_id"),
        },
    )


@login_required
@require_GET
def import_template_xlsx(request):
    require(request.user, "registry.import")
    return xlsx_response(import_template(request.user), _("户籍台账导入模板") + ".xlsx")


def export_response(export) -> FileResponse:
    response = FileResponse(export.file, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(export.filename)}"
    response["X-Row-Count"] = str(export.rows)
    return response


def _export(request, kind: str):
    """A small export answers at once; a big one becomes a background job (its page shows
    progress, then the download link), so no web worker writes a county's registry."""
    filters = ExportFilters.from_params(request.GET)
    total = export_size(actor=request.user, kind=kind, filters=filters)
    if total > EXPORT_INLINE_ROWS:
        job = export_start(actor=request.user, kind=kind, filters=filters, total=total)
        return redirect("core:job", job.pk)
    return export_response(
        registry_export(actor=request.user, kind=kind, filters=filters, inline=True)
    )


@login_required
@require_GET
def export_households(request):
    return _export(request, "households")


@login_required
@require_GET
def export_residents(request):
    return _export(request, "residents")


@login_required
@require_GET
def export_download(request, job_id):
    """The file of a finished export job, for the person who started it."""
    try:
        job = Job.objects.visible_to(request.user).get(pk=job_id, kind=EXPORT_JOB)
    except (Job.DoesNotExist, ValueError):
        raise Http404
    path = job.result.get("download")
    if job.status != Job.Status.DONE or not path or not Path(path).exists():
        raise Http404
    response = FileResponse(open(path, "rb"), content_type=XLSX_TYPE)
    name = quote(job.result.get("filename", "export.xlsx"))
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def export_residents_unmasked(request):
    """The ledger with full IDs and phones, to correct and import again: the reveal right
    and a typed reason, audited."""
    require(request.user, "registry.reveal_id")
    error = None
    if request.method == "POST":
        reason = (request.POST.get("reason") or "").strip()
        if reason:
            filters = ExportFilters.from_params(request.POST)
            export = registry_export(
                actor=request.user, kind="residents", filters=filters, reveal_reason=reason
            )
            return export_response(export)
        error = _("请填写导出完整号码的原因")
    return render(
        request,
        "registry/export_unmasked.html",
        {"error": error, "params": request.GET},
    )


urlpatterns = [
    path("import/", import_registry, name="import"),
    path("import/template.xlsx", import_template_xlsx, name="import_template"),
    path("export/households.xlsx", export_households, name="export_households"),
    path("export/residents.xlsx", export_residents, name="export_residents"),
    path("export/residents-full.xlsx", export_residents_unmasked, name="export_residents_unmasked"),
    path("export/<uuid:job_id>/download/", export_download, name="export_download"),
]
