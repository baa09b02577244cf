"""Tip pages: the public form and receipt look-up (anonymous_endpoint), the officers' pages
(login, second factor, political-legal role, visible_to), and the counts page for everyone."""

from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from minqing.accounts.models import User
from minqing.core.errors import DomainError
from minqing.core.forms import submit
from minqing.core.tabular import write_xlsx, xlsx_response
from minqing.core.timeline import timeline_for

from . import receipts, selectors, services
from .anonymity import anonymous_endpoint
from .attachments import attachment_response
from .forms import (
    AddInfoForm,
    AssignForm,
    ConflictForm,
    DecideForm,
    IdentityRequestForm,
    ReceiptForm,
    TextForm,
    TipForm,
    TransitionForm,
)
from .models import Tip, TipAttachment, TipState
from .receipts import display
from .workflow import ACTION_LABELS, TIP_FLOW

# --- public ------------------------------------------------------------------------------


def _file_tip(request, form, *, actor, channel):
    d = form.cleaned_data
    return services.tip_file(
        actor=actor,
        area_id=d["area"],
        category_id=d["category"].pk,
        content=d["content"],
        when_where=d["when_where"],
        people_named=d["people_named"],
        identity=form.identity(),
        channel=channel,
        files=request.FILES.getlist("files"),
    )


def _tip_form_page(request, form, *, actor, channel, page: str):
    """File a tip from `form` (the public or the officer's); the receipt page on success."""
    outcome = submit(
        request, form, lambda data: _file_tip(request, form, actor=actor, channel=channel(data))
    )
    if outcome.done:
        filed = outcome.value
        return render(
            request,
            f"tips/{page}_receipt.html",
            {"receipt": display(filed.receipt), "tip": filed.tip},
        )
    return render(request, f"tips/{page}_form.html", {"form": form}, status=outcome.status)


@anonymous_endpoint
def public_form(request):
    form = TipForm(request.POST or None)
    return _tip_form_page(request, form, actor=None, channel=lambda _data: "web", page="public")


@anonymous_endpoint
def public_receipt(request):
    """Look up a tip by receipt (POST only: the code never appears in a URL)."""
    if request.method != "POST":
        return render(request, "tips/public_lookup.html", {"form": ReceiptForm()})
    code = request.POST.get("code", "")
    adding = "body" in request.POST or bool(request.FILES)
    try:
        if adding:
            tip = services.tip_tipster_add(
                code=code, body=request.POST.get("body", ""), files=request.FILES.getlist("files")
            )
        else:
            tip = services.tip_by_receipt(code=code)
    except services.ReceiptRefused as exc:
        return render(
            request,
            "tips/public_lookup.html",
            {"form": ReceiptForm(), "error": exc.message},
            status=400,
        )
    except DomainError as exc:
        # the code was right (the look-up passed), the addition was not
        tip = Tip.objects.get(receipt_hash=receipts.receipt_hash(code))
        return _public_status(request, tip, code, error=exc.message, status=exc.status)
    return _public_status(request, tip, code, added=adding)


def _public_status(request, tip, code, *, error=None, added=False, status=200):
    return render(
        request,
        "tips/public_status.html",
        {
            "tip": tip,
            "timeline": timeline_for(tip, None),
            "form": AddInfoForm(initial={"code": code}),
            "error": error,
            "added": added,
        },
        status=status,
    )


# --- officers ------------------------------------------------------------------------------


@login_required
def index(request):
    tips = list(
        selectors.tip_list(
            fetched_by=request.user,
            state=request.GET.get("state", ""),
            mine=request.GET.get("mine") == "1",
        )[:200]
    )
    selectors.tip_list_audit(fetched_by=request.user, ids=[t.pk for t in tips])
    return render(
        request,
        "tips/index.html",
        {
            "tips": tips,
            "states": TipState.choices,
            "reminders": list(selectors.reminders_for(user=request.user)[:50]),
            "pending_custody": services.identity_requests_for_custodian(user=request.user)
            .filter(status="pending")
            .count(),
            "filters": request.GET,
        },
    )


