"""Visit pages: the visit form (phone first), one visit with its notes, the due list,
coverage of an area, the visit log (民情日志) and the must-visit rules. Every object from a
URL comes through get_visible_or_404; every change is one service call."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from minqing.accounts.models import User
from minqing.areas.models import Area
from minqing.core.attachments import attachment_response
from minqing.core.errors import DomainError, form_status
from minqing.core.forms import submit
from minqing.core.permissions import has_perm, require
from minqing.core.public import public_channel, public_throttles
from minqing.core.scoping import get_visible_or_404
from minqing.core.tabular import write_xlsx, xlsx_response
from minqing.registry.models import Household, Resident, ResidentStatus, Tag
from minqing.registry.selectors import household_search

from . import selectors, services
from .forms import NoteForm, PeriodForm, SurveyAnswerForm, SurveyCreateForm, VisitForm
from .models import Survey, SyncConflict, Visit, VisitPhoto, VisitRule


def _household(request, pk) -> Household:
    return get_visible_or_404(
        Household.objects.select_related("grid", "grid__parent", "head"), request.user, pk=pk
    )


def _visit(request, pk) -> Visit:
    return get_visible_or_404(selectors.visit_rows(Visit.objects.all()), request.user, pk=pk)


# ---------------------------------------------------------------- entry


@login_required
def pick_household(request):
    """Start a visit: find the household in the jurisdiction (name, pinyin, address...)."""
    require(request.user, "visits.record")
    q = request.GET.get("q", "").strip()
    rows = []
    if q:
        rows = list(
            household_search(fetched_by=request.user, q=q).select_related("grid", "head")[:20]
        )
    return render(request, "visits/pick_household.html", {"q": q, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def visit_create(request, pk):
    require(request.user, "visits.record")
    household = _household(request, pk)
    members = list(
        Resident.objects.filter(household=household, status=ResidentStatus.LIVING).order_by("id")
    )
    colleagues = services.possible_visitors(household).exclude(pk=request.user.pk)
    form = VisitForm(
        request.POST or None, request.FILES or None, members=members, colleagues=colleagues[:50]
    )
    outcome = submit(
        request,
        form,
        lambda _d: services.visit_record(
            actor=request.user, household=household, **form.service_kwargs()
        ),
    )
    if outcome.done:
        messages.success(request, _("已登记走访"))
        return redirect("visits:visit", outcome.value.pk)
    return render(
        request,
        "visits/visit_form.html",
        {"form": form, "household": household},
        status=outcome.status,
    )


@login_required
def visit_detail(request, pk, note_form=None, status=200):
    require(request.user, "visits.view")
    visit = _visit(request, pk)
    return render(
        request,
        "visits/visit_detail.html",
        {
            "visit": visit,
            "editable": services.visit_editable(visit, user=request.user),
            "can_note": has_perm(request.user, "visits.record"),
            "note_form": note_form or NoteForm(),
        },
        status=status,
    )


@login_required
def visit_photo(request, pk, photo_pk):
    """One photo of a visit, served after the visit was looked up through its scope."""
    require(request.user, "visits.view")
    visit = _visit(request, pk)
    photo = get_object_or_404(VisitPhoto.objects.select_related("visit"), visit=visit, pk=photo_pk)
    return attachment_response(photo, actor=request.user)


@login_required
@require_http_methods(["GET", "POST"])
def visit_edit(request, pk):
    visit = _visit(request, pk)
    require(request.user, "visits.record")
    form = NoteForm(request.POST or None, initial={"text": visit.situation})
    form.fields["text"].label = _("走访情况")
    if not services.visit_editable(visit, user=request.user):
        messages.error(request, _("走访记录登记已超过 24 小时或不是您登记的,不能修改,请添加补记"))
        return redirect("visits:visit", visit.pk)
    outcome = submit(
        request,
        form,
        lambda d: services.visit_update(
            actor=request.user,
            visit=visit,
            situation=d["text"],
            place=visit.place,
            met_others=visit.met_others,
        ),
    )
    if outcome.done:
        messages.success(request, _("已保存"))
        return redirect("visits:visit", visit.pk)
    return render(
        request, "visits/visit_edit.html", {"form": form, "visit": visit}, status=outcome.status
    )


@login_required
@require_POST
def visit_note(request, pk):
    visit = _visit(request, pk)
    form = NoteForm(request.POST)
    outcome = submit(
        request,
        form,
        lambda d: services.visit_add_note(actor=request.user, visit=visit, text=d["text"]),
    )
    if outcome.done:
        messages.success(request, _("已添加补记"))
        return redirect("visits:visit", visit.pk)
    return visit_detail(request, pk, note_form=form, status=outcome.status)


# ---------------------------------------------------------------- due list


@login_required
def due(request):
    require(request.user, "visits.view")
    today = timezone.localdate()
    items, total = selectors.due_list(fetched_by=request.user, today=today, limit=200)
    return render(
        request,
        "visits/due.html",
        {
            "items": items,
            "total": total,
            "today": today,
            "can_record": has_perm(request.user, "visits.record"),
        },
    )


# ---------------------------------------------------------------- coverage


def _report_area(request, form) -> Area:
    pk = form.data.get("area") or (
        form.fields["area"].choices[0][0] if form.fields["area"].choices else None
    )
    if pk is None:
        raise Http404
    return get_visible_or_404(Area, request.user, pk=pk)


@login_required
def coverage(request):
    require(request.user, "visits.coverage")
    areas = list(selectors.visible_areas_for_reports(fetched_by=request.user))
    form = PeriodForm(request.GET or None, areas=areas)
    area = _report_area(request, form)
    start, end = form.period()
    report = selectors.coverage(fetched_by=request.user, area=area, start=start, end=end)
    if request.GET.get("format") == "xlsx":
        return xlsx_response(_coverage_xlsx(report), f"走访覆盖_{area.name}_{start}_{end}.xlsx")
    # by grid for a village or township, by village when the grids are too many to read
    bars = [(r["grid"].name, r) for r in report.by_grid]
    if len(bars) > 20:
        bars = [(r["area"].name, r) for r in report.by_village]
    chart = {
        "labels": [name for name, _r in bars],
        "visited": [r["visited"] for _name, r in bars],
        "unvisited": [r["unvisited"] for _name, r in bars],
    }
    if not form.is_bound:
        form = PeriodForm(initial={"area": str(area.pk), "start": start, "end": end}, areas=areas)
    return render(
        request,
        "visits/coverage.html",
        {"form": form, "report": report, "chart": chart, "area": area, "start": start, "end": end},
    )


def _coverage_xlsx(report) -> bytes:
    headers = [_("网格"), _("所属村/社区"), _("总户数"), _("已走访"), _("未走访"), _("覆盖率%")]
    rows = [
        [
            r["grid"].name,
            r["grid"].parent.name if r["grid"].parent_id else "",
            r["total"],
            r["visited"],
            r["unvisited"],
            round(100 * r["visited"] / r["total"], 1) if r["total"] else 0,
        ]
        for r in report.by_grid
    ]
    rows.append(
        [_("合计"), "", report.total, report.visited, report.total - report.visited, report.rate]
    )
    return write_xlsx(headers, rows, title=_("走访覆盖"))


@login_required
def coverage_households(request):
    """The households behind one figure of the coverage page (visited or not, by grid,
    cadre or rule)."""
    require(request.user, "visits.coverage")
    area = get_visible_or_404(Area, request.user, pk=request.GET.get("area"))
    form = PeriodForm(request.GET, areas=[area])
    start, end = form.period()
    qs = selectors.coverage_households(fetched_by=request.user, area=area, start=start, end=end)
    visited = request.GET.get("visited")
    if visited in ("0", "1"):
        qs = qs.filter(visited=visited == "1")
    if grid := request.GET.get("grid"):
        qs = qs.filter(grid_id=get_visible_or_404(Area, request.user, pk=grid).pk)
    if cadre := request.GET.get("cadre"):
        user = get_visible_or_404(User, request.user, pk=cadre)
        qs = qs.filter(grid__in=user.jurisdictions.values("area_id"))
    if rule := request.GET.get("rule"):
        qs = selectors.rule_households(qs, get_object_or_404(VisitRule, pk=rule), end)
    page = Paginator(qs.select_related("grid", "head").order_by("grid__path", "number"), 50)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "visits/coverage_households.html",
        {
            "page": page.get_page(request.GET.get("page")),
            "area": area,
            "start": start,
            "end": end,
            "visited": visited,
            "query": query.urlencode(),
        },
    )


# ---------------------------------------------------------------- visit log


@login_required
def visit_log(request):
    """民情日志 of one cadre (oneself by default) for a period: printable and xlsx."""
    require(request.user, "visits.view")
    cadre = request.user
    if pk := request.GET.get("cadre"):
        cadre = get_visible_or_404(User, request.user, pk=pk)
    form = PeriodForm(request.GET or None)
    start, end = form.period()
    if not request.GET.get("start"):
        start = end - timedelta(days=30)
    visits = list(selectors.visit_log(fetched_by=request.user, cadre=cadre, start=start, end=end))
    if request.GET.get("format") == "xlsx":
        return xlsx_response(_log_xlsx(visits), f"民情日志_{cadre.username}_{start}_{end}.xlsx")
    return render(
        request,
        "visits/log.html",
        {"visits": visits, "cadre": cadre, "start": start, "end": end, "form": form},
    )


def _log_xlsx(visits) -> bytes:
    headers = [
        _("时间"),
        _("地点"),
        _("户编号"),
        _("住址"),
        _("对象"),
        _("情况"),
        _("发现"),
        _("补记"),
        _("走访人"),
    ]
    rows = []
    for v in visits:
        local = timezone.localtime(v.visited_at)
        people = [m.name for m in v.met_members.all()] + ([v.met_others] if v.met_others else [])
        rows.append(
            [
                local.strftime("%Y-%m-%d %H:%M"),
                v.place,
                v.household.number,
                v.household.address,
                "、".join(people),
                v.situation,
                ";".join(f"{f.get_kind_display()}:{f.text}" for f in v.findings.all()),
                ";".join(
                    f"{timezone.localtime(n.created_at):%Y-%m-%d %H:%M} {n.text}"
                    for n in v.notes.all()
                ),
                "、".join(str(u) for u in v.visitors.all()),
            ]
        )
    return write_xlsx(headers, rows, title=_("民情日志"))


# ---------------------------------------------------------------- rules


@login_required
@require_http_methods(["GET", "POST"])
def rules(request):
    require(request.user, "visits.view")
    error = None
    status = 200
    if request.method == "POST":
        try:
            tag = Tag.objects.filter(code=request.POST.get("tag", "")).first()
            try:
                days = int(request.POST.get("interval_days", ""))
            except ValueError:
                days = 0
            rule = None
            if pk := request.POST.get("rule"):
                rule = get_object_or_404(VisitRule, pk=pk)
            services.visit_rule_save(
                actor=request.user,
                name=request.POST.get("name", ""),
                tag=tag,
                interval_days=days,
                is_active=request.POST.get("is_active") == "on",
                kind=request.POST.get("kind") or VisitRule.Kind.TAG,
                rule=rule,
            )
        except DomainError as exc:
            error = exc.message
            status = form_status(exc) if exc.status != 403 else 403
        else:
            messages.success(request, _("已保存必访规则"))
            return redirect("visits:rules")
    return render(
        request,
        "visits/rules.html",
        {
            "rules": VisitRule.objects.select_related("tag"),
            "tags": Tag.objects.order_by("order", "name"),
            "kinds": VisitRule.Kind.choices,
            "can_manage": has_perm(request.user, "visits.manage_rules"),
            "error": error,
        },
        status=status,
    )


# ---------------------------------------------------------------- offline capture


@login_required
def offline(request):
    """The installable visit page: works with no connection (offline.js, sw.js)."""
    require(request.user, "visits.record")
    return render(request, "visits/offline.html")


def service_worker(request):
    """sw.js from the static files. Served here and allowed the whole site as its scope
    (Service-Worker-Allowed: /): the site's one web manifest starts at /, and an installed
    app opened with no connection gets the offline visit page whatever it opens."""
    found = finders.find("minqing/visits/sw.js")
    if not found:
        raise Http404
    with open(found, "rb") as fh:
        response = HttpResponse(fh.read(), content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@login_required
def conflicts(request):
    """The cadre's offline visits that could not be stored on sync, to retry or dismiss."""
    require(request.user, "visits.record")
    rows = SyncConflict.objects.of(request.user).select_related("visit")
    return render(
        request,
        "visits/conflicts.html",
        {"open": list(rows.open()), "resolved": list(rows.filter(resolved_at__isnull=False)[:20])},
    )


