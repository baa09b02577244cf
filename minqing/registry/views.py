"""Registry pages: household list and search, resident search, the household page, places,
organisations and key-group tags. Every object from a URL comes through get_visible_or_404;
every change is one service call."""

from typing import NamedTuple

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from minqing.areas.models import Area, Level
from minqing.core.compiled import rows as compiled_rows
from minqing.core.compiled import scope_values, viewer
from minqing.core.dbcursor import prepared_reads
from minqing.core.errors import DomainError, PermissionDeniedError, StaleEdit, form_status
from minqing.core.forms import submit
from minqing.core.permissions import has_perm, require
from minqing.core.scoping import get_visible_or_404, jurisdiction_paths
from minqing.core.sections import page_sections

from . import selectors, services
from .forms import (
    GridThingFilterForm,
    HouseholdForm,
    MoveCorrectForm,
    MoveForm,
    OrganisationForm,
    PlaceForm,
    ResidentEditForm,
    ResidentForm,
    RevealForm,
    SearchForm,
    TagCreateForm,
    TagGiveForm,
    TagRemoveForm,
)
from .models import Household, Move, Organisation, Place, Resident, Tag, TagPeriod
from .sections import HOUSEHOLD_PAGE

PAGE_SIZE = 20


def _partial(request) -> bool:
    """An htmx request for the results only (not a history restore, which wants the page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request"
    )


class _KnownCountPaginator(Paginator):
    """A paginator told its total (from the kept summaries) instead of counting the rows."""

    def __init__(self, *args, known_count=None, **kwargs):
        super().__init__(*args, **kwargs)
        if known_count is not None:
            self.__dict__["count"] = known_count  # the cached_property's slot


def _page(request, qs, known_count=None):
    paginator = _KnownCountPaginator(qs, PAGE_SIZE, known_count=known_count)
    return paginator.get_page(request.GET.get("page"))


def _first_page_or_count(request, qs, known_count=None):
    """A list page when its total is not kept (a search, a status filter): the first page
    reads one row more than it shows, and counts only when there are more (a search
    usually finds a few households: no second statement to plan and run for them)."""
    if known_count is not None or request.GET.get("page") not in (None, "", "1"):
        return _page(request, qs, known_count)
    rows = list(qs[: PAGE_SIZE + 1])
    paginator = _KnownCountPaginator(
        qs, PAGE_SIZE, known_count=len(rows) if len(rows) <= PAGE_SIZE else None
    )
    paginator.count  # noqa: B018  (counted here when needed, not in the template)
    return Page(rows[:PAGE_SIZE], 1, paginator)


class _Grid(NamedTuple):
    name: str


class HouseholdRow:
    """A household list row from its seven columns (no Household, grid and head models
    built per row): what the rows writer reads of a household (templatetags.household_rows),
    named as Household.name names it."""

    __slots__ = (
        *("pk", "number", "address", "head_id", "head_name", "grid", "living_count"),
        *("matched", "tag_badges"),
    )
    COLUMNS = ("pk", "number", "address", "head_id", "head__name", "grid__name", "living_count")

    def __init__(self, pk, number, address, head_id, head_name, grid_name, living_count):
        self.pk, self.number, self.address = pk, number, address
        self.head_id, self.head_name = head_id, head_name
        self.grid, self.living_count = _Grid(grid_name), living_count
        self.matched, self.tag_badges = [], []

    @property
    def name(self) -> str:
        if self.head_id and self.head_name is not None:
            return _("%(name)s户") % {"name": self.head_name}
        return _("户 %(number)s") % {"number": self.number}


class ResidentRow:
    """A resident list row from the columns the rows writer reads
    (templatetags.resident_rows), no Resident, household, head and grid models built per
    row; `age`, the masks and the household's name as the models give them."""

    __slots__ = (
        *("pk", "name", "id_number", "gender", "birth_date", "phone", "relation"),
        *("status", "status_date", "household_id", "household", "current_tags"),
    )
    COLUMNS = (
        *("pk", "name", "id_number", "gender", "birth_date", "phone", "relation", "status"),
        *("status_date", "household_id", "household__number", "household__head_id"),
        *("household__head__name", "household__grid__name"),
    )

    def __init__(self, *row):
        (
            self.pk,
            self.name,
            self.id_number,
            self.gender,
            self.birth_date,
            self.phone,
            self.relation,
            self.status,
            self.status_date,
            self.household_id,
            number,
            head_id,
            head_name,
            grid_name,
        ) = row
        self.household = HouseholdRow(
            self.household_id, number, "", head_id, head_name, grid_name, 0
        )
        self.current_tags = []

    id_masked = Resident.id_masked
    phone_masked = Resident.phone_masked
    age = Resident.age


