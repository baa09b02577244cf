"""Reads over the registry. Every one starts from `visible_to(fetched_by)`: the pages, the
API and the spreadsheet export all call these, so they answer the same rows."""

import re
from datetime import date

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from minqing.areas.models import Area, Level

from .models import (
    Household,
    Move,
    Organisation,
    Place,
    Resident,
    ResidentStatus,
    Tag,
    TagPeriod,
)
from .search_keys import to_simplified, to_traditional

# Household "status" filter: households with at least one member in that status, or
# "empty": households where nobody lives any more (all moved out or deceased).
HOUSEHOLD_EMPTY = "empty"
_ID_CHARS = re.compile(r"^[0-9]{1,17}[0-9Xx]?$")
_LETTERS = re.compile(r"^[a-z]+$")


def _clean_query(q: str) -> str:
    return " ".join((q or "").split())


def _address_q(field: str, q: str) -> Q:
    """Address contains q, written either way (洋縣 finds 洋县 and back)."""
    cond = Q()
    for variant in {q, to_simplified(q), to_traditional(q)}:
        cond |= Q(**{f"{field}__contains": variant})
    return cond


def _resident_q(q: str, prefix: str = "") -> Q:
    """Conditions on a resident's search keys for one query string."""
    p = prefix
    compact = q.replace(" ", "")
    lowered = compact.lower()
    if _ID_CHARS.match(compact):
        digits = compact.upper()
        cond = Q()
        if len(digits) == 18:
            cond |= Q(**{f"{p}id_number": digits})
        elif len(digits) <= 6:
            cond |= Q(**{f"{p}id_tail__endswith": digits})
        else:
            cond |= Q(**{f"{p}id_number__endswith": digits})
        if digits.isdigit():
            if len(digits) <= 4:
                cond |= Q(**{f"{p}phone_tail__endswith": digits})
            else:
                cond |= Q(**{f"{p}phone_tail": digits[-4:], f"{p}phone__endswith": digits})
        return cond
    if _LETTERS.match(lowered):
        # Full pinyin from the start ("zhangdeshu", "zhang") or initials ("zds").
        return Q(**{f"{p}name_pinyin__startswith": lowered}) | Q(
            **{f"{p}name_initials__startswith": lowered}
        )
    return Q(**{f"{p}name_norm__contains": to_simplified(compact)})


def _visible_area(fetched_by, area_id) -> Area | None:
    if area_id in (None, ""):
        return None
    try:
        return Area.objects.visible_to(fetched_by).get(pk=int(area_id))
    except (Area.DoesNotExist, TypeError, ValueError):
        return False  # asked for an area they cannot see: no rows, same as a missing one


def household_search(
    *,
    fetched_by,
    q: str = "",
    grid_id: int | None = None,
    tag: str | None = None,
    status: str | None = None,
) -> QuerySet:
    """Households in the user's jurisdiction, matching a name (繁/简, pinyin, initials) of any
    member, an ID or phone tail, the address or the household number; `grid_id` is any
    visible area (a grid, village or township) and keeps its subtree; `tag` is a current
    Tag.code carried by the household or a member."""
    qs = Household.objects.visible_to(fetched_by).select_related("grid", "head")
    area = _visible_area(fetched_by, grid_id)
    if area is False:
        return qs.none()
    if area is not None:
        qs = qs.within(area)
    q = _clean_query(q)
    if q:
        member = Resident.objects.filter(_resident_q(q), household=OuterRef("pk"))
        cond = Exists(member) | _address_q("address", q) | Q(number=q)
        if len(q) >= 10:
            cond |= Q(number__startswith=q)
        digits = q.replace(" ", "")
        if digits.isdigit() and len(digits) >= 4:
            cond |= Q(phone__endswith=digits)
        qs = qs.filter(cond)
    if tag:
        qs = qs.filter(
            Exists(
                TagPeriod.objects.filter(
                    household=OuterRef("pk"), tag__code=tag, end_date__isnull=True
                )
            )
        )
    if status:
        if status == HOUSEHOLD_EMPTY:
            qs = qs.exclude(
                Exists(
                    Resident.objects.filter(household=OuterRef("pk"), status=ResidentStatus.LIVING)
                )
            )
        elif status in ResidentStatus.values:
            qs = qs.filter(Exists(Resident.objects.filter(household=OuterRef("pk"), status=status)))
        else:
            return qs.none()
    # Grid by grid, then by number: the order a cadre walks the ledger, and the one
    # PostgreSQL can answer from the jurisdiction's end of the tree (bench/RESULTS.md).
    return qs.order_by("grid__path", "number")


