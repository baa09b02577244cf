"""Reads over the registry. Every one starts from `visible_to(fetched_by)`: the pages, the
API and the spreadsheet export all call these, so they answer the same rows."""

import re
from datetime import date
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from minqing.areas.models import Area, Level
from minqing.core import compiled as compiled_reads
from minqing.core.audit import audit_record, home_area_id
from minqing.core.dbcursor import ids_condition, prepared_cursor
from minqing.core.errors import PermissionDeniedError
from minqing.core.masking import mask_id_number, mask_phone
from minqing.core.permissions import has_perm
from minqing.core.proc_cache import process_cached
from minqing.core.statements import Statement, compiled, scope_user, scope_values

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
from .search_keys import NumberQuery, number_query, to_simplified, to_traditional

# Household "status" filter: households with at least one member in that status, or
# "empty": households where nobody lives any more (all moved out or deceased).
HOUSEHOLD_EMPTY = "empty"
_LETTERS = re.compile(r"^[a-z]+$")


def _clean_query(q: str) -> str:
    return " ".join((q or "").split())


def _address_q(field: str, q: str) -> Q:
    """Address contains q, written either way (洋縣 finds 洋县 and back)."""
    cond = Q()
    for variant in {q, to_simplified(q), to_traditional(q)}:
        cond |= Q(**{f"{field}__contains": variant})
    return cond


def identity_lookup(fetched_by, q: str) -> NumberQuery | None:
    """Read a digits query (search_keys.number_query). A full 身份证号 or mobile number is
    an identity lookup: only for roles allowed to reveal, and audited (the number masked).
    Pages, API and exports all come through the two search selectors below."""
    nq = number_query(q)
    if nq is not None and nq.identity:
        if not has_perm(fetched_by, "registry.reveal_id"):
            raise PermissionDeniedError(
                _(
                    "按完整身份证号或手机号查找仅限有权查看完整号码的角色;"
                    "请按姓名、拼音、手机后四位或户编号查找"
                )
            )
        audit_record(
            actor=fetched_by,
            action="registry.identity_lookup",
            area=home_area_id(fetched_by),
            detail={
                "kind": "id_number" if nq.id_number else "phone",
                "value": mask_id_number(nq.id_number) if nq.id_number else mask_phone(nq.phone),
            },
        )
    return nq


def _resident_terms(q: str, nq: NumberQuery | None) -> dict[str, str]:
    """What a query string matches on a resident, as named values (`_resident_q_of`
    branches on the names alone: core.statements compiles it once per set of names)."""
    if nq is not None:
        if nq.id_number:
            return {"m_id_number": nq.id_number}
        if nq.phone:
            return {"m_phone_tail": nq.phone[-4:], "m_phone": nq.phone}
        if nq.tail:
            return {"m_tail": nq.tail}
        return {"m_nobody": ""}
    compact = q.replace(" ", "")
    lowered = compact.lower()
    if _LETTERS.match(lowered):
        return {"m_pinyin": lowered}
    return {"m_name": to_simplified(compact)}


def _resident_q_of(terms: dict) -> Q:
    """Conditions on a resident's search keys: equality on what the mask shows (phone tail)
    or on a full number, prefix on pinyin, contains on the name."""
    if "m_id_number" in terms:
        return Q(id_number=terms["m_id_number"])
    if "m_phone" in terms:
        return Q(phone_tail=terms["m_phone_tail"], phone=terms["m_phone"])
    if "m_tail" in terms:
        return Q(phone_tail=terms["m_tail"])
    if "m_pinyin" in terms:
        # Full pinyin from the start ("zhangdeshu", "zhang") or initials ("zds").
        return Q(name_pinyin__startswith=terms["m_pinyin"]) | Q(
            name_initials__startswith=terms["m_pinyin"]
        )
    if "m_name" in terms:
        return Q(name_norm__contains=terms["m_name"])
    return Q(pk__in=[])


def _resident_q(q: str, nq: NumberQuery | None) -> Q:
    """Conditions on a resident's search keys for one query string (`_resident_q_of`)."""
    return _resident_q_of(_resident_terms(q, nq))