@login_required
@require_POST
def conflict_resolve(request, pk, action):
    conflict = get_object_or_404(SyncConflict.objects.of(request.user).open(), pk=pk)
    try:
        if action == "retry":
            visit = services.sync_conflict_retry(actor=request.user, conflict=conflict)
            messages.success(request, _("已入库"))
            return redirect("visits:visit", visit.pk)
        services.sync_conflict_dismiss(actor=request.user, conflict=conflict)
        messages.success(request, _("已标记为不再入库"))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("visits:conflicts")


# ---------------------------------------------------------------- questionnaires


def _survey(request, pk) -> Survey:
    return get_visible_or_404(Survey.objects.select_related("area"), request.user, pk=pk)


@login_required
def survey_list(request):
    require(request.user, "visits.view")
    surveys = Survey.objects.visible_to(request.user).select_related("area")
    return render(
        request,
        "visits/survey_list.html",
        {"surveys": surveys, "can_manage": has_perm(request.user, "visits.manage_surveys")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def survey_create(request):
    require(request.user, "visits.manage_surveys")
    areas = list(selectors.visible_areas_for_reports(fetched_by=request.user))
    form = SurveyCreateForm(request.POST or None, areas=areas)
    outcome = submit(
        request,
        form,
        lambda d: services.survey_create(
            actor=request.user,
            area=int(d["area"]),
            title=d["title"],
            questions=d["questions"],
            description=d["description"],
        ),
    )
    if outcome.done:
        messages.success(request, _("已发布问卷"))
        return redirect("visits:survey", outcome.value.pk)
    return render(request, "visits/survey_form.html", {"form": form}, status=outcome.status)


@login_required
def survey_detail(request, pk):
    """Results for an area and a period, with the satisfaction index per area below it."""
    require(request.user, "visits.view")
    survey = _survey(request, pk)
    areas = list(selectors.visible_areas_for_reports(fetched_by=request.user))
    form = PeriodForm(request.GET or None, areas=areas)
    area = _report_area(request, form)
    start, end = form.period()
    if not request.GET.get("start"):
        start = timezone.localdate(survey.created_at)
    results = selectors.survey_results(
        fetched_by=request.user, survey=survey, area=area, start=start, end=end
    )
    index = selectors.satisfaction_index(fetched_by=request.user, area=area, start=start, end=end)
    form = PeriodForm(initial={"area": str(area.pk)}, areas=areas)
    return render(
        request,
        "visits/survey_detail.html",
        {
            "survey": survey,
            "form": form,
            "results": results,
            "index": index,
            "area": area,
            "start": start,
            "end": end,
            "public_url": request.build_absolute_uri(
                reverse("visits:survey_public", args=[survey.public_token])
            ),
            "can_manage": has_perm(request.user, "visits.manage_surveys"),
        },
    )


@login_required
@require_POST
def survey_close(request, pk):
    survey = _survey(request, pk)
    try:
        services.survey_close(actor=request.user, survey=survey)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("问卷已结束"))
    return redirect("visits:survey", survey.pk)


@login_required
@require_http_methods(["GET", "POST"])
def survey_fill(request, pk, household_pk):
    """A cadre fills the survey with a household (during a visit)."""
    require(request.user, "visits.record")
    survey = _survey(request, pk)
    household = _household(request, household_pk)
    form = SurveyAnswerForm(request.POST or None, survey=survey)
    outcome = submit(
        request,
        form,
        lambda _d: services.survey_answer(
            actor=request.user, survey=survey, household=household, answers=form.answers()
        ),
    )
    if outcome.done:
        messages.success(request, _("已保存问卷答卷"))
        return redirect("registry:household", household.pk)
    return render(
        request,
        "visits/survey_fill.html",
        {"form": form, "survey": survey, "household": household},
        status=outcome.status,
    )


def survey_public(request, token):
    """The public link: a resident answers without an account (throttled per address)."""
    survey = get_object_or_404(Survey.objects.select_related("area"), public_token=token)
    form = SurveyAnswerForm(request.POST or None, survey=survey, public=True)
    status = 200
    done = False
    if request.method == "POST":
        throttle = public_throttles("survey_answer", "10/m")[0]
        if not throttle.allow_request(request):
            form.is_valid()
            form.add_error(None, _("提交太频繁,请稍后再试"))
            status = 429
        else:
            with public_channel(request):
                outcome = submit(
                    request,
                    form,
                    lambda d: services.survey_answer_public(
                        token=token,
                        household_number=d["household_number"],
                        phone_tail=d["phone_tail"],
                        answers=form.answers(),
                    ),
                )
            done, status = outcome.done, outcome.status
    return render(
        request,
        "visits/survey_public.html",
        {"form": form, "survey": survey, "done": done},
        status=status,
    )


# ---------------------------------------------------------------- pairings (结对帮扶)


def _pairing_rows(request):
    from .models import Pairing

    qs = (
        Pairing.objects.visible_to(request.user)
        .select_related("cadre", "household", "household__head", "household__grid")
        .order_by("household__grid__path", "household__number", "-start_date")
    )
    if request.GET.get("all") != "1":
        qs = qs.filter(end_date__isnull=True)
    if cadre := request.GET.get("cadre", "").strip():
        qs = qs.filter(cadre__username=cadre)
    return qs


@login_required
@require_http_methods(["GET", "POST"])
def pairings(request):
    """结对帮扶: who is answerable for which household; add one, end one, import, export."""
    require(request.user, "visits.view")
    error, status = None, 200
    can_manage = has_perm(request.user, "visits.manage_pairings")
    if request.method == "POST":
        from datetime import date

        try:
            require(request.user, "visits.manage_pairings")
            number = request.POST.get("household_number", "").strip()
            household = (
                Household.objects.visible_to(request.user).filter(number=number).first()
                if number
                else None
            )
            if household is None:
                raise services.NotFoundError(_("户不存在或不在您的管辖范围内"))
            try:
                start = date.fromisoformat(request.POST.get("start_date", ""))
            except ValueError:
                start = timezone.localdate()
            cadre = User.objects.filter(username=request.POST.get("cadre", "")).first()
            services.pairing_create(
                actor=request.user, cadre=cadre, household=household, start_date=start
            )
        except DomainError as exc:
            error = exc.message
            status = form_status(exc) if exc.status != 403 else 403
        else:
            messages.success(request, _("已登记结对"))
            return redirect("visits:pairings")
    page = Paginator(_pairing_rows(request), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "visits/pairings.html",
        {
            "page": page,
            "can_manage": can_manage,
            "error": error,
            "today": timezone.localdate(),
            "show_all": request.GET.get("all") == "1",
        },
        status=status,
    )


@login_required
@require_POST
def pairing_end(request, pk):
    from .models import Pairing

    pairing = get_object_or_404(Pairing.objects.visible_by_area(request.user), pk=pk)
    from datetime import date

    try:
        try:
            day = date.fromisoformat(request.POST.get("end_date", ""))
        except ValueError:
            day = timezone.localdate()
        services.pairing_end(
            actor=request.user, pairing=pairing, end_date=day, reason=request.POST.get("reason", "")
        )
        messages.success(request, _("已结束结对"))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("visits:pairings")


@login_required
@require_http_methods(["GET", "POST"])
def pairing_import(request):
    from minqing.core.views import import_upload

    require(request.user, "visits.manage_pairings")
    done, error = import_upload(request, kind="visits_pairings")
    return done or render(request, "visits/pairing_import.html", {"error": error})


@login_required
def pairing_template(request):
    from .imports import PAIRING_HEADERS

    require(request.user, "visits.manage_pairings")
    return xlsx_response(write_xlsx(PAIRING_HEADERS, []), "结对帮扶名单模板.xlsx")


@login_required
def pairing_export(request):
    """The pairing list as cadres keep it (imports back as all unchanged); no ID numbers."""
    require(request.user, "visits.view")
    rows = [
        (
            p.cadre.get_full_name() or p.cadre.username,
            p.cadre.username,
            p.household.head.name if p.household.head_id else "",
            p.household.number,
            "",
            p.start_date,
            p.end_date or "",
        )
        for p in _pairing_rows(request)[:20000]
    ]
    from .imports import PAIRING_HEADERS

    return xlsx_response(
        write_xlsx([*PAIRING_HEADERS, str(_("结束日期"))], rows), "结对帮扶名单.xlsx"
    )


urlpatterns = [
    path("", due, name="due"),
    path("new/", pick_household, name="pick"),
    path("households/<int:pk>/new/", visit_create, name="create"),
    path("<int:pk>/", visit_detail, name="visit"),
    path("<int:pk>/edit/", visit_edit, name="edit"),
    path("<int:pk>/photos/<int:photo_pk>/", visit_photo, name="photo"),
    path("<int:pk>/notes/", visit_note, name="note"),
    path("coverage/", coverage, name="coverage"),
    path("coverage/households/", coverage_households, name="coverage_households"),
    path("log/", visit_log, name="log"),
    path("rules/", rules, name="rules"),
    path("offline/", offline, name="offline"),
    path("sw.js", service_worker, name="sw"),
    path("conflicts/", conflicts, name="conflicts"),
    path(
        "conflicts/<int:pk>/retry/",
        conflict_resolve,
        {"action": "retry"},
        name="conflict_retry",
    ),
    path(
        "conflicts/<int:pk>/dismiss/",
        conflict_resolve,
        {"action": "dismiss"},
        name="conflict_dismiss",
    ),
    path("surveys/", survey_list, name="surveys"),
    path("surveys/new/", survey_create, name="survey_create"),
    path("surveys/<int:pk>/", survey_detail, name="survey"),
    path("surveys/<int:pk>/close/", survey_close, name="survey_close"),
    path("surveys/<int:pk>/households/<int:household_pk>/", survey_fill, name="survey_fill"),
    path("s/<str:token>/", survey_public, name="survey_public"),
    path("pairings/", pairings, name="pairings"),
    path("pairings/<int:pk>/end/", pairing_end, name="pairing_end"),
    path("pairings/import/", pairing_import, name="pairing_import"),
    path("pairings/template.xlsx", pairing_template, name="pairing_template"),
    path("pairings/export.xlsx", pairing_export, name="pairing_export"),
]
