from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.areas.models import Area, Level

from .audit import audit_filter, audit_filters, describe_targets, registered_actions
from .imports import job_errors_xlsx
from .models import Job
from .plugins import home_panels
from .tabular import xlsx_response


@require_GET
def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_required
def home(request):
    user = request.user
    areas = list(
        Area.objects.filter(pk__in=user.jurisdictions.values("area_id")).select_related("parent")
    )
    codes = {code for a in areas for code in a.ancestor_codes}
    by_code = {a.code: a for a in Area.objects.filter(code__in=codes)}  # one query for all
    crumbs = {a.pk: [by_code[c] for c in a.ancestor_codes if c in by_code] for a in areas}
    return render(
        request,
        "core/home.html",
        {
            "areas": [{"area": a, "ancestors": crumbs[a.pk]} for a in areas],
            "panels": home_panels(request),
        },
    )


@login_required
def audit_list(request):
    """The supervisor's audit browser: actions in words, objects as named links, filters by
    person, household, area and action (see core.audit for how apps plug in)."""
    qs = audit_filter(request.user, request.GET)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    describe_targets(request.user, page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    areas = (
        Area.objects.visible_to(request.user)
        .filter(level__lte=Level.VILLAGE)
        .order_by("path")
        .only("id", "name", "level")
    )
    extra = [
        {
            "name": f.name,
            "label": f.label,
            "placeholder": f.placeholder,
            "value": request.GET.get(f.name, ""),
        }
        for f in audit_filters()
    ]
    chips = [{"label": e["label"], "value": e["value"]} for e in extra if e["value"]]
    labels = dict(registered_actions())
    params = request.GET
    if params.get("area"):
        name = next((a.name for a in areas if str(a.pk) == params["area"]), "—")
        chips.append({"label": _("区域"), "value": name})
    if params.get("action"):
        chips.append({"label": _("动作"), "value": labels.get(params["action"], params["action"])})
    if params.get("actor"):
        chips.append({"label": _("操作人"), "value": params["actor"]})
    if params.get("date_from") or params.get("date_to"):
        span = f"{params.get('date_from', '')} – {params.get('date_to', '')}"
        chips.append({"label": _("日期"), "value": span})
    filtered = bool(chips)
    return render(
        request,
        "core/audit_list.html",
        {
            "page": page,
            "filters": request.GET,
            "filtered": filtered,
            "chips": chips,
            "extra_filters": extra,
            "actions": registered_actions(),
            "areas": areas,
            "query": query.urlencode(),
        },
    )


def _job_for(user, job_id) -> Job:
    try:
        return Job.objects.visible_to(user).get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404


@login_required
def job_detail(request, job_id):
    job = _job_for(request.user, job_id)
    template = "core/_job.html" if request.headers.get("HX-Request") else "core/job.html"
    return render(request, template, {"job": job})


@login_required
def job_errors(request, job_id):
    import io
    from pathlib import Path

    job = _job_for(request.user, job_id)
    if not job.result.get("errors"):
        raise Http404
    if not job.input_file or not Path(job.input_file).exists():
        raise Http404  # deleted after the retention period
    buf = io.BytesIO()
    job_errors_xlsx(job, buf)
    return xlsx_response(buf.getvalue(), f"导入错误-{job.created_at:%Y%m%d%H%M}.xlsx")


@login_required
@require_POST
def job_action(request, job_id, action: str):
    """Commit, cancel or re-map an import after its dry run (the job page's buttons)."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from .errors import DomainError
    from .imports import import_cancel, import_commit, import_remap

    job = _job_for(request.user, job_id)
    try:
        if action == "commit":
            import_commit(
                actor=request.user,
                job_id=job.pk,
                strategy=request.POST.get("strategy") or "create_update",
            )
        elif action == "cancel":
            import_cancel(actor=request.user, job_id=job.pk)
        elif action == "remap":
            mapping = {
                key[4:]: value
                for key, value in request.POST.items()
                if key.startswith("col:") and len(key) < 120
            }
            import_remap(actor=request.user, job_id=job.pk, mapping=mapping)
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("core:job", job.pk)


def import_upload(request, *, kind: str):
    """The POST half of every import page: start the job and go to its progress page.
    Returns (redirect, None), or (None, error message) to show on the form."""
    from django.contrib import messages
    from django.shortcuts import redirect
    from django.utils.translation import gettext as _

    from .errors import DomainError
    from .imports import import_start

    if request.method != "POST":
        return None, None
    upload = request.FILES.get("file")
    if upload is None:
        return None, _("请选择要导入的文件")
    try:
        job = import_start(actor=request.user, kind=kind, upload=upload)
    except DomainError as exc:
        return None, exc.message
    messages.info(request, _("文件已上传"))
    return redirect("core:job", job.pk), None