@login_required
def officer_new(request):
    services.require_officer(request.user)
    form = TipForm(request.POST or None, officer=True)
    return _tip_form_page(
        request, form, actor=request.user, channel=lambda data: data["channel"], page="officer"
    )


def _officers_for(tip):
    """Officers who could read this tip (choices for handler)."""
    users = User.objects.filter(role="political_legal", is_active=True).prefetch_related(
        "jurisdictions__area"
    )
    excluded = set(tip.conflicts.values_list("officer_id", flat=True))
    out = []
    for u in users:
        if u.pk in excluded:
            continue
        if any(tip.handling_area.path.startswith(j.area.path) for j in u.jurisdictions.all()):
            out.append((u.pk, str(u)))
    return out


def _detail(request, tip, *, status=200, identity=None, error=None, **forms):
    officers = _officers_for(tip)
    assign = forms.get("assign") or AssignForm(initial={"deadline": tip.deadline})
    assign.fields["handler"].choices = officers
    conflict = forms.get("conflict") or ConflictForm()
    conflict.fields["officer"].choices = [
        (u.pk, str(u))
        for u in User.objects.filter(is_active=True)
        .exclude(pk__in=tip.conflicts.values("officer_id"))
        .exclude(pk=request.user.pk)
        .filter(
            jurisdictions__area__path__in=[a.path for a in tip.handling_area.ancestors()]
            + [tip.handling_area.path]
        )
        .distinct()
    ]
    actions = [
        (a, ACTION_LABELS[a]) for a in TIP_FLOW.allowed_actions(tip.state, request.user, tip)
    ]
    return render(
        request,
        "tips/detail.html",
        {
            "tip": tip,
            "timeline": timeline_for(tip, request.user),
            "attachments": tip.attachments.all(),
            "has_identity": hasattr(tip, "identity") and _has_identity(tip),
            "my_requests": tip.identity_requests.filter(officer=request.user),
            "identity": identity,
            "actions": actions,
            "transition_form": forms.get("transition") or TransitionForm(),
            "assign_form": assign,
            "note_form": forms.get("note") or TextForm(),
            "reply_form": forms.get("reply") or TextForm(),
            "conflict_form": conflict,
            "identity_form": forms.get("identity_req") or IdentityRequestForm(),
            "error": error,
        },
        status=status,
    )


def _has_identity(tip) -> bool:
    from .models import TipIdentity

    return TipIdentity.objects.filter(tip=tip).exists()


@login_required
def detail(request, pk):
    tip = services.tip_read(actor=request.user, pk=pk)
    return _detail(request, tip)


def _post(request, pk, form_class, form_key, call):
    """Bind, call the service, re-render the tip page with the error on failure."""
    tip = services.tip_get(user=request.user, pk=pk)
    form = form_class(request.POST)
    if form_key == "assign":
        form.fields["handler"].choices = _officers_for(tip)
    if form.is_valid():
        try:
            call(tip, form.cleaned_data)
        except DomainError as exc:
            tip = services.tip_get(user=request.user, pk=pk)
            return _detail(request, tip, status=exc.status, error=exc.message, **{form_key: form})
        return redirect("tips:detail", pk=pk)
    return _detail(request, tip, status=400, **{form_key: form})


@login_required
@require_POST
def transition(request, pk):
    return _post(
        request,
        pk,
        TransitionForm,
        "transition",
        lambda tip, d: services.tip_transition(
            actor=request.user, tip=tip, action=d["action"], comment=d["comment"]
        ),
    )


@login_required
@require_POST
def assign(request, pk):
    return _post(
        request,
        pk,
        AssignForm,
        "assign",
        lambda tip, d: services.tip_assign(
            actor=request.user, tip=tip, handler_id=d["handler"], deadline=d["deadline"]
        ),
    )


@login_required
@require_POST
def note(request, pk):
    return _post(
        request,
        pk,
        TextForm,
        "note",
        lambda tip, d: services.tip_note_add(actor=request.user, tip=tip, body=d["body"]),
    )


@login_required
@require_POST
def reply(request, pk):
    return _post(
        request,
        pk,
        TextForm,
        "reply",
        lambda tip, d: services.tip_reply(actor=request.user, tip=tip, body=d["body"]),
    )