def _visible_area(fetched_by, area_id) -> Area | None:
    if area_id in (None, ""):
        return None
    try:
        return Area.objects.visible_to(fetched_by).get(pk=int(area_id))
    except (Area.DoesNotExist, TypeError, ValueError):
        return False  # asked for an area they cannot see: no rows, same as a missing one


def _household_terms(fetched_by, *, q="", grid_id=None, tag=None, status=None) -> dict | None:
    """A household search's values by name (`_household_query` branches on the names
    alone), the viewer's jurisdiction paths among them; None when it finds nothing by
    construction (an area they cannot see, an unknown status). A full-number lookup is
    checked and audited here (identity_lookup), whichever way the query then runs."""
    terms = scope_values(fetched_by)
    area = _visible_area(fetched_by, grid_id)
    if area is False:
        return None
    if area is not None:
        terms["area"] = area.path
    q = _clean_query(q)
    if q:
        nq = identity_lookup(fetched_by, q)
        terms.update(_resident_terms(q, nq))
        # the address written either way (洋縣 finds 洋县 and back)
        for i, variant in enumerate(sorted({q, to_simplified(q), to_traditional(q)})):
            terms[f"address{i}"] = variant
        terms["number"] = q
        if len(q) >= 10:
            terms["number_prefix"] = q
        if nq is not None and nq.tail:
            terms["phone_end"] = nq.tail
        elif nq is not None and nq.phone:
            terms["household_phone"] = nq.phone
    if tag:
        terms["tag"] = tag
    if status:
        if status == HOUSEHOLD_EMPTY:
            terms["status_empty"] = ""
        elif status in ResidentStatus.values:
            terms["status"] = status
        else:
            return None
    return terms


def _household_query(fetched_by, terms: dict) -> QuerySet:
    """The households of a search's terms (`_household_terms`), as the viewer sees them."""
    qs = Household.objects.visible_to(fetched_by).select_related("grid", "head")
    if "area" in terms:
        qs = qs.filter(grid__path__startswith=terms["area"])
    if "number" in terms:
        # Each part is one subquery computed once (from its index where one serves: the
        # trigram indexes on PostgreSQL, the pinyin prefixes, the phone tail), not an
        # EXISTS probed for every household of the jurisdiction.
        members = Resident.objects.visible_to(fetched_by).filter(_resident_q_of(terms))
        address = Q()
        for name in sorted(k for k in terms if k.startswith("address")):
            address |= Q(address__contains=terms[name])
        addresses = Household.objects.visible_to(fetched_by).filter(address)
        own = Q(number=terms["number"])
        if "number_prefix" in terms:
            own |= Q(number__startswith=terms["number_prefix"])
        if "phone_end" in terms:
            own |= Q(phone__endswith=terms["phone_end"])
        elif "household_phone" in terms:
            own |= Q(phone=terms["household_phone"])
        households = Household.objects.visible_to(fetched_by).filter(own)
        # One set of matching households, driven from the small side (the matches), so the
        # cost follows the matches rather than the size of the jurisdiction.
        matched = (
            members.order_by()
            .values("household_id")
            .union(addresses.order_by().values("pk"), households.order_by().values("pk"), all=True)
        )
        qs = qs.filter(pk__in=matched)
    if "tag" in terms:
        qs = qs.filter(
            Exists(
                TagPeriod.objects.filter(
                    household=OuterRef("pk"), tag__code=terms["tag"], end_date__isnull=True
                )
            )
        )
    if "status_empty" in terms:
        qs = qs.exclude(
            Exists(Resident.objects.filter(household=OuterRef("pk"), status=ResidentStatus.LIVING))
        )
    elif "status" in terms:
        qs = qs.filter(
            Exists(Resident.objects.filter(household=OuterRef("pk"), status=terms["status"]))
        )
    # Grid by grid, then by number: the order a cadre walks the ledger, and the one
    # PostgreSQL can answer from the jurisdiction's end of the tree (bench/RESULTS.md).
    return qs.order_by("grid__path", "number")


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
    terms = _household_terms(fetched_by, q=q, grid_id=grid_id, tag=tag, status=status)
    if terms is None:
        return Household.objects.none()
    return _household_query(fetched_by, terms)


