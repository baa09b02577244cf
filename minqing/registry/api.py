"""Registry JSON API. Thin: parse, look objects up through the scoping queryset, call one
service or selector. Import/export endpoints live in api_io.py and are mounted here."""

from datetime import date
from functools import wraps

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.responses import Status

from minqing.areas.models import Area
from minqing.core.errors import NotFoundError, ValidationFailed
from minqing.core.masking import mask_phone
from minqing.core.permissions import require
from minqing.core.scoping import get_visible_or_404

from . import selectors, services
from .api_io import router as io_router
from .models import Household, Organisation, Place, Resident, Tag
from .schemas import (
    ConflictOut,
    HouseholdDetailOut,
    HouseholdIn,
    HouseholdOut,
    HouseholdPatch,
    MoveCorrectIn,
    MoveIn,
    MoveOut,
    OrganisationIn,
    OrganisationOut,
    OrganisationPatch,
    PlaceIn,
    PlaceOut,
    PlacePatch,
    ResidentIn,
    ResidentOut,
    ResidentPatch,
    RevealIdOut,
    RevealIn,
    RevealPhoneOut,
    TagCarrierOut,
    TagCreateIn,
    TagGiveIn,
    TagOut,
    TagPeriodOut,
)

router = Router()
router.add_router("", io_router)


def _tag(code: str) -> Tag:
    tag = Tag.objects.filter(code=code).first()
    if tag is None:
        raise ValidationFailed(_("未知的标签“%(code)s”") % {"code": code})
    return tag


def _household(request, pk: int) -> Household:
    return get_visible_or_404(Household, request.user, pk=pk)


def _resident(request, pk: int) -> Resident:
    return get_visible_or_404(Resident.objects.select_related("household"), request.user, pk=pk)


# ---------------------------------------------------------------- households


class KeptCountPagination(LimitOffsetPagination):
    """Limit/offset pages of households whose total comes from the kept summaries when the
    selector could tell it (`queryset.kept_count`), instead of counting the jurisdiction."""

    def _items_count(self, queryset) -> int:
        known = getattr(queryset, "kept_count", None)
        return known if known is not None else super()._items_count(queryset)

    def paginate_queryset(self, queryset, pagination, **params):
        """The page's households with their current tags (`current_tags`, read for the
        page's ids in one query of three columns: selectors.current_badges). A household
        list's compiled statement (`_HouseholdRows`) gives the page already written out."""
        if isinstance(queryset, _HouseholdRows):
            return queryset.page(pagination.offset, min(pagination.limit, self.max_limit))
        result = super().paginate_queryset(queryset, pagination, **params)
        rows = list(result[self.items_attribute])
        badges = selectors.current_badges(household_ids=[h.pk for h in rows])
        for household in rows:
            household.current_tags = badges.get(household.pk, [])
        result[self.items_attribute] = rows
        return result


class _Written(dict):
    """A page the view wrote out itself (plain values in HouseholdOut's order and types):
    sent as JSON by `_send_written`, not validated through the schema a second time."""


class _HouseholdRows:
    """household_search's rows for the API as a statement compiled once per shape of
    search (selectors.household_list_statement), with the total kept or counted. Each
    household is written as HouseholdOut writes it (a test holds the two equal), without
    building a Household, its grid and head per row and validating them through pydantic."""

    COLUMNS = ("pk", "number", "address", "grid_id", "grid__name", "head_id", "head__name")
    COLUMNS += ("phone", "version")

    def __init__(self, statement, kept_count):
        self.statement, self.kept_count = statement, kept_count

    def page(self, offset: int, limit: int) -> "_Written":
        rows = self.statement[offset : offset + limit]
        total = self.kept_count
        if total is None:
            total = self.statement.count()
        badges = selectors.current_badges(household_ids=[row[0] for row in rows])
        items = []
        for pk, number, address, grid_id, grid_name, head_id, head_name, phone, version in rows:
            tags = {}
            for badge in badges.get(pk, ()):
                tag = badge.tag
                tags.setdefault(tag.code, {"code": tag.code, "name": tag.name})
            items.append(
                {
                    "id": pk,
                    "number": number,
                    "address": address,
                    "grid_id": grid_id,
                    "grid_name": grid_name,
                    "head_id": head_id,
                    "head_name": head_name if head_id else None,
                    "phone_masked": mask_phone(phone),
                    "tags": list(tags.values()),
                    "version": version,
                }
            )
        return _Written(items=items, count=total)