@login_required
@require_POST
def conflict(request, pk):
    tip = services.tip_get(user=request.user, pk=pk)
    form = ConflictForm(request.POST)
    form.fields["officer"].choices = [(request.POST.get("officer"), "")]
    if form.is_valid():
        try:
            services.tip_conflict_mark(
                actor=request.user,
                tip=tip,
                officer_id=form.cleaned_data["officer"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            return _detail(request, tip, status=exc.status, error=exc.message)
        if int(form.cleaned_data["officer"]) == request.user.pk:
            return redirect("tips:index")  # they excluded themselves
        return redirect("tips:detail", pk=pk)
    return _detail(request, tip, status=400, conflict=form)


@login_required
@require_POST
def identity_request(request, pk):
    return _post(
        request,
        pk,
        IdentityRequestForm,
        "identity_req",
        lambda tip, d: services.identity_request(actor=request.user, tip=tip, reason=d["reason"]),
    )


@login_required
@require_POST
def identity_reveal(request, pk):
    tip = services.tip_get(user=request.user, pk=pk)
    try:
        identity = services.identity_reveal(actor=request.user, tip=tip)
    except DomainError as exc:
        return _detail(request, tip, status=exc.status, error=exc.message)
    return _detail(request, tip, identity=identity)


@login_required
def attachment(request, pk, attachment_pk):
    tip = services.tip_get(user=request.user, pk=pk)
    try:
        att = TipAttachment.objects.get(pk=attachment_pk, tip=tip)
    except TipAttachment.DoesNotExist:
        raise Http404
    return attachment_response(actor=request.user, attachment=att)


@login_required
def custody(request):
    """The custodian's queue of identity requests."""
    services.require_officer(request.user)
    qs = services.identity_requests_for_custodian(user=request.user)
    error = None
    status = 200
    if request.method == "POST":
        form = DecideForm(request.POST)
        if form.is_valid():
            try:
                services.identity_decide(
                    actor=request.user,
                    request_id=request.POST.get("request"),
                    approve=form.cleaned_data["approve"] == "1",
                    note=form.cleaned_data["note"],
                )
                return redirect("tips:custody")
            except DomainError as exc:
                error, status = exc.message, exc.status
        else:
            error, status = _("请填写审批意见"), 400
    return render(
        request,
        "tips/custody.html",
        {"requests": qs.order_by("status", "-requested_at")[:100], "error": error},
        status=status,
    )


@login_required
def export(request):
    """The officer's tip list as a workbook: numbers, areas, states, no content. Audited."""
    tips = list(selectors.tip_list(fetched_by=request.user))
    selectors.tip_list_audit(fetched_by=request.user, ids=[t.pk for t in tips])
    headers = [
        _("编号"),
        _("发生地"),
        _("办理区域"),
        _("类别"),
        _("状态"),
        _("承办人"),
        _("核查期限"),
    ]
    rows = [
        [
            t.reference,
            t.area.name,
            t.handling_area.name,
            t.category.name,
            t.get_state_display(),
            str(t.handler or ""),
            t.deadline.isoformat() if t.deadline else "",
        ]
        for t in tips
    ]
    return xlsx_response(write_xlsx(headers, rows, title="tips"), "tips.xlsx")


def _parse_month(value):
    try:
        y, m = (int(x) for x in (value or "").split("-")[:2])
        return date(y, m, 1)
    except ValueError:
        return None


@login_required
def stats(request):
    data = selectors.tip_stats(
        fetched_by=request.user,
        since=_parse_month(request.GET.get("since")),
        until=_parse_month(request.GET.get("until")),
    )
    if request.GET.get("format") == "xlsx":
        rows = [[area, *counts] for area, counts in data["table"]]
        return xlsx_response(
            write_xlsx([_("区域"), *data["months"]], rows, title="stats"), "tip-stats.xlsx"
        )
    charts = {
        key: {"labels": [k for k, _n in data[key]], "values": [n for _k, n in data[key]]}
        for key in ("by_month", "by_area", "by_category")
    }
    return render(
        request,
        "tips/stats.html",
        {
            "s": data,
            "charts": charts,
            "filters": request.GET,
            "xlsx": reverse("tips:stats") + "?format=xlsx",
        },
    )