def _list_statement(name: str, columns: tuple, terms: dict, rows, count) -> Statement:
    """A list's rows and its count compiled once per shape of search (core.statements):
    `rows(marks)` and `count(marks)` build the querysets; the count is of `count`'s rows."""
    listed = compiled((name, columns), terms, rows)
    counted = compiled((f"{name}-count",), terms, count)
    if counted is not None:
        counted = (f"SELECT COUNT(*) FROM ({counted[0]}) AS found", counted[1])
    return Statement(listed, counted)


def household_list_statement(
    *, fetched_by, columns: tuple, q="", grid_id=None, tag=None, status=None
) -> Statement:
    """household_search's rows for a list page (`columns` of household_list_rows), as a
    statement compiled once per shape of search (core.statements): the same SQL and
    scoping, without building and compiling the queryset on every request."""
    terms = _household_terms(fetched_by, q=q, grid_id=grid_id, tag=tag, status=status)
    if terms is None:
        return Statement(None, None)

    def rows(marks):
        query = _household_query(scope_user(marks), marks)
        return household_list_rows(query).values_list(*columns)

    def count(marks):
        # the matching households' ids alone (no grid and head joined for a count)
        return _household_query(scope_user(marks), marks).order_by().values("pk")

    return _list_statement("households", columns, terms, rows, count)


def _resident_list_terms(fetched_by, *, q="", grid_id=None, tag=None, status=None) -> dict | None:
    """A resident search's values by name (`_resident_query` branches on the names alone),
    the viewer's jurisdiction paths among them; None when it finds nothing by construction
    (an area they cannot see, an unknown status). A full-number lookup is checked and
    audited here (identity_lookup), whichever way the query then runs."""
    terms = scope_values(fetched_by)
    area = _visible_area(fetched_by, grid_id)
    if area is False:
        return None
    if area is not None:
        terms["area"] = area.path
    q = _clean_query(q)
    if q:
        nq = identity_lookup(fetched_by, q)
        terms.update(_resident_terms(q, nq))
        # the household's address written either way (洋縣 finds 洋县 and back)
        for i, variant in enumerate(sorted({q, to_simplified(q), to_traditional(q)})):
            terms[f"address{i}"] = variant
    if tag:
        terms["tag"] = tag
    if status:
        if status not in ResidentStatus.values:
            return None
        terms["status"] = status
    return terms


def _resident_query(fetched_by, terms: dict) -> QuerySet:
    """The residents of a search's terms (`_resident_list_terms`), as the viewer sees them."""
    qs = Resident.objects.visible_to(fetched_by).select_related(
        "household__head", "household__grid"
    )
    if "area" in terms:
        qs = qs.filter(household__grid__path__startswith=terms["area"])
    addresses = sorted(k for k in terms if k.startswith("address"))
    if addresses:
        cond = _resident_q_of(terms)
        for name in addresses:
            cond |= Q(household__address__contains=terms[name])
        qs = qs.filter(cond)
    if "tag" in terms:
        qs = qs.filter(
            Exists(
                TagPeriod.objects.filter(tag__code=terms["tag"], end_date__isnull=True).filter(
                    Q(resident=OuterRef("pk"))
                    | Q(resident__isnull=True, household=OuterRef("household_id"))
                )
            )
        )
    if "status" in terms:
        qs = qs.filter(status=terms["status"])
    return qs.order_by("household__grid__path", "household__number", "id")


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
    terms = _resident_list_terms(fetched_by, q=q, grid_id=grid_id, tag=tag, status=status)
    if terms is None:
        return Resident.objects.none()
    return _resident_query(fetched_by, terms)


def resident_list_statement(
    *, fetched_by, columns: tuple, q="", grid_id=None, tag=None, status=None
) -> Statement:
    """resident_search's rows for the list page (`columns` of its values), as a statement
    compiled once per shape of search (core.statements), like household_list_statement."""
    terms = _resident_list_terms(fetched_by, q=q, grid_id=grid_id, tag=tag, status=status)
    if terms is None:
        return Statement(None, None)

    def rows(marks):
        return _resident_query(scope_user(marks), marks).values_list(*columns)

    def count(marks):
        return _resident_query(scope_user(marks), marks).order_by().values("pk")

    return _list_statement("residents", columns, terms, rows, count)


