import json
from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import F, Q
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.areas.selectors import area_picker_choices, areas_by_code, held_areas

from .audit import (
    audit_action_codes,
    audit_filter,
    audit_filters,
    describe_targets,
    registered_actions,
)
from .imports import job_errors_xlsx
from .jobs import alive
from .models import Job
from .permissions import require
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
    # the held areas and the way up to each: the session's paths and the process's copy of
    # the areas, no query once they have been read
    areas = held_areas(user)
    by_code = areas_by_code({code for a in areas for code in a.ancestor_codes})
    crumbs = {a.pk: [by_code[c] for c in a.ancestor_codes if c in by_code] for a in areas}
    return render(
        request,
        "core/home.html",
        {
            "areas": [{"area": a, "ancestors": crumbs[a.pk]} for a in areas],
            "panels": home_panels(request),
        },
    )


AUDIT_PAGE = 50
AUDIT_ROW_FIELDS = (
    "at",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "area",
    "source_address",
    "detail",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _audit_cursor(event) -> str:
    """A position in the log: the event's time (microseconds) and id, the log's order."""
    delta = event.at - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{event.pk}"


def _parse_cursor(value: str):
    micros, _, pk = (value or "").partition(".")
    if not (micros.isdigit() and pk.isdigit()) or len(micros) > 17 or len(pk) > 18:
        return None
    return _EPOCH + timedelta(microseconds=int(micros)), int(pk)


def _options(choices, selected) -> str:
    """`<option>`s of a filter's `<select>`, written in Python: the action list is every
    registered action (about 80), and the template loop over it was a third of the page."""
    return mark_safe(  # noqa: S308 - every value escaped
        "".join(
            f'<option value="{escape(code)}"{" selected" if code == selected else ""}>'
            f"{escape(label)}</option>"
            for code, label in choices
        )
    )


# language -> (the registered actions' labels by code, ordered by label; their options with
# none selected): the actions are registered at import, and sorting ~80 lazy labels and
# writing their options was redone on every page
_ACTIONS_BY_LANGUAGE: dict[tuple, tuple[dict, str]] = {}


def _actions(selected) -> tuple[dict, str]:
    """(labels by code, the action filter's options with `selected` chosen)."""
    key = (get_language(), len(audit_action_codes()))
    cached = _ACTIONS_BY_LANGUAGE.get(key)
    if cached is None:
        labels = dict(registered_actions())
        cached = _ACTIONS_BY_LANGUAGE[key] = (labels, _options(labels.items(), None))
    labels, html = cached
    return labels, (_options(labels.items(), selected) if selected else html)


def audit_keyset_page(qs, params, size=None):
    """One page of the log (newest first) from a position, without counting the log: a
    county's or a city's log is a million rows, and a count was most of the page's time.
    `before` pages back in time, `after` forward; returns (rows, newer, older) with the
    cursors of the neighbouring pages (None at either end)."""
    size = size or AUDIT_PAGE
    before, after = _parse_cursor(params.get("before")), _parse_cursor(params.get("after"))
    if after is not None:
        at, pk = after
        rows = list(qs.filter(Q(at__gt=at) | Q(at=at, pk__gt=pk)).order_by("at", "id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        newer = _audit_cursor(rows[0]) if more_newer and rows else None
        older = _audit_cursor(rows[-1]) if rows else None
        return rows, newer, older
    if before is not None:
        at, pk = before
        qs = qs.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
    rows = list(qs[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer = _audit_cursor(rows[0]) if before is not None and rows else None
    older = _audit_cursor(rows[-1]) if more_older else None
    return rows, newer, older


class AuditRow:
    """An audit page row from its columns (what audit_rows, describe_targets and the page's
    cursor read of an AuditEvent), not a model instance per row."""

    __slots__ = (
        *("pk", "at", "actor_label", "action", "target_type", "target_id", "target_repr"),
        *("area_id", "area_name", "source_address", "detail"),
        *("target_name", "target_url", "action_label", "detail_text"),
    )
    COLUMNS = (
        *("pk", "at", "actor_label", "action", "target_type", "target_id", "target_repr"),
        *("area_id", "area__name", "source_address", "detail"),
    )

    def __init__(self, row):
        (
            self.pk,
            self.at,
            self.actor_label,
            self.action,
            self.target_type,
            self.target_id,
            self.target_repr,
            self.area_id,
            self.area_name,
            self.source_address,
            detail,
        ) = row
        # as the model's fields give them: the JSON decoded, the time aware (SQLite's cursor
        # gives it naive, in UTC), the address as text
        self.detail = detail
        if isinstance(detail, str):  # JSONField.from_db_value
            try:
                self.detail = json.loads(detail)
            except json.JSONDecodeError:
                pass
        if timezone.is_naive(self.at):
            self.at = timezone.make_aware(self.at, UTC)
        if self.source_address is not None:
            self.source_address = str(self.source_address)


# A page of the log with none of the filters, the newest first: the supervisor's landing
# page, built and compiled once per shape (core.statements) instead of on every visit.
_UNFILTERED = frozenset({"page"})


def _audit_newest_page(user) -> list[AuditRow]:
    """The newest AUDIT_PAGE + 1 events the user may read, as audit_filter with no filters
    orders them. `admin` is a name of the values: that role also reads the events tied to
    no area (AuditEventQuerySet.visible_to), so it is part of the statement's shape."""
    from minqing.core.statements import Statement, compiled, scope_user, scope_values

    from .models import AuditEvent

    values = scope_values(user)
    if "superuser" not in values and getattr(user, "role", None) == "admin":
        values["admin"] = ""

    def build(marks):
        viewer = scope_user(marks)
        viewer.role = "admin" if "admin" in marks else ""
        return (
            AuditEvent.objects.visible_to(viewer)
            .order_by("-at", "-id")
            .values_list(*AuditRow.COLUMNS)
        )

    rows = Statement(compiled(("audit-newest",), values, build), None)
    return [AuditRow(row) for row in rows[: AUDIT_PAGE + 1]]


@login_required
def audit_list(request):
    """The supervisor's audit browser: actions in words, objects as named links, filters by
    person, household, area and action (see core.audit for how apps plug in)."""
    if set(request.GET) <= _UNFILTERED:
        require(request.user, "core.view_audit")
        rows = _audit_newest_page(request.user)
        older = _audit_cursor(rows[AUDIT_PAGE - 1]) if len(rows) > AUDIT_PAGE else None
        rows, newer = rows[:AUDIT_PAGE], None
    else:
        # the columns the rows show, and the area's name as a column of the row rather than
        # an Area built per row (fifty more model instances a page; the join is the scope's)
        qs = (
            audit_filter(request.user, request.GET)
            .select_related(None)
            .only(*AUDIT_ROW_FIELDS)
            .annotate(area_name=F("area__name"))
        )
        rows, newer, older = audit_keyset_page(qs, request.GET)
    describe_targets(request.user, rows)
    query = request.GET.copy()
    for key in ("page", "before", "after"):
        query.pop(key, None)
    params = request.GET
    # a cascading area filter (the chosen area, the way up, its children), never every
    # village of a city in one <select>
    areas = area_picker_choices(request.user, params.get("area"), blank=_("全部"))
    extra = [
        {
            "name": f.name,
            "label": f.label,
            "placeholder": f.placeholder,
            "value": params.get(f.name, ""),
        }
        for f in audit_filters()
    ]
    chips = [{"label": e["label"], "value": e["value"]} for e in extra if e["value"]]
    labels, action_options = _actions(params.get("action"))
    if params.get("area"):
        name = next((label for pk, label in areas if pk and pk == params["area"]), "—")
        chips.append({"label": _("区域"), "value": name.lstrip("\u3000›‹ ")})
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
            "events": rows,
            "newer": newer,
            "older": older,
            "paged": bool(params.get("before") or params.get("after")),
            "filters": params,
            "filtered": filtered,
            "chips": chips,
            "extra_filters": extra,
            "action_options": action_options,
            "area_options": _options(areas, params.get("area")),
            "query": query.urlencode(),
        },
    )


def _job_for(user, job_id) -> Job:
    try:
        job = Job.objects.visible_to(user).get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404
    return alive(job)


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