def _send_written(view):
    """Outside `paginate`: a page the view wrote out (`_Written`) goes out as the API's JSON
    as it is; anything else takes ninja's way (validated against the response schema). The
    operation's parameters and OpenAPI schema are `paginate`'s own (functools.wraps)."""

    @wraps(view)
    def send(request, **kwargs):
        result = view(request, **kwargs)
        if isinstance(result, _Written):
            from minqing.api import api

            return api.create_response(request, dict(result), status=200)
        return result

    return send


@router.get("/households", response=list[HouseholdOut])
@_send_written
@paginate(KeptCountPagination)
def list_households(
    request,
    q: str = "",
    grid_id: int | None = None,
    tag: str | None = None,
    status: str | None = None,
):
    """Households in the caller's jurisdiction. `q`: name (繁/简), pinyin, initials, the last
    four phone digits (what the mask shows), address, household number; a full 身份证号 or
    mobile number is an audited identity lookup, for roles that may reveal (else 403);
    `grid_id`: any visible area (its subtree);
    `tag`: a current Tag.code; `status`: living / moved_out / deceased / empty."""
    require(request.user, "registry.view")
    statement = selectors.household_list_statement(
        fetched_by=request.user,
        columns=_HouseholdRows.COLUMNS,
        q=q,
        grid_id=grid_id,
        tag=tag,
        status=status,
    )
    known = selectors.kept_count(
        fetched_by=request.user, kind="households", q=q, grid_id=grid_id, tag=tag, status=status
    )
    return _HouseholdRows(statement, known)


@router.get("/households/{int:pk}", response=HouseholdDetailOut)
def get_household(request, pk: int):
    require(request.user, "registry.view")
    household = get_visible_or_404(
        Household.objects.select_related("grid", "head").prefetch_related(
            selectors.current_tags_prefetch()
        ),
        request.user,
        pk=pk,
    )
    household.member_list = selectors.household_members(
        fetched_by=request.user, household=household
    )
    household.tag_history = selectors.household_tag_history(
        fetched_by=request.user, household=household
    )
    household.move_list = selectors.household_moves(fetched_by=request.user, household=household)
    return household


@router.post("/households", response={201: HouseholdOut})
def create_household(request, payload: HouseholdIn):
    grid = get_visible_or_404(Area, request.user, pk=payload.grid_id)
    household = services.household_create(
        actor=request.user,
        grid=grid,
        address=payload.address,
        number=payload.number,
        phone=payload.phone,
        notes=payload.notes,
    )
    return Status(201, household)


@router.patch("/households/{int:pk}", response={200: HouseholdOut, 409: ConflictOut})
def update_household(request, pk: int, payload: HouseholdPatch):
    household = _household(request, pk)
    grid = (
        get_visible_or_404(Area, request.user, pk=payload.grid_id)
        if payload.grid_id is not None
        else None
    )
    return services.household_update(
        actor=request.user,
        household=household,
        grid=grid,
        number=payload.number,
        address=payload.address,
        phone=payload.phone,
        notes=payload.notes,
        version=payload.version,
    )


@router.post("/households/{int:pk}/tag", response={201: TagPeriodOut})
def tag_household(request, pk: int, payload: TagGiveIn):
    """认定 a household-scope tag (建档立卡贫困户, 低保, 失独...)."""
    period = services.tag_give(
        actor=request.user,
        tag=_tag(payload.tag),
        household=_household(request, pk),
        start_date=payload.date,
        reason=payload.reason,
    )
    return Status(201, period)


@router.post("/households/{int:pk}/untag", response=TagPeriodOut)
def untag_household(request, pk: int, payload: TagGiveIn):
    return services.tag_remove(
        actor=request.user,
        tag=_tag(payload.tag),
        household=_household(request, pk),
        end_date=payload.date,
        reason=payload.reason,
    )


@router.post("/households/{int:pk}/reveal-phone", response=RevealPhoneOut)
def reveal_household_phone(request, pk: int, payload: RevealIn):
    """The full phone; audited with the reason given."""
    phone = services.household_reveal_phone(
        actor=request.user, household=_household(request, pk), reason=payload.reason
    )
    return {"phone": phone}