def resident_search(
    *,
    fetched_by,
    q: str = "",
    grid_id: int | None = None,
    tag: str | None = None,
    status: str | None = None,
) -> QuerySet:
    """Residents in the user's jurisdiction; same query language as household_search.
    A household-scope `tag` matches every member of a household carrying it."""
    qs = Resident.objects.visible_to(fetched_by).select_related(
        "household__head", "household__grid"
    )
    area = _visible_area(fetched_by, grid_id)
    if area is False:
        return qs.none()
    if area is not None:
        qs = qs.filter(household__grid__path__startswith=area.path)
    q = _clean_query(q)
    if q:
        qs = qs.filter(_resident_q(q) | _address_q("household__address", q))
    if tag:
        qs = qs.filter(
            Exists(
                TagPeriod.objects.filter(tag__code=tag, end_date__isnull=True).filter(
                    Q(resident=OuterRef("pk"))
                    | Q(resident__isnull=True, household=OuterRef("household_id"))
                )
            )
        )
    if status:
        if status not in ResidentStatus.values:
            return qs.none()
        qs = qs.filter(status=status)
    return qs.order_by("household__grid__path", "household__number", "id")


def current_tags_prefetch(lookup: str = "tag_periods", to_attr: str = "current_tags"):
    """The open tag periods of each row, with their tag: one query for a whole page."""
    return Prefetch(
        lookup,
        queryset=TagPeriod.objects.current().select_related("tag").order_by("tag__order"),
        to_attr=to_attr,
    )


def household_list_rows(qs: QuerySet) -> QuerySet:
    """What a list page shows per household: living member count and current tags."""
    return qs.annotate(
        living_count=Count("members", filter=Q(members__status=ResidentStatus.LIVING))
    ).prefetch_related(current_tags_prefetch())


def resident_list_rows(qs: QuerySet) -> QuerySet:
    return qs.prefetch_related(current_tags_prefetch())


def household_members(*, fetched_by, household: Household) -> list[Resident]:
    """Members of one household: living first, the head first among them."""
    members = list(
        Resident.objects.visible_to(fetched_by)
        .filter(household=household)
        .prefetch_related(current_tags_prefetch())
    )
    status_rank = {
        ResidentStatus.LIVING: 0,
        ResidentStatus.MOVED_OUT: 1,
        ResidentStatus.DECEASED: 2,
    }
    members.sort(
        key=lambda r: (
            status_rank.get(r.status, 3),
            r.pk != household.head_id,
            r.relation != "head",
            r.birth_date,
        )
    )
    return members


def household_tag_history(*, fetched_by, household: Household) -> list[TagPeriod]:
    """Every tag period of the household and its members, open ones first, newest first."""
    return list(
        TagPeriod.objects.visible_to(fetched_by)
        .filter(household=household)
        .select_related("tag", "resident", "started_by", "ended_by")
        .order_by("end_date", "-start_date", "-id")
    )