def current_tags_prefetch(lookup: str = "tag_periods", to_attr: str = "current_tags"):
    """The open tag periods of each row, with their tag: one query for a whole page."""
    return Prefetch(
        lookup,
        queryset=TagPeriod.objects.current().select_related("tag").order_by("tag__order"),
        to_attr=to_attr,
    )


def household_list_rows(qs: QuerySet) -> QuerySet:
    """What a list page shows per household: the living members counted per row by a
    correlated subquery (PostgreSQL evaluates it for the page's rows after the LIMIT, not
    grouped over the whole jurisdiction first; one query fewer than a grouped query for
    the page). The page's tags: `current_badges`."""
    return qs.annotate(living_count=living_members())


class Badge(NamedTuple):
    """An open tag period as a list row shows it (a TagPeriod's `tag`, `tag_id` and
    `resident_id`), without building the period and its tag for each row."""

    tag: Tag
    tag_id: int
    resident_id: int | None


def current_badges(*, household_ids=None, resident_ids=None) -> dict[int, list[Badge]]:
    """The open tag periods of a page's rows in tag order, by household (the household's
    and its members' periods) or by resident: one query of three columns, the tags from
    the process's copy (`all_tags`; read here when a tag is newer than the copy). The ids
    come from a scoped query: no second scoping here."""
    if household_ids is not None:
        key, ids = "household_id", household_ids
    else:
        key, ids = "resident_id", resident_ids
    if not ids:
        return {}
    # One statement text for any page (prepared once per connection): the ORM's query
    # building and PostgreSQL's planning were most of this read's time on every list page.
    cond, params = ids_condition(key, ids)
    with prepared_cursor() as cur:
        cur.execute(
            f"SELECT {key}, tag_id, resident_id FROM registry_tagperiod"
            f" WHERE end_date IS NULL AND {cond}",
            params,
        )
        rows = cur.fetchall()
    tags = {t.pk: t for t in all_tags()}
    missing = {tag_id for _k, tag_id, _r in rows} - tags.keys()
    if missing:
        tags.update({t.pk: t for t in Tag.objects.filter(pk__in=missing)})
    rows.sort(key=lambda row: (tags[row[1]].order, tags[row[1]].name))
    out: dict[int, list[Badge]] = {}
    for owner, tag_id, resident_id in rows:
        out.setdefault(owner, []).append(Badge(tags[tag_id], tag_id, resident_id))
    return out


def living_members():
    """A household row's living members, as an expression on the household's query (a
    correlated count over the resident index by household and status)."""
    living = (
        Resident.objects.filter(household=OuterRef("pk"), status=ResidentStatus.LIVING)
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(living), 0)


def kept_count(*, fetched_by, kind: str, q="", grid_id=None, tag=None, status=None) -> int | None:
    """The total of a list from the kept summaries when its filters allow (no search, and
    a filter the summaries keep), else None (the paginator counts the query). One
    statement compiled once per shape (core.statements), as the list's rows."""
    from django.db.models import F

    from .models import GridSummary, GridTagSummary

    if _clean_query(q):
        return None
    if tag:
        if status:
            return None
        field = None
    elif kind == "households":
        field = None if status else "households"
    else:
        field = {None: "people", ResidentStatus.LIVING: "residents"}.get(status or None)
        if field is None:
            return None
    if field is None and not tag:
        return None
    area = _visible_area(fetched_by, grid_id)
    if area is False:
        return 0
    terms = scope_values(fetched_by)
    if area is not None:
        terms["area"] = area.path
    if tag:
        terms["tag"] = tag

    def build(marks):
        qs = GridSummary.objects.visible_to(scope_user(marks))
        if "area" in marks:
            qs = qs.filter(grid__path__startswith=marks["area"])
        if "tag" not in marks:
            return qs.order_by().values(n=F(field))
        # the tag's scope too: a household list counts households, which the kept periods
        # of a personal tag do not tell
        return (
            GridTagSummary.objects.filter(grid_id__in=qs.values("grid_id"), tag__code=marks["tag"])
            .order_by()
            .values(n=F("count"), scope=F("tag__scope"))
        )

    statement = compiled(("kept", field), terms, build)
    if statement is None:
        return 0
    sql, params = statement
    with connection.cursor() as cur:
        if tag:
            cur.execute(f"SELECT SUM(n), MAX(scope) FROM ({sql}) AS kept", params)
            n, scope = cur.fetchone()
            wanted = Tag.Scope.HOUSEHOLD if kind == "households" else Tag.Scope.RESIDENT
            if scope not in (None, wanted):
                return None
        else:
            cur.execute(f"SELECT SUM(n) FROM ({sql}) AS kept", params)
            n = cur.fetchone()[0]
    return int(n or 0)