def _with_tag_badges(page):
    """One badge per tag on a household row (two 空巢老人 in a house show once)."""
    page.object_list = [HouseholdRow(*row) for row in page.object_list]
    badges = selectors.current_badges(household_ids=[h.pk for h in page.object_list])
    for household in page.object_list:
        seen = {}
        for badge in badges.get(household.pk, ()):
            seen.setdefault(badge.tag_id, badge)
        household.tag_badges = list(seen.values())
    return page


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _stale_form(form, exc: StaleEdit, **kwargs):
    """A stale edit: the same form again, with what the other editor changed named at the
    top, and the current version, so saving again is a decision taken knowingly."""
    data = form.data.copy()
    data["version"] = str(exc.details["version"])
    again = type(form)(data, initial=form.initial, **kwargs)
    if "version" in again.fields:
        again.fields["version"].required = True
    for name in ("phone", "id_number"):
        if name in form.fields and name in again.fields:
            again.fields[name].help_text = form.fields[name].help_text
            again.fields[name].widget.attrs.update(form.fields[name].widget.attrs)
    again.is_valid()
    again.add_error(None, exc.message)
    return again


def _search_refused(request, exc: DomainError):
    """As-you-type search (htmx) shows the refusal in place of the results; a full page
    gets the error page (403)."""
    if _partial(request):
        return HttpResponse(format_html('<p class="error" role="alert">{}</p>', exc.message))
    raise exc


def _done(request, url: str):
    """Post/redirect/get; an htmx form (which swaps its panel in place) is sent on with a
    full page load, so the message shows at the top and no POST URL is left behind."""
    if request.headers.get("HX-Request"):
        # without the #fragment: to the same page with one the browser would only scroll
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url.split("#")[0]
        return response
    return redirect(url)


# ---------------------------------------------------------------- lists


@login_required
def index(request):
    return redirect("registry:households")


@login_required
def household_list(request):
    require(request.user, "registry.view")
    form = SearchForm(request.GET or None, user=request.user)
    params = form.params()
    try:
        # household_search's rows, compiled once per shape of search (core.statements)
        rows = selectors.household_list_statement(
            fetched_by=request.user, columns=HouseholdRow.COLUMNS, **params
        )
    except PermissionDeniedError as exc:  # a full-number lookup by a role that may not
        return _search_refused(request, exc)
    known = selectors.kept_count(fetched_by=request.user, kind="households", **params)
    page = _with_tag_badges(_first_page_or_count(request, rows, known))
    matches = selectors.matched_members(
        q=params["q"], household_ids=[h.pk for h in page.object_list]
    )
    for household in page.object_list:
        household.matched = matches.get(household.pk, [])
    context = {
        "form": form,
        "page": page,
        "filtered": bool(params["grid_id"] or params["tag"] or params["status"]),
        "query": _query_without_page(request),
        "can_edit": has_perm(request.user, "registry.edit"),
    }
    if _partial(request):
        return render(request, "registry/_household_results.html", context)
    return render(request, "registry/household_list.html", context)


@login_required
def resident_list(request):
    require(request.user, "registry.view")
    form = SearchForm(request.GET or None, user=request.user, households=False)
    params = form.params()
    try:
        # resident_search's rows, compiled once per shape of search (core.statements)
        rows = selectors.resident_list_statement(
            fetched_by=request.user, columns=ResidentRow.COLUMNS, **params
        )
    except PermissionDeniedError as exc:
        return _search_refused(request, exc)
    known = selectors.kept_count(fetched_by=request.user, kind="residents", **params)
    page = _first_page_or_count(request, rows, known)
    page.object_list = [ResidentRow(*row) for row in page.object_list]
    badges = selectors.current_badges(resident_ids=[r.pk for r in page.object_list])
    for resident in page.object_list:
        resident.current_tags = badges.get(resident.pk, [])
    context = {
        "form": form,
        "page": page,
        "query": _query_without_page(request),
        "filtered": bool(params["grid_id"] or params["tag"] or params["status"]),
    }
    if _partial(request):
        return render(request, "registry/_resident_results.html", context)
    return render(request, "registry/resident_list.html", context)