def household_moves(*, fetched_by, household: Household) -> list[Move]:
    """Moves into, out of and within this household, newest first."""
    if not Household.objects.visible_to(fetched_by).filter(pk=household.pk).exists():
        return []
    moves = list(
        Move.objects.filter(Q(from_household=household) | Q(to_household=household))
        .select_related(
            "resident", "from_household__head", "to_household__head", "actor", "corrects"
        )
        .order_by("-date", "-id")
    )
    # The other end of a move may lie outside the viewer's jurisdiction: shown, but not named.
    others = {m.from_household_id for m in moves} | {m.to_household_id for m in moves}
    others -= {None, household.pk}
    visible = {household.pk}
    if others:
        visible |= set(
            Household.objects.visible_to(fetched_by)
            .filter(pk__in=others)
            .values_list("pk", flat=True)
        )
    for m in moves:
        m.from_visible = m.from_household_id in visible
        m.to_visible = m.to_household_id in visible
    return moves


def matched_members(*, q: str, household_ids: list[int]) -> dict[int, list[Resident]]:
    """Why a household matched a search: its members (other than the head) whose name,
    pinyin, initials or number tail matched `q`; one query for a page of households (whose
    ids came from a scoped search)."""
    q = _clean_query(q)
    if not q or not household_ids:
        return {}
    found: dict[int, list[Resident]] = {}
    rows = (
        Resident.objects.filter(_resident_q(q), household_id__in=household_ids)
        .exclude(relation="head")
        .only("id", "name", "relation", "household_id")
        .order_by("household_id", "id")
    )
    for r in rows:
        found.setdefault(r.household_id, []).append(r)
    return found


def tag_carriers(*, fetched_by, tag: Tag, day: date) -> QuerySet:
    """Who carried tag T on day D (动态管理): one query over the dated periods."""
    return (
        TagPeriod.objects.visible_to(fetched_by)
        .filter(tag=tag)
        .on(day)
        .select_related("resident", "household__head", "household__grid", "tag")
        .order_by("household__number", "resident_id")
    )


def tag_list(*, fetched_by) -> QuerySet:
    """All tags with how many people/households currently carry each in the jurisdiction."""
    visible = TagPeriod.objects.visible_to(fetched_by).current()
    return Tag.objects.annotate(
        current_count=Count("periods", filter=Q(periods__in=visible.values("pk")))
    ).order_by("order", "name")


def registry_counts(*, fetched_by) -> dict:
    """Home panel figures: households, living residents and current key-group members."""
    return {
        "households": Household.objects.visible_to(fetched_by).count(),
        "residents": Resident.objects.visible_to(fetched_by)
        .filter(status=ResidentStatus.LIVING)
        .count(),
        "tagged": TagPeriod.objects.visible_to(fetched_by).current().count(),
    }


def visible_grids(*, fetched_by) -> QuerySet:
    """Grids (and the villages above them) the user may file under or filter by."""
    return (
        Area.objects.visible_to(fetched_by)
        .filter(level__in=[Level.TOWNSHIP, Level.VILLAGE, Level.GRID])
        .order_by("path")
    )


def place_search(*, fetched_by, q: str = "", grid_id: int | None = None, kind: str = ""):
    qs = Place.objects.visible_to(fetched_by).select_related("grid")
    return _filter_grid_things(qs, fetched_by=fetched_by, q=q, grid_id=grid_id, kind=kind)


def organisation_search(*, fetched_by, q: str = "", grid_id: int | None = None, kind: str = ""):
    qs = Organisation.objects.visible_to(fetched_by).select_related("grid")
    return _filter_grid_things(qs, fetched_by=fetched_by, q=q, grid_id=grid_id, kind=kind)


def _filter_grid_things(qs, *, fetched_by, q, grid_id, kind):
    area = _visible_area(fetched_by, grid_id)
    if area is False:
        return qs.none()
    if area is not None:
        qs = qs.filter(grid__path__startswith=area.path)
    q = _clean_query(q)
    if q:
        qs = qs.filter(
            _address_q("name", q) | _address_q("address", q) | Q(contact_name__contains=q)
        )
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("grid__path", "name")