def resident_list_rows(qs: QuerySet) -> QuerySet:
    return qs.prefetch_related(current_tags_prefetch())


def household_members(
    *, fetched_by, household: Household, history: list | None = None, scoped: bool = False
) -> list[Resident]:
    """Members of one household: living first, the head first among them, each with its
    `current_tags`. Given the household's tag history (household_tag_history), the open
    personal periods are taken from it (a member's open periods are always filed under
    the household the member is in: a transfer ends them and opens them in the new one),
    else read with one more query. `scoped=True` when the caller looked the household up
    through the viewer's scope (the household page): a resident is scoped by its
    household's grid alone, so the check's two joins are left out."""
    if scoped and history is not None:
        # one statement compiled once per connection (core.compiled)
        members = compiled_reads.rows(
            "household-members",
            {"h": household.pk},
            lambda v: Resident.objects.filter(household_id=v["h"]),
        )
    else:
        residents = Resident.objects.all() if scoped else Resident.objects.visible_to(fetched_by)
        members = residents.filter(household=household)
        members = list(
            members.prefetch_related(current_tags_prefetch()) if history is None else members
        )
    if history is not None:
        open_periods: dict[int, list[TagPeriod]] = {}
        for period in sorted(history, key=lambda p: p.tag.order):
            if period.end_date is None and period.resident_id is not None:
                open_periods.setdefault(period.resident_id, []).append(period)
        for member in members:
            member.current_tags = open_periods.get(member.pk, [])
    status_rank = {
        ResidentStatus.LIVING: 0,
        ResidentStatus.MOVED_OUT: 1,
        ResidentStatus.DECEASED: 2,
    }
    # Oldest first by age in years, not by birth date: the order must not tell more
    # than the age shown (core.masking).
    members.sort(
        key=lambda r: (
            status_rank.get(r.status, 3),
            r.pk != household.head_id,
            r.relation != "head",
            -(r.age or 0),
            r.pk,
        )
    )
    return members


def household_tag_history(
    *, fetched_by, household: Household, scoped: bool = False
) -> list[TagPeriod]:
    """Every tag period of the household and its members, open ones first, newest first.
    `scoped=True` when the caller already looked the household up through the viewer's
    scope (the household page): a period is scoped by its household's grid, so all of a
    visible household's periods are visible, and the check's two joins are left out (on
    the 1M city they were about half the statement's planning)."""
    if scoped:
        # one statement compiled once per connection (core.compiled); of the people who
        # started and ended a period, the page shows the name alone
        return compiled_reads.rows("household-tag-history", {"h": household.pk}, _tag_history_query)
    return list(
        TagPeriod.objects.visible_to(fetched_by)
        .filter(household=household)
        .select_related("tag", "resident", "started_by", "ended_by")
        .order_by("end_date", "-start_date", "-id")
    )


# A period's user columns the household page leaves unread (it names them: User.__str__)
_PERIOD_USER_UNREAD = ("password", "email", "phone", "last_login", "date_joined")


def _tag_history_query(values):
    return (
        TagPeriod.objects.filter(household_id=values["h"])
        .select_related("tag", "resident", "started_by", "ended_by")
        .defer(*(f"{who}__{f}" for who in ("started_by", "ended_by") for f in _PERIOD_USER_UNREAD))
        .order_by("end_date", "-start_date", "-id")
    )


