"""Appeal pages (htmx, phone first). Views parse, look up through the scope, call one
service and render; DomainErrors come back onto the form."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minqing.accounts.models import User
from minqing.core.attachments import attachment_response
from minqing.core.errors import DomainError
from minqing.core.export import xlsx_export_response
from minqing.core.forms import submit
from minqing.core.permissions import has_perm, require
from minqing.core.public import format_code, public_channel
from minqing.core.scoping import get_visible_or_404
from minqing.core.sections import page_sections
from minqing.core.timeline import timeline_for

from . import selectors, services
from .forms import ACTION_FORMS, AppealForm, MediateForm, RateForm, ReplyForm, TrackForm
from .models import Appeal, Category, Channel, State
from .public import track_view
from .workflow import APPEAL_FLOW

PAGE_SIZE = 20
_DETAIL = ("category", "area", "handling_area", "owner", "unit", "household")


def _appeal(request, pk) -> Appeal:
    require(request.user, "appeals.view")
    return get_visible_or_404(Appeal.objects.select_related(*_DETAIL), request.user, pk=pk)


def _filters(request) -> dict:
    g = request.GET
    return {
        "state": g.get("state", ""),
        "category": g.get("category", ""),
        "kind": g.get("kind", ""),
        "q": g.get("q", "").strip()[:50],
        "overdue": g.get("overdue") == "1",
    }


@login_required
def appeal_list(request):
    require(request.user, "appeals.view")
    filters = _filters(request)
    qs = selectors.appeal_list(fetched_by=request.user, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "appeals/list.html",
        {
            "page": page,
            "query": query.urlencode(),
            "filters": filters,
            "states": State.choices,
            "categories": Category.objects.filter(is_active=True),
            "can_file": has_perm(request.user, "appeals.file"),
            "can_export": has_perm(request.user, "appeals.export"),
        },
    )


@login_required
def appeal_duties(request):
    require(request.user, "appeals.view")
    page = Paginator(selectors.appeal_duties(fetched_by=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "appeals/duties.html", {"page": page, "query": ""})


@login_required
def appeal_export(request):
    """The filtered list as xlsx (streamed; phones masked)."""
    require(request.user, "appeals.export")
    qs = selectors.appeal_list(fetched_by=request.user, **_filters(request))
    headers = [
        _("编号"),
        _("受理时间"),
        _("类别"),
        _("区域"),
        _("标题"),
        _("状态"),
        _("当前层级"),
        _("承办单位"),
        _("责任人"),
        _("办理期限"),
        _("联系电话"),
    ]

    def rows():
        for a in qs.iterator(chunk_size=2000):
            yield [
                a.pk,
                a.created_at.strftime("%Y-%m-%d %H:%M"),
                a.category.name,
                a.area.name,
                a.title,
                str(State(a.state).label),
                a.handling_area.name,
                a.unit.name if a.unit_id else "",
                str(a.owner) if a.owner_id else "",
                a.due_at.strftime("%Y-%m-%d") if a.due_at else "",
                a.contact_phone_masked,
            ]

    return xlsx_export_response(headers, rows(), filename="诉求清单.xlsx", title="诉求")


@login_required
def appeal_create(request):
    require(request.user, "appeals.file")
    form = AppealForm(request.POST or None, user=request.user)
    outcome = submit(
        request, form, lambda d: services.appeal_file(actor=request.user, **form.service_kwargs())
    )
    if outcome.done:
        appeal, code = outcome.value
        messages.success(
            request,
            _("已受理。请把查询码告诉群众:%(code)s") % {"code": format_code(code)},
        )
        return redirect("appeals:detail", appeal.pk)
    return render(request, "appeals/form.html", {"form": form}, status=outcome.status)


def _action_form(action, appeal, user, data=None):
    cls = ACTION_FORMS[action]
    if action == "assign":
        units = list(services.assignable_units(user, appeal).select_related("area")[:200])
        owners = User.objects.filter(unit__in=units, is_active=True).select_related("unit")[:500]
        return cls(data, units=units, owners=owners, prefix=action)
    return cls(data, prefix=action)


@login_required
def appeal_detail(request, pk, *, forms=None, status=200):
    appeal = _appeal(request, pk)
    actions = APPEAL_FLOW.allowed_actions(appeal.state, request.user, appeal)
    forms = forms or {}
    action_forms = [
        (a, APPEAL_FLOW.labels.get(a, a), forms.get(a) or _action_form(a, appeal, request.user))
        for a in actions
    ]
    # errors of an action no longer offered (someone else claimed it first) go on top
    stale_errors = [
        e
        for a, f in forms.items()
        if a not in actions and a != "reply"
        for e in f.non_field_errors()
    ]
    return render(
        request,
        "appeals/detail.html",
        {
            "appeal": appeal,
            "stale_errors": stale_errors,
            "timeline": timeline_for(appeal, fetched_by=request.user),
            "action_forms": action_forms,
            "reply_form": forms.get("reply") or ReplyForm(prefix="reply"),
            "mediate_form": (forms.get("mediate") or MediateForm(prefix="mediate"))
            if appeal.kind == "dispute"
            and appeal.state not in ("resolved", "revisited", "archived")
            else None,
            "attachments": appeal.attachments.all(),
            "can_handle": has_perm(request.user, "appeals.handle"),
            "sections": page_sections("appeals.detail", request, appeal),
        },
        status=status,
    )


_CALLS = {
    "claim": lambda u, a, d: services.appeal_claim(actor=u, appeal=a, **d),
    "assign": lambda u, a, d: services.appeal_assign(actor=u, appeal=a, **d),
    "start": lambda u, a, d: services.appeal_start(actor=u, appeal=a, **d),
    "return": lambda u, a, d: services.appeal_return(actor=u, appeal=a, **d),
    "escalate": lambda u, a, d: services.appeal_escalate(actor=u, appeal=a, **d),
    "supervise": lambda u, a, d: services.appeal_supervise(actor=u, appeal=a, **d),
    "resolve": lambda u, a, d: services.appeal_resolve(actor=u, appeal=a, **d),
    "rate": lambda u, a, d: services.appeal_rate(actor=u, appeal=a, channel="visit", **d),
    "reopen": lambda u, a, d: services.appeal_reopen(actor=u, appeal=a, **d),
    "archive": lambda u, a, d: services.appeal_archive(actor=u, appeal=a, **d),
}


@login_required
@require_POST
def appeal_act(request, pk, action):
    appeal = _appeal(request, pk)
    if action not in _CALLS:
        raise Http404
    form = _action_form(action, appeal, request.user, request.POST)
    outcome = submit(request, form, lambda d: _CALLS[action](request.user, appeal, d))
    if outcome.done:
        messages.success(request, _("已%(action)s") % {"action": APPEAL_FLOW.labels[action]})
        return redirect("appeals:detail", appeal.pk)
    return appeal_detail(request, pk, forms={action: form}, status=outcome.status)


@login_required
@require_POST
def appeal_reply(request, pk):
    appeal = _appeal(request, pk)
    form = ReplyForm(request.POST, prefix="reply")
    outcome = submit(
        request, form, lambda d: services.appeal_reply(actor=request.user, appeal=appeal, **d)
    )
    if outcome.done:
        return redirect("appeals:detail", appeal.pk)
    return appeal_detail(request, pk, forms={"reply": form}, status=outcome.status)


@login_required
def appeal_duplicates(request, pk):
    """The detail page's likely duplicates (htmx, loaded after the page): open matters of
    the village saying the same thing, each to confirm as the same matter or reject; a
    POST records the verdict (other_id, same=1/0) and shows the list again."""
    appeal = _appeal(request, pk)
    require(request.user, "appeals.file")
    error = None
    if request.method == "POST":
        other = request.POST.get("other_id", "")
        try:
            services.duplicate_judge(
                actor=request.user,
                appeal=appeal,
                other_id=int(other) if other.isdigit() else 0,
                same=request.POST.get("same") == "1",
            )
        except DomainError as e:
            error = str(e)
    return render(
        request,
        "appeals/_duplicates.html",
        {
            "appeal": appeal,
            "error": error,
            "proposed": selectors.duplicate_proposals(fetched_by=request.user, appeal=appeal),
            "judged": selectors.duplicate_verdicts(fetched_by=request.user, appeal=appeal),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def appeal_mediate(request, pk):
    """矛盾纠纷: the mediation record and outcome."""
    appeal = _appeal(request, pk)
    form = MediateForm(request.POST, prefix="mediate")
    outcome = submit(
        request, form, lambda d: services.dispute_mediate(actor=request.user, appeal=appeal, **d)
    )
    if outcome.done:
        messages.success(request, _("调解记录已保存"))
        return redirect("appeals:detail", appeal.pk)
    return appeal_detail(request, pk, forms={"mediate": form}, status=outcome.status)


@login_required
@require_POST
def appeal_attach(request, pk):
    appeal = _appeal(request, pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("请选择文件"))
    else:
        try:
            services.appeal_attach(
                actor=request.user,
                appeal=appeal,
                upload=upload,
                is_public=request.POST.get("is_public") == "on",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("appeals:detail", appeal.pk)


@login_required
def attachment_download(request, pk, att):
    appeal = _appeal(request, pk)
    row = appeal.attachments.filter(pk=att).first()
    if row is None:
        raise Http404
    return attachment_response(row, actor=request.user)


# ---- public pages: no account needed ------------------------------------------------------


def public_new(request):
    """The resident's form: area from the tree, category, text; the tracking code after."""
    form = AppealForm(request.POST or None, user=None)
    code = None
    status = 200
    if request.method == "POST":
        from minqing.core.public import PublicThrottle
        from minqing.core.public import public_throttles as throttles

        throttle: PublicThrottle = throttles("appeal_file")[0]
        files = request.FILES.getlist("attachments")
        # Files have their own budget per client (each file counts), on top of the filing one.
        per_file = throttles("appeal_attach")[0]
        if not throttle.allow_request(request) or not all(
            per_file.allow_request(request) for _f in files
        ):
            return render(
                request, "appeals/public_new.html", {"form": form, "throttled": True}, status=429
            )
        with public_channel(request):
            outcome = submit(
                request,
                form,
                lambda d: services.appeal_file(
                    actor=None, channel=Channel.WEB, attachments=files, **form.service_kwargs()
                ),
            )
        if outcome.done:
            code = format_code(outcome.value[1])
        status = outcome.status
    return render(
        request,
        "appeals/public_new.html",
        {"form": form, "code": code, "max_files": settings.PUBLIC_ATTACHMENT_MAX_COUNT},
        status=status,
    )