# ---------------------------------------------------------------- one household


def _household_query(values):
    return (
        Household.objects.select_related("grid", "grid__parent", "grid__parent__parent", "head")
        .visible_to(viewer(values))
        .filter(pk=values["pk"])
    )


def _household(request, pk) -> Household:
    """The household through the viewer's scope, as get_visible_or_404 gives it (the same
    404 for "missing" and "not yours"), in a statement compiled once per connection and
    shape of scope (core.compiled)."""
    try:
        values = {"pk": int(pk), **scope_values(request.user)}
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < values["pk"] < 2**63:  # the ORM's lookup finds nothing without asking
        raise Http404
    found = compiled_rows("household", values, _household_query)
    if len(found) != 1:
        raise Http404
    return found[0]


def _crumb_areas(user, grid) -> list[Area]:
    """The grid's village and township (the areas above it the crumbs name) that the user
    may see; read with the household (`_household`), checked against the jurisdiction paths
    the session keeps: no query. Levels only go down, so they are at most two steps up."""
    paths = None if (user.is_superuser and user.is_active) else jurisdiction_paths(user)
    out, area = [], grid.parent
    for _step in range(2):
        if area is None or area.level < Level.TOWNSHIP:
            break
        if paths is None or any(area.path.startswith(p) for p in paths):
            out.append(area)
        if area.level == Level.TOWNSHIP:
            break
        area = area.parent
    return sorted(out, key=lambda a: a.level)


def _tag_summary(open_periods) -> list[dict]:
    """Current tags of a household and its members: each tag once, with how many carry it."""
    summary: dict[int, dict] = {}
    for period in open_periods:
        entry = summary.setdefault(
            period.tag_id,
            {"tag": period.tag, "count": 0, "household": period.resident_id is None},
        )
        entry["count"] += 1
    return sorted(summary.values(), key=lambda e: (e["tag"].order, e["tag"].name))


# The household page's form panels: each is rendered only when open (a refused form, a
# household without members, ?open=name), else fetched when the user opens it.
HOUSEHOLD_FORMS = {"member": "registry.edit", "tag": "registry.tag", "move": "registry.edit"}


def _panel_forms(open_form, members, forms) -> dict:
    """The form of the open panel (the bound one when given), none for the closed ones."""
    if open_form == "member":
        return {"member_form": forms.get("member_form") or ResidentForm()}
    if open_form == "tag":
        return {"tag_form": forms.get("tag_form") or TagGiveForm(members=members)}
    if open_form == "move":
        return {"move_form": forms.get("move_form") or MoveForm(members=members)}
    return {}


def _household_page(request, household, *, status=200, open_form="", **forms):
    """The household page; `forms` replace the blank ones (bound, with errors)."""
    user = request.user
    # every caller looked the household up through the viewer's scope (_household)
    history = selectors.household_tag_history(fetched_by=user, household=household, scoped=True)
    members = selectors.household_members(
        fetched_by=user, household=household, history=history, scoped=True
    )
    if not members and not open_form:
        open_form = "member"  # an empty household opens on adding its first member
    context = {
        "household": household,
        "ancestors": _crumb_areas(user, household.grid),
        "members": members,
        "tag_summary": _tag_summary(p for p in history if p.end_date is None),
        "history": history,
        "sections": page_sections(HOUSEHOLD_PAGE, request, household, name="household"),
        "can_edit": has_perm(user, "registry.edit"),
        "can_tag": has_perm(user, "registry.tag"),
        "can_reveal": has_perm(user, "registry.reveal_id"),
        "can_audit": has_perm(user, "core.view_audit"),
        **_panel_forms(open_form, members, forms),
        "remove_form": forms.get("remove_form"),
        "remove_period": forms.get("remove_period"),
        "confirm": forms.get("confirm"),
        "move_target": forms.get("move_target"),
        "today": timezone.localdate(),
        "open_form": open_form,
    }
    return render(request, "registry/household_detail.html", context, status=status)