# ---------------------------------------------------------------- residents


@router.get("/residents", response=list[ResidentOut])
@paginate
def list_residents(
    request,
    q: str = "",
    grid_id: int | None = None,
    tag: str | None = None,
    status: str | None = None,
):
    """Residents in the caller's jurisdiction; same filters as households."""
    require(request.user, "registry.view")
    qs = selectors.resident_search(
        fetched_by=request.user, q=q, grid_id=grid_id, tag=tag, status=status
    )
    return selectors.resident_list_rows(qs)


def _resident_out(request, pk: int) -> Resident:
    return get_visible_or_404(
        selectors.resident_list_rows(Resident.objects.select_related("household")),
        request.user,
        pk=pk,
    )


@router.get("/residents/{int:pk}", response=ResidentOut)
def get_resident(request, pk: int):
    require(request.user, "registry.view")
    return _resident_out(request, pk)


@router.post("/residents", response={201: ResidentOut})
def create_resident(request, payload: ResidentIn):
    resident = services.resident_create(
        actor=request.user,
        household=_household(request, payload.household_id),
        name=payload.name,
        id_number=payload.id_number,
        relation=payload.relation,
        phone=payload.phone,
        moved_in_on=payload.moved_in_on,
        reason=payload.reason,
    )
    return Status(201, _resident_out(request, resident.pk))


@router.patch("/residents/{int:pk}", response={200: ResidentOut, 409: ConflictOut})
def update_resident(request, pk: int, payload: ResidentPatch):
    resident = services.resident_update(
        actor=request.user,
        resident=_resident(request, pk),
        name=payload.name,
        id_number=payload.id_number,
        phone=payload.phone,
        relation=payload.relation,
        version=payload.version,
    )
    return _resident_out(request, resident.pk)


@router.post("/residents/{int:pk}/move", response={201: MoveOut})
def move_resident(request, pk: int, payload: MoveIn):
    """迁入 / 迁出 / 户间迁移 / 死亡; the history is kept."""
    target = (
        _household(request, payload.to_household_id)
        if payload.to_household_id is not None
        else None
    )
    move = services.resident_move(
        actor=request.user,
        resident=_resident(request, pk),
        kind=payload.kind,
        date=payload.date,
        reason=payload.reason,
        to_household=target,
        relation=payload.relation,
    )
    return Status(201, move)


@router.post("/residents/{int:pk}/tag", response={201: TagPeriodOut})
def tag_resident(request, pk: int, payload: TagGiveIn):
    """认定 a personal tag (残疾, 留守儿童, 党员...)."""
    period = services.tag_give(
        actor=request.user,
        tag=_tag(payload.tag),
        resident=_resident(request, pk),
        start_date=payload.date,
        reason=payload.reason,
    )
    return Status(201, period)


@router.post("/residents/{int:pk}/untag", response=TagPeriodOut)
def untag_resident(request, pk: int, payload: TagGiveIn):
    return services.tag_remove(
        actor=request.user,
        tag=_tag(payload.tag),
        resident=_resident(request, pk),
        end_date=payload.date,
        reason=payload.reason,
    )


@router.post("/residents/{int:pk}/reveal", response=RevealIdOut)
def reveal_resident_id(request, pk: int, payload: RevealIn):
    """The full 身份证号, for roles that may see it; every call is an audit event with the
    reason given."""
    return {
        "id_number": services.resident_reveal_id(
            actor=request.user, resident=_resident(request, pk), reason=payload.reason
        )
    }


@router.post("/residents/{int:pk}/reveal-phone", response=RevealPhoneOut)
def reveal_resident_phone(request, pk: int, payload: RevealIn):
    return {
        "phone": services.resident_reveal_phone(
            actor=request.user, resident=_resident(request, pk), reason=payload.reason
        )
    }


@router.post("/residents/{int:pk}/moves/{int:move_pk}/correct", response={201: MoveOut})
def correct_move(request, pk: int, move_pk: int, payload: MoveCorrectIn):
    """更正 a 户间迁移 / 迁出 / 死亡 registered by mistake: a correction row, history kept."""
    resident = _resident(request, pk)
    move = resident.moves.filter(pk=move_pk).first()
    if move is None:
        raise NotFoundError()
    correction = services.resident_move_correct(
        actor=request.user, move=move, reason=payload.reason
    )
    return Status(201, correction)