def public_track(request):
    """Tracking page: state, promised date, public replies; rating when resolved."""
    from minqing.core.public import public_throttles as throttles

    form = TrackForm(request.POST or request.GET or None)
    view = None
    rate_form = None
    status = 200
    if form.is_bound and form.is_valid():
        if not throttles("appeal_track")[0].allow_request(request):
            return render(
                request, "appeals/track.html", {"form": form, "throttled": True}, status=429
            )
        code = form.cleaned_data["code"]
        try:
            appeal = services.appeal_by_code(code)
        except DomainError as exc:
            form.add_error("code", exc.message)
            status = 404
        else:
            rate_form = RateForm(request.POST if "rating" in request.POST else None)
            if request.method == "POST" and "rating" in request.POST:
                with public_channel(request):
                    rated = submit(
                        request,
                        rate_form,
                        lambda d: services.appeal_rate(
                            actor=None, appeal=appeal, channel="web", **d
                        ),
                    )
                if rated.done:
                    appeal = Appeal.objects.select_related("category").get(pk=appeal.pk)
                    rate_form = RateForm()
                else:
                    status = rated.status
            view = track_view(appeal)
    return render(
        request,
        "appeals/track.html",
        {"form": form, "view": view, "rate_form": rate_form},
        status=status,
    )