@login_required
@prepared_reads()  # every statement of the page is keyed by the household's id
def household_detail(request, pk):
    require(request.user, "registry.view")
    household = _household(request, pk)
    wanted = request.GET.get("open", "")  # without JavaScript: the page with that panel open
    open_form = (
        wanted
        if wanted in HOUSEHOLD_FORMS and has_perm(request.user, HOUSEHOLD_FORMS[wanted])
        else ""
    )
    return _household_page(request, household, open_form=open_form)


@login_required
def household_form(request, pk, name):
    """One form panel of the household page, fetched when the user opens it."""
    if name not in HOUSEHOLD_FORMS:
        raise Http404
    household = _household(request, pk)
    require(request.user, HOUSEHOLD_FORMS[name])
    members = selectors.household_members(fetched_by=request.user, household=household)
    context = {"household": household, "members": members, **_panel_forms(name, members, {})}
    return render(request, f"registry/_panel_{name}.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def household_create(request):
    require(request.user, "registry.edit")
    form = HouseholdForm(request.POST or None, user=request.user)
    outcome = submit(
        request,
        form,
        lambda data: services.household_create(
            actor=request.user,
            grid=get_visible_or_404(Area, request.user, pk=data["grid"]),
            number=data["number"],
            address=data["address"],
            phone=data["phone"],
            notes=data["notes"],
        ),
    )
    if outcome.done:
        household = outcome.value
        messages.success(request, _("已登记户 %(n)s，请添加成员") % {"n": household.number})
        return redirect("registry:household", household.pk)
    return render(request, "registry/household_form.html", {"form": form}, status=outcome.status)


@login_required
@require_http_methods(["GET", "POST"])
def household_edit(request, pk):
    household = _household(request, pk)
    require(request.user, "registry.edit")
    initial = {
        "grid": str(household.grid_id),
        "number": household.number,
        "address": household.address,
        "notes": household.notes,
        "version": household.version,
    }
    form = HouseholdForm(request.POST or None, user=request.user, initial=initial)
    form.fields["version"].required = True
    form.fields["phone"].help_text = _("当前 %(p)s；只在需要更正时填写，留空则不修改") % {
        "p": household.phone_masked or "—"
    }
    outcome = submit(
        request,
        form,
        lambda data: services.household_update(
            actor=request.user,
            household=household,
            grid=get_visible_or_404(Area, request.user, pk=data["grid"]),
            number=data["number"] or household.number,
            address=data["address"],
            phone=data["phone"] or None,
            notes=data["notes"],
            version=data["version"],
        ),
    )
    if outcome.done:
        messages.success(request, _("已保存"))
        return redirect("registry:household", household.pk)
    if isinstance(outcome.error, StaleEdit):
        form = _stale_form(form, outcome.error, user=request.user)
    return render(
        request,
        "registry/household_form.html",
        {"form": form, "household": household},
        status=outcome.status,
    )


@login_required
@require_POST
def member_add(request, pk):
    household = _household(request, pk)
    require(request.user, "registry.edit")
    form = ResidentForm(request.POST)
    outcome = submit(
        request,
        form,
        lambda data: services.resident_create(
            actor=request.user,
            household=household,
            name=data["name"],
            id_number=data["id_number"],
            relation=data["relation"],
            phone=data["phone"],
            moved_in_on=data["moved_in_on"],
            reason=data["reason"],
        ),
    )
    if outcome.done:
        resident = outcome.value
        messages.success(request, _("已添加成员 %(name)s") % {"name": resident.name})
        return _done(
            request, reverse("registry:household", args=[household.pk]) + f"#r{resident.pk}"
        )
    return _household_page(
        request, household, status=outcome.status, member_form=form, open_form="member"
    )


@login_required
@require_POST
def tag_give(request, pk):
    household = _household(request, pk)
    require(request.user, "registry.tag")
    members = selectors.household_members(fetched_by=request.user, household=household)
    form = TagGiveForm(request.POST, members=members)

    def give(data):
        tag = Tag.objects.filter(code=data["tag"]).first()
        if tag is None:
            raise Http404
        resident = None
        if data["subject"] != "household":
            resident = get_visible_or_404(
                Resident, request.user, pk=data["subject"], household=household
            )
        services.tag_give(
            actor=request.user,
            tag=tag,
            household=None if resident else household,
            resident=resident,
            start_date=data["date"],
            reason=data["reason"],
        )
        return tag, resident

    outcome = submit(request, form, give)
    if outcome.done:
        tag, resident = outcome.value
        messages.success(
            request,
            _("已认定“%(tag)s”：%(who)s") % {"tag": tag.name, "who": resident or household.name},
        )
        return _done(request, reverse("registry:household", args=[household.pk]) + "#tags")
    return _household_page(
        request, household, status=outcome.status, tag_form=form, open_form="tag"
    )


@login_required
@require_POST
def tag_remove(request, pk, period_pk):
    household = _household(request, pk)
    require(request.user, "registry.tag")
    period = get_visible_or_404(
        TagPeriod.objects.select_related("tag", "resident"),
        request.user,
        pk=period_pk,
        household=household,
        end_date__isnull=True,
    )
    form = TagRemoveForm(request.POST)
    outcome = submit(
        request,
        form,
        lambda data: services.tag_remove(
            actor=request.user,
            tag=period.tag,
            household=None if period.resident_id else household,
            resident=period.resident,
            end_date=data["date"],
            reason=data["reason"],
        ),
    )
    if outcome.done:
        messages.success(request, _("已退出“%(tag)s”") % {"tag": period.tag.name})
        return _done(request, reverse("registry:household", args=[household.pk]) + "#tags")
    return _household_page(
        request, household, status=outcome.status, remove_form=form, remove_period=period.pk
    )


def _move_question(*, resident, kind, source, target) -> str:
    """The sentence the confirmation spells out: 将 张涛 从 张德书户 迁入 廖生海户，确认？"""
    if kind == Move.Kind.TRANSFER:
        return _("将 %(name)s 从 %(from)s 迁入 %(to)s，确认？") % {
            "name": resident.name,
            "from": source.name,
            "to": target.name,
        }
    if kind == Move.Kind.MOVE_OUT:
        return _("将 %(name)s 从 %(from)s 迁出（迁往辖区外），确认？") % {
            "name": resident.name,
            "from": source.name,
        }
    if kind == Move.Kind.DEATH:
        return _("登记 %(name)s（%(from)s）已死亡，确认？") % {
            "name": resident.name,
            "from": source.name,
        }
    return _("将 %(name)s 重新迁入 %(to)s，确认？") % {
        "name": resident.name,
        "to": (target or source).name,
    }


@login_required
@require_POST
def resident_move(request, pk):
    """户间迁移 / 迁出 / 死亡 / 迁入: a first submit asks for confirmation (the sentence names
    the person and both households; a death must be ticked as verified), the second writes."""
    household = _household(request, pk)
    require(request.user, "registry.edit")
    members = selectors.household_members(fetched_by=request.user, household=household)
    form = MoveForm(request.POST, members=members)
    if form.is_valid():
        data = form.cleaned_data
        try:
            resident = get_visible_or_404(
                Resident, request.user, pk=data["resident"] or 0, household=household
            )
            target = None
            if data["to_household"] and data["kind"] in (Move.Kind.TRANSFER, Move.Kind.MOVE_IN):
                target = (
                    Household.objects.visible_to(request.user)
                    .select_related("head")
                    .filter(pk=data["to_household"])
                    .first()
                )
                if target is None:
                    raise DomainError(_("迁入的户不存在或不在您的管辖范围内"))
            death = data["kind"] == Move.Kind.DEATH
            if request.POST.get("confirmed") != "1" or (
                death and request.POST.get("verified") != "1"
            ):
                confirm = {
                    "question": _move_question(
                        resident=resident, kind=data["kind"], source=household, target=target
                    ),
                    "danger": death,
                    "note": _(
                        "死亡登记后，此人的个人标签全部退出；登记当天只有您本人能更正，"
                        "之后要由乡镇更正。"
                    )
                    if death
                    else "",
                    "verify_label": _("我已核实死亡信息（死亡证明或户籍注销）"),
                    "fields": [
                        (k, v)
                        for k, v in request.POST.items()
                        if k not in ("csrfmiddlewaretoken", "confirmed", "verified")
                    ],
                    "missing_verify": death and request.POST.get("confirmed") == "1",
                }
                return _household_page(
                    request,
                    household,
                    move_form=form,
                    open_form="move",
                    confirm=confirm,
                    move_target=target,
                )
            move = services.resident_move(
                actor=request.user,
                resident=resident,
                kind=data["kind"],
                date=data["date"],
                reason=data["reason"],
                to_household=target,
                relation=data["relation"] or None,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            return _household_page(
                request, household, status=form_status(exc), move_form=form, open_form="move"
            )
        if move.kind == Move.Kind.TRANSFER:
            text = _("已登记户间迁移：%(name)s 迁入 %(to)s") % {
                "name": resident.name,
                "to": move.to_household.name,
            }
        else:
            text = _("已登记%(kind)s：%(name)s") % {
                "kind": move.get_kind_display(),
                "name": resident.name,
            }
        messages.success(request, text)
        return _done(request, reverse("registry:household", args=[household.pk]) + "#section-1")
    return _household_page(request, household, status=400, move_form=form, open_form="move")


@login_required
@require_POST
def move_correct(request, pk, move_pk):
    """更正 a wrong 户间迁移 / 迁出 / 死亡 from the household's moves history."""
    household = _household(request, pk)
    move = get_object_or_404(
        Move.objects.select_related("resident", "from_household__head", "to_household__head"),
        pk=move_pk,
    )
    if household.pk not in (move.from_household_id, move.to_household_id):
        raise Http404
    form = MoveCorrectForm(request.POST)
    url = reverse("registry:household", args=[household.pk]) + "#section-1"
    if form.is_valid():
        try:
            services.resident_move_correct(
                actor=request.user, move=move, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return _done(request, url)
        messages.success(
            request,
            _("已更正：%(name)s 的%(kind)s登记已撤销，原因已记录")
            % {"name": move.resident.name, "kind": move.get_kind_display()},
        )
        return _done(request, url)
    messages.error(request, _("请填写更正原因"))
    return _done(request, url)


@login_required
def household_pick(request):
    """The household picker's answers: households in the user's jurisdiction matching a
    name (any member, pinyin or initials), address or number; ten at most."""
    require(request.user, "registry.view")
    q = (request.GET.get("q") or "").strip()
    items = []
    if q:
        qs = selectors.household_search(fetched_by=request.user, q=q).select_related(
            "head", "grid", "grid__parent"
        )
        for h in qs.order_by("number")[:10]:
            grid = f"{h.grid.parent.name} {h.grid.name}" if h.grid.parent_id else h.grid.name
            items.append(
                {
                    "id": h.pk,
                    "name": str(h.name),
                    "address": h.address,
                    "label": h.label,
                    "number": h.number,
                    "grid": grid,
                }
            )
    return JsonResponse({"items": items})


@login_required
@require_http_methods(["GET", "POST"])
def resident_edit(request, pk):
    resident = get_visible_or_404(
        Resident.objects.select_related("household__head"), request.user, pk=pk
    )
    require(request.user, "registry.edit")
    initial = {"name": resident.name, "relation": resident.relation, "version": resident.version}
    form = ResidentEditForm(request.POST or None, initial=initial)
    form.fields["id_number"].widget.attrs["placeholder"] = resident.id_masked
    form.fields["phone"].widget.attrs["placeholder"] = resident.phone_masked
    outcome = submit(
        request,
        form,
        lambda data: services.resident_update(
            actor=request.user,
            resident=resident,
            name=data["name"],
            id_number=data["id_number"] or None,
            phone=data["phone"] or None,
            relation=data["relation"],
            version=data["version"],
        ),
    )
    if outcome.done:
        messages.success(request, _("已保存"))
        url = reverse("registry:household", args=[resident.household_id])
        return redirect(f"{url}#r{resident.pk}")
    if isinstance(outcome.error, StaleEdit):
        form = _stale_form(form, outcome.error)
    return render(
        request,
        "registry/resident_form.html",
        {"form": form, "resident": resident},
        status=outcome.status,
    )


# ---------------------------------------------------------------- reveal (htmx)


def _reveal_answer(request, *, reveal, url):
    """Run a reveal with the reason given; a missing reason re-asks in place (400)."""
    form = RevealForm(request.POST)
    if form.is_valid():
        try:
            value = reveal(form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return HttpResponse(format_html('<code class="revealed">{}</code>', value or "—"))
    return render(
        request,
        "registry/_reveal.html",
        {"url": url, "error": True, "masked": ""},
        status=400,
    )


@login_required
@require_POST
def resident_reveal(request, pk, field):
    """Show one full number in place of the masked one, with the reason said; the service
    audits both."""
    require(request.user, "registry.reveal_id")
    resident = get_visible_or_404(Resident, request.user, pk=pk)
    if field == "id":
        service = services.resident_reveal_id
    elif field == "phone":
        service = services.resident_reveal_phone
    else:
        raise Http404
    return _reveal_answer(
        request,
        reveal=lambda reason: service(actor=request.user, resident=resident, reason=reason),
        url=reverse("registry:resident_reveal", args=[pk, field]),
    )


@login_required
@require_POST
def household_reveal_phone(request, pk):
    require(request.user, "registry.reveal_id")
    household = _household(request, pk)
    return _reveal_answer(
        request,
        reveal=lambda reason: services.household_reveal_phone(
            actor=request.user, household=household, reason=reason
        ),
        url=reverse("registry:household_reveal_phone", args=[pk]),
    )


# ---------------------------------------------------------------- places, organisations


def _grid_things(request, *, search, form_kinds, template):
    require(request.user, "registry.view")
    form = GridThingFilterForm(request.GET or None, user=request.user, kinds=form_kinds)
    page = _page(request, search(fetched_by=request.user, **form.params()))
    return render(
        request,
        template,
        {
            "form": form,
            "page": page,
            "query": _query_without_page(request),
            "can_edit": has_perm(request.user, "registry.edit"),
        },
    )


@login_required
def place_list(request):
    return _grid_things(
        request,
        search=selectors.place_search,
        form_kinds=Place.Kind.choices,
        template="registry/place_list.html",
    )


@login_required
def organisation_list(request):
    return _grid_things(
        request,
        search=selectors.organisation_search,
        form_kinds=Organisation.Kind.choices,
        template="registry/organisation_list.html",
    )


def _grid_thing_create(request, *, form_class, create, done_url, title):
    require(request.user, "registry.edit")
    form = form_class(request.POST or None, user=request.user)
    outcome = submit(
        request,
        form,
        lambda data: create(
            actor=request.user,
            **{**data, "grid": get_visible_or_404(Area, request.user, pk=data["grid"])},
        ),
    )
    if outcome.done:
        messages.success(request, _("已登记 %(name)s") % {"name": outcome.value.name})
        return redirect(done_url)
    return render(
        request,
        "registry/grid_thing_form.html",
        {"form": form, "title": title},
        status=outcome.status,
    )


def _grid_thing_edit(request, pk, *, model, form_class, update, done_url, title):
    """Change a place or an organisation: the creation form, filled in; the contact phone is
    shown masked and only typed when it changes (reading it is not needed to edit)."""
    require(request.user, "registry.edit")
    obj = get_visible_or_404(model.objects.select_related("grid"), request.user, pk=pk)
    initial = {
        name: getattr(obj, name)
        for name in form_class.base_fields
        if name not in ("grid", "contact_phone")
    }
    initial["grid"] = str(obj.grid_id)
    form = form_class(request.POST or None, user=request.user, initial=initial)
    form.fields["contact_phone"].help_text = _("当前 %(p)s；只在需要更正时填写，留空则不修改") % {
        "p": obj.contact_phone_masked or "—"
    }
    outcome = submit(
        request,
        form,
        lambda data: update(
            request.user,
            obj,
            {
                **data,
                "grid": get_visible_or_404(Area, request.user, pk=data["grid"]),
                "contact_phone": data["contact_phone"] or None,
            },
        ),
    )
    if outcome.done:
        messages.success(request, _("已保存 %(name)s") % {"name": outcome.value.name})
        return redirect(done_url)
    return render(
        request,
        "registry/grid_thing_form.html",
        {"form": form, "title": title, "back": reverse(done_url)},
        status=outcome.status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def place_edit(request, pk):
    return _grid_thing_edit(
        request,
        pk,
        model=Place,
        form_class=PlaceForm,
        update=lambda actor, obj, data: services.place_update(actor=actor, place=obj, **data),
        done_url="registry:places",
        title=_("修改场所"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation_edit(request, pk):
    return _grid_thing_edit(
        request,
        pk,
        model=Organisation,
        form_class=OrganisationForm,
        update=lambda actor, obj, data: services.organisation_update(
            actor=actor, organisation=obj, **data
        ),
        done_url="registry:organisations",
        title=_("修改组织"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def place_create(request):
    return _grid_thing_create(
        request,
        form_class=PlaceForm,
        create=services.place_create,
        done_url="registry:places",
        title=_("登记场所"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def organisation_create(request):
    return _grid_thing_create(
        request,
        form_class=OrganisationForm,
        create=services.organisation_create,
        done_url="registry:organisations",
        title=_("登记组织"),
    )


# ---------------------------------------------------------------- tags


@login_required
@require_http_methods(["GET", "POST"])
def tag_list(request):
    require(request.user, "registry.view")
    can_manage = has_perm(request.user, "registry.manage_tags")
    form = TagCreateForm(request.POST or None) if can_manage else None
    status = 200
    if request.method == "POST":
        require(request.user, "registry.manage_tags")
        outcome = submit(
            request, form, lambda data: services.tag_create(actor=request.user, **data)
        )
        if outcome.done:
            messages.success(request, _("已新增标签“%(name)s”") % {"name": outcome.value.name})
            return redirect("registry:tags")
        status = outcome.status
    return render(
        request,
        "registry/tag_list.html",
        {
            "tags": selectors.tag_list(fetched_by=request.user),
            "form": form,
            "can_manage": can_manage,
        },
        status=status,
    )


@login_required
def tag_detail(request, code):
    """Who carried this tag on a given day (today by default), within the jurisdiction."""
    require(request.user, "registry.view")
    tag = get_object_or_404(Tag, code=code)
    day = parse_date(request.GET.get("day") or "") or timezone.localdate()
    page = _page(request, selectors.tag_carriers(fetched_by=request.user, tag=tag, day=day))
    return render(
        request,
        "registry/tag_detail.html",
        {"tag": tag, "day": day, "page": page, "query": _query_without_page(request)},
    )


urlpatterns = [
    path("", index, name="index"),
    path("households/", household_list, name="households"),
    path("households/new/", household_create, name="household_create"),
    path("households/<int:pk>/", household_detail, name="household"),
    path("households/<int:pk>/edit/", household_edit, name="household_edit"),
    path("households/<int:pk>/forms/<str:name>/", household_form, name="household_form"),
    path("households/<int:pk>/members/", member_add, name="member_add"),
    path("households/<int:pk>/tags/", tag_give, name="tag_give"),
    path("households/<int:pk>/tags/<int:period_pk>/end/", tag_remove, name="tag_remove"),
    path("households/<int:pk>/moves/", resident_move, name="move"),
    path("households/<int:pk>/moves/<int:move_pk>/correct/", move_correct, name="move_correct"),
    path("households/pick/", household_pick, name="household_pick"),
    path(
        "households/<int:pk>/reveal-phone/",
        household_reveal_phone,
        name="household_reveal_phone",
    ),
    path("residents/", resident_list, name="residents"),
    path("residents/<int:pk>/edit/", resident_edit, name="resident_edit"),
    path("residents/<int:pk>/reveal/<str:field>/", resident_reveal, name="resident_reveal"),
    path("places/", place_list, name="places"),
    path("places/new/", place_create, name="place_create"),
    path("places/<int:pk>/edit/", place_edit, name="place_edit"),
    path("organisations/", organisation_list, name="organisations"),
    path("organisations/new/", organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/edit/", organisation_edit, name="organisation_edit"),
    path("tags/", tag_list, name="tags"),
    path("tags/<slug:code>/", tag_detail, name="tag"),
]