# ---------------------------------------------------------------- tags


@router.get("/tags", response=list[TagOut])
def list_tags(request):
    """Key groups, with how many currently carry each within the caller's jurisdiction."""
    require(request.user, "registry.view")
    return selectors.tag_list(fetched_by=request.user)


@router.post("/tags", response={201: TagOut})
def create_tag(request, payload: TagCreateIn):
    tag = services.tag_create(
        actor=request.user,
        code=payload.code,
        name=payload.name,
        scope=payload.scope,
        description=payload.description,
    )
    return Status(201, tag)


@router.get("/tags/{code}/carriers", response=list[TagCarrierOut])
@paginate
def tag_carriers(request, code: str, day: date | None = None):
    """Who carried the tag on `day` (default today) in the caller's jurisdiction."""
    require(request.user, "registry.view")
    tag = get_object_or_404(Tag, code=code)
    return selectors.tag_carriers(fetched_by=request.user, tag=tag, day=day or timezone.localdate())


# ---------------------------------------------------------------- places, organisations


@router.get("/places", response=list[PlaceOut])
@paginate
def list_places(request, q: str = "", grid_id: int | None = None, kind: str = ""):
    require(request.user, "registry.view")
    return selectors.place_search(fetched_by=request.user, q=q, grid_id=grid_id, kind=kind)


@router.post("/places", response={201: PlaceOut})
def create_place(request, payload: PlaceIn):
    place = services.place_create(
        actor=request.user,
        grid=get_visible_or_404(Area, request.user, pk=payload.grid_id),
        name=payload.name,
        kind=payload.kind,
        address=payload.address,
        contact_name=payload.contact_name,
        contact_phone=payload.contact_phone,
        notes=payload.notes,
    )
    return Status(201, place)


def _patch(request, payload) -> dict:
    """The fields a PATCH sent, its grid looked up inside the caller's jurisdiction."""
    data = payload.dict(exclude_unset=True)
    if "grid_id" in data:
        data["grid"] = get_visible_or_404(Area, request.user, pk=data.pop("grid_id"))
    return data


@router.patch("/places/{int:pk}", response=PlaceOut)
def update_place(request, pk: int, payload: PlacePatch):
    """Change a place: only the fields sent (a phone sent empty clears it)."""
    place = get_visible_or_404(Place, request.user, pk=pk)
    return services.place_update(actor=request.user, place=place, **_patch(request, payload))


@router.get("/places/{int:pk}", response=PlaceOut)
def get_place(request, pk: int):
    require(request.user, "registry.view")
    return get_visible_or_404(Place.objects.select_related("grid"), request.user, pk=pk)


@router.get("/organisations", response=list[OrganisationOut])
@paginate
def list_organisations(request, q: str = "", grid_id: int | None = None, kind: str = ""):
    require(request.user, "registry.view")
    return selectors.organisation_search(fetched_by=request.user, q=q, grid_id=grid_id, kind=kind)


@router.post("/organisations", response={201: OrganisationOut})
def create_organisation(request, payload: OrganisationIn):
    org = services.organisation_create(
        actor=request.user,
        grid=get_visible_or_404(Area, request.user, pk=payload.grid_id),
        name=payload.name,
        kind=payload.kind,
        credit_code=payload.credit_code,
        address=payload.address,
        contact_name=payload.contact_name,
        contact_phone=payload.contact_phone,
        has_party_branch=payload.has_party_branch,
        notes=payload.notes,
    )
    return Status(201, org)


@router.patch("/organisations/{int:pk}", response=OrganisationOut)
def update_organisation(request, pk: int, payload: OrganisationPatch):
    """Change an organisation: only the fields sent."""
    org = get_visible_or_404(Organisation, request.user, pk=pk)
    data = _patch(request, payload)
    return services.organisation_update(actor=request.user, organisation=org, **data)


@router.get("/organisations/{int:pk}", response=OrganisationOut)
def get_organisation(request, pk: int):
    require(request.user, "registry.view")
    return get_visible_or_404(Organisation.objects.select_related("grid"), request.user, pk=pk)