@login_required
@require_POST
def appeal_suggest(request):
    """The intake form's proposal (htmx): categories and likely duplicates nearby."""
    from minqing.areas.models import Area, Level

    from . import routing

    require(request.user, "appeals.file")
    text = request.POST.get("content", "")[:5000]
    duplicates = []
    area_id = request.POST.get("area_id", "")
    if area_id.isdigit():
        area = Area.objects.visible_to(request.user).filter(pk=int(area_id)).first()
        if area is not None and area.level >= Level.VILLAGE:
            cat = request.POST.get("category_id", "")
            duplicates = routing.duplicate_suggest(
                fetched_by=request.user,
                text=text,
                area=area,
                category_id=int(cat) if cat.isdigit() else None,
            )
    return render(
        request,
        "appeals/_suggest.html",
        {"categories": routing.route_suggest(text), "duplicates": duplicates},
    )


@login_required
def meeting_list(request):
    """Screening meetings in my areas, the areas that have not met this period, and the
    form to record one."""
    from datetime import date

    from minqing.areas.models import Area, Level

    from .models import Meeting

    require(request.user, "appeals.view")
    error = None
    if request.method == "POST":
        try:
            held_on = date.fromisoformat(request.POST.get("held_on", ""))
            ids = [int(i) for i in request.POST.get("appeal_ids", "").replace(",", " ").split()]
            services.meeting_record(
                actor=request.user,
                area_id=int(request.POST.get("area_id") or 0),
                held_on=held_on,
                attendees=request.POST.get("attendees", ""),
                decisions=request.POST.get("decisions", ""),
                appeal_ids=ids,
            )
            messages.success(request, _("例会已记录"))
            return redirect("appeals:meetings")
        except ValueError:
            error = _("日期或事项编号格式有误")
        except DomainError as exc:
            error = exc.message
    meetings = (
        Meeting.objects.visible_to(request.user)
        .select_related("area")
        .prefetch_related("appeals")[:50]
    )
    return render(
        request,
        "appeals/meetings.html",
        {
            "meetings": meetings,
            "missing": services.meetings_missing(fetched_by=request.user),
            "areas": Area.objects.visible_to(request.user).filter(
                level__in=[Level.VILLAGE, Level.TOWNSHIP]
            ),
            "can_record": has_perm(request.user, "appeals.meetings"),
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
def appeal_stats(request):
    """小事不出村 (matters solved at each level) and leaders' claimed micro-matters."""
    require(request.user, "appeals.view")
    return render(
        request,
        "appeals/stats.html",
        {
            "levels": selectors.solved_by_level(fetched_by=request.user),
            "leaders": list(selectors.leader_claims(fetched_by=request.user)),
        },
    )


@login_required
def reception_list(request):
    """Reception duty (大接访): who received whom, when, about what."""
    from datetime import date

    from minqing.areas.models import Area

    from .models import Reception

    require(request.user, "appeals.view")
    error = None
    if request.method == "POST":
        try:
            appeal_id = request.POST.get("appeal_id", "").strip()
            services.reception_record(
                actor=request.user,
                area_id=int(request.POST.get("area_id") or 0),
                received_on=date.fromisoformat(request.POST.get("received_on", "")),
                visitor=request.POST.get("visitor", ""),
                summary=request.POST.get("summary", ""),
                appeal_id=int(appeal_id) if appeal_id else None,
            )
            messages.success(request, _("接访记录已保存"))
            return redirect("appeals:receptions")
        except ValueError:
            error = _("日期或事项编号格式有误")
        except DomainError as exc:
            error = exc.message
    rows = Reception.objects.visible_to(request.user).select_related("area", "receiver")[:100]
    return render(
        request,
        "appeals/receptions.html",
        {
            "rows": rows,
            "areas": Area.objects.visible_to(request.user).filter(level__lte=4),
            "can_record": has_perm(request.user, "appeals.meetings"),
            "error": error,
        },
        status=400 if error else 200,
    )