def household_moves(*, fetched_by, household: Household, scoped: bool = False) -> list[Move]:
    """Moves into, out of and within this household, newest first. `scoped=True` when the
    caller already looked the household up through the viewer's scope (a page section):
    no second check then."""
    if not scoped and not Household.objects.visible_to(fetched_by).filter(pk=household.pk).exists():
        return []
    touching = Move.objects.filter(Q(from_household=household) | Q(to_household=household))
    # Most households never had a move: a bare probe first, since planning the six joins
    # below cost more than running them (EXPLAIN on the 1M city: 3 ms planning, 0.2 ms run);
    # compiled once per connection (core.compiled)
    if not compiled_reads.rows("household-moved", {"h": household.pk}, _moved_probe):
        return []
    moves = list(
        touching.select_related(
            "resident", "from_household__head", "to_household__head", "actor", "corrects"
        ).order_by("-date", "-id")
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


def _moved_probe(values):
    h = values["h"]
    touching = Move.objects.filter(Q(from_household_id=h) | Q(to_household_id=h))
    return touching.order_by().values_list("pk", flat=True)[:1]


def _resident_sql(q: str, nq: NumberQuery | None) -> tuple[str, list] | None:
    """`_resident_q` as SQL on registry_resident's columns (None: nothing matches), for the
    fixed reads of a page's rows below; test_list_reads pins the two to the same answers."""
    ops = connection.ops
    if nq is not None:
        if nq.id_number:
            return "id_number = %s", [nq.id_number]
        if nq.phone:
            return "phone_tail = %s AND phone = %s", [nq.phone[-4:], nq.phone]
        if nq.tail:
            return "phone_tail = %s", [nq.tail]
        return None
    compact = q.replace(" ", "")
    lowered = compact.lower()
    if _LETTERS.match(lowered):
        like = connection.operators["startswith"]
        pinyin = ops.lookup_cast("startswith") % "name_pinyin"
        initials = ops.lookup_cast("startswith") % "name_initials"
        prefix = f"{ops.prep_for_like_query(lowered)}%"
        return f"({pinyin} {like} OR {initials} {like})", [prefix, prefix]
    name = ops.lookup_cast("contains") % "name_norm"
    needle = ops.prep_for_like_query(to_simplified(compact))
    return f"{name} {connection.operators['contains']}", [f"%{needle}%"]


class MatchedMember(NamedTuple):
    """A member named under a search result (what the rows show of a Resident)."""

    id: int
    name: str
    relation: str
    household_id: int

    @property
    def pk(self) -> int:
        return self.id


def matched_members(*, q: str, household_ids: list[int]) -> dict[int, list[MatchedMember]]:
    """Why a household matched a search: its members (other than the head) whose name,
    pinyin, initials or number tail matched `q`; one query for a page of households (whose
    ids came from a scoped search), of a fixed text per kind of query (prepared once per
    connection: the ORM's building and the planning were most of its time)."""
    q = _clean_query(q)
    if not q or not household_ids:
        return {}
    # the search itself checked (and audited) a full-number lookup: no second event here
    matching = _resident_sql(q, number_query(q))
    if matching is None:
        return {}
    cond, params = matching
    ids, id_params = ids_condition("household_id", household_ids)
    with prepared_cursor() as cur:
        cur.execute(
            "SELECT id, name, relation, household_id FROM registry_resident"
            f" WHERE {ids} AND {cond} AND relation <> %s ORDER BY household_id, id",
            [*id_params, *params, "head"],
        )
        rows = cur.fetchall()
    found: dict[int, list[MatchedMember]] = {}
    for row in rows:
        found.setdefault(row[3], []).append(MatchedMember(*row))
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


def all_tags() -> list[Tag]:
    """Every tag in display order: the process's copy (core.proc_cache), reloaded when a
    tag is saved or deleted anywhere (registry.apps), so the lists, the filters and the
    overview of every page do not each read the tag table. Read-only: do not change them."""
    return process_cached("registry-tags", lambda: list(Tag.objects.order_by("order", "name")))


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
