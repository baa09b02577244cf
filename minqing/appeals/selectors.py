"""Reads of appeals that span models: my duties, filtered lists, counts per leader and
per level. Every one starts from Appeal.objects.visible_to(fetched_by), except my duties,
whose rows are visible by construction (see `appeal_duties`; tested against visible_to)."""

from itertools import islice

from django.db.models import Count, F, Q
from django.db.models.query import ModelIterable
from django.http import Http404

from minqing.areas.models import PATH_SEP, Area, Level
from minqing.core import clock
from minqing.core.proc_cache import process_cached
from minqing.core.roles import Role
from minqing.core.scoping import jurisdiction_paths

from .models import OPEN_STATES, Appeal, State

# The level at which each role takes up unclaimed matters.
ROLE_LEVEL = {
    Role.GRID_WORKER: Level.VILLAGE,
    Role.VILLAGE_CADRE: Level.VILLAGE,
    Role.TOWNSHIP_STAFF: Level.TOWNSHIP,
    Role.DEPARTMENT_STAFF: Level.COUNTY,
    Role.LEADER: Level.COUNTY,
}

LIST_RELATED = ("owner", "unit")


class ListRows(ModelIterable):
    """Appeals for lists and pages: their category, area and handling area come from the
    process's copies (`services.categories_by_id`, `services.cached_areas`) instead of three
    more joins. With owner and unit a list query joins five tables, and PostgreSQL spent
    more time planning that join (~4 ms at 1M appeals) than running it."""

    def __iter__(self):
        from .services import cached_areas, categories_by_id

        rows = super().__iter__()
        while chunk := list(islice(rows, 2000)):
            loaded = chunk[0].__dict__
            if "category_id" in loaded:
                cats = categories_by_id()
                for a in chunk:
                    if a.category_id in cats:
                        a.category = cats[a.category_id]
            if "area_id" in loaded and "handling_area_id" in loaded:
                areas = cached_areas(
                    {a.area_id for a in chunk} | {a.handling_area_id for a in chunk}
                )
                for a in chunk:
                    a.area, a.handling_area = areas[a.area_id], areas[a.handling_area_id]
            yield from chunk


def for_lists(qs):
    """A list's rows with everything a page or `appeal_out` shows, in one query."""
    qs = qs.select_related(*LIST_RELATED)
    qs._iterable_class = ListRows
    return qs


def _with_overdue_first(qs):
    """Overdue first, then by deadline: the overdue matters are exactly those due before
    now, so this is the deadline order (matters without one last), which the deadline
    indexes serve as they are; a computed "overdue" sort key would make PostgreSQL sort
    every matching row."""
    return qs.order_by(F("due_at").asc(nulls_last=True), "id")


def _waiting_areas(level: int, paths: tuple[str, ...]) -> tuple[list[int], list[int], list[int]]:
    """For "unclaimed matters waiting at my level in my areas", the ids that say it on the
    appeal's own columns: handling areas at `level` within my areas (their matters lie in my
    areas), and, for areas I hold below that level (a grid worker's grid; the matter waits at
    its village), the handling areas above them with the areas I hold under them."""
    held = dict(Area.objects.filter(path__in=paths).values_list("path", "level"))
    free, above, under = set(), set(), set()
    for path in paths:
        if held.get(path, level) <= level:
            free.update(
                Area.objects.filter(level=level, path__startswith=path).values_list("pk", flat=True)
            )
        else:
            parts = path.split(PATH_SEP)[:-1]
            prefixes = [PATH_SEP.join(parts[:i]) + PATH_SEP for i in range(1, len(parts))]
            above.update(
                Area.objects.filter(level=level, path__in=prefixes).values_list("pk", flat=True)
            )
            under.update(Area.objects.filter(path__startswith=path).values_list("pk", flat=True))
    return sorted(free), sorted(above), sorted(under)


def _waiting_ids(level: int, paths: list[str]) -> tuple[list[int], list[int], list[int]]:
    key = (level, tuple(paths))
    kept = process_cached("appeal-waiting-areas", dict)
    ids = kept.get(key)
    if ids is None:
        ids = _waiting_areas(level, key[1])
        if len(kept) < 50_000:
            kept[key] = ids
    return ids


def _waiting_q(free, above, under) -> Q | None:
    q = Q(handling_area_id__in=free) if free else Q()
    if above and under:
        q |= Q(handling_area_id__in=above, area_id__in=under)
    return Q(state=State.ACCEPTED) & q if q else None


def _duties_condition(uid, unit_id, free, above, under) -> Q:
    mine = Q(owner_id=uid, state__in=[State.CLAIMED, State.ASSIGNED, State.IN_PROGRESS])
    if unit_id:
        mine |= Q(unit_id=unit_id, owner__isnull=True, state=State.ASSIGNED)
    waiting = _waiting_q(free, above, under)
    if waiting is not None:
        mine |= waiting
    return mine


def duties_values(user) -> dict | None:
    """The values `duties_q` is made of (None: nothing): the user, their unit, and the ids
    of the areas their waiting matters are handled in (free0…, above0…, under0…), for a
    statement compiled once per shape (the home panel, core.compiled)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    values = {"uid": user.pk}
    if user.unit_id:
        values["unit"] = user.unit_id
    level = ROLE_LEVEL.get(user.role)
    paths = jurisdiction_paths(user)
    if level is not None and paths:
        free, above, under = _waiting_ids(level, paths)
        values.update({f"free{i}": pk for i, pk in enumerate(free)})
        if above and under:
            values.update({f"above{i}": pk for i, pk in enumerate(above)})
            values.update({f"under{i}": pk for i, pk in enumerate(under)})
    return values


def duties_q_of(values: dict) -> Q:
    """`duties_q` from `duties_values`' values (marks when compiling)."""

    def named(prefix):
        return [v for k, v in values.items() if k.startswith(prefix)]

    return _duties_condition(
        values["uid"], values.get("unit"), named("free"), named("above"), named("under")
    )


def duties_q(user) -> Q | None:
    """The condition of `appeal_duties` (None: nothing), for reads that shape it otherwise
    (the home panel)."""
    values = duties_values(user)
    return None if values is None else duties_q_of(values)


def appeal_duties(*, fetched_by):
    """履职清单: the matters this user should act on now, overdue first — those they own,
    those given to their unit, and unclaimed ones waiting at their level in their area.

    Each part is said on the appeal's own columns (owner; unit; handling area and, for a
    grid worker, area ids), so PostgreSQL answers the OR from its three indexes at once
    (a bitmap OR) instead of joining areas to test every open matter's path. Every row is
    visible to the user by construction (visible_to shows owners and unit members their
    matters anywhere, and the waiting part lies within their areas), so no separate
    visibility filter is added; tests hold the list to a subset of visible_to."""
    mine = duties_q(fetched_by)
    if mine is None:
        return Appeal.objects.none()
    return _with_overdue_first(for_lists(Appeal.objects.filter(mine)))


def appeal_list(
    *,
    fetched_by,
    state: str = "",
    category: str = "",
    area_id: int | None = None,
    unit_id: int | None = None,
    overdue: bool = False,
    kind: str = "",
    q: str = "",
):
    """Unit and area lists with filters, newest first (overdue first when filtered so)."""
    qs = for_lists(Appeal.objects.visible_to(fetched_by))
    if state:
        qs = qs.filter(state=state)
    if category:
        qs = qs.filter(category__code=category)
    if kind:
        qs = qs.filter(kind=kind)
    if area_id:
        area = Area.objects.visible_to(fetched_by).filter(pk=area_id).first()
        qs = qs.filter(area__path__startswith=area.path) if area else qs.none()
    if unit_id:
        qs = qs.filter(unit_id=unit_id)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(content__icontains=q))
    if overdue:
        return _with_overdue_first(qs.filter(state__in=OPEN_STATES, due_at__lt=clock.now()))
    return qs.order_by("-created_at", "-id")


def leader_claims(*, fetched_by):
    """Micro-matters claimed per leader (the seeds: 35 leaders claimed 471)."""
    return (
        Appeal.objects.visible_to(fetched_by)
        .filter(owner__role=Role.LEADER)
        .values("owner_id", "owner__last_name", "owner__first_name", "owner__username")
        .annotate(
            claimed=Count("id"),
            done=Count("id", filter=Q(state__in=[State.RESOLVED, State.REVISITED, State.ARCHIVED])),
        )
        .order_by("-claimed")
    )


def solved_by_level(*, fetched_by) -> dict:
    """Resolved matters by the level that solved them: the 小事不出村 rate."""
    rows = (
        Appeal.objects.visible_to(fetched_by)
        .filter(solved_level__isnull=False)
        .values("solved_level")
        .annotate(n=Count("id"))
    )
    by_level = {r["solved_level"]: r["n"] for r in rows}
    total = sum(by_level.values())
    village = by_level.get(Level.VILLAGE, 0)
    return {
        "village": village,
        "township": by_level.get(Level.TOWNSHIP, 0),
        "county": by_level.get(Level.COUNTY, 0),
        "total": total,
        "village_rate": round(village * 100 / total, 1) if total else None,
    }


def duplicate_proposals(*, fetched_by, appeal: Appeal) -> list[tuple[Appeal, float]]:
    """Open matters of the appeal's village (visible to the user) likely to be the same
    matter, not yet judged (routing.duplicate_suggest)."""
    from . import routing
    from .services import village_of

    if appeal.area.level < Level.VILLAGE:
        return []
    judged = {o.pk for o, _same in duplicate_verdicts(fetched_by=fetched_by, appeal=appeal)}
    try:
        village_of(appeal.area)  # a grid's village, read now (and kept on the area)
    except Area.DoesNotExist:  # gone while the request ran (a restore): as a gone matter
        raise Http404 from None
    found = routing.duplicate_suggest(
        fetched_by=fetched_by,
        text=appeal.content,
        area=appeal.area,
        category_id=appeal.category_id,
        exclude_pk=appeal.pk,
    )
    return [(o, s) for o, s in found if o.pk not in judged]


def duplicate_verdicts(*, fetched_by, appeal: Appeal) -> list[tuple[Appeal, bool]]:
    """The matters judged the same as this one or not, that the user may see."""
    from .models import DuplicateVerdict

    rows = DuplicateVerdict.objects.filter(Q(first=appeal) | Q(second=appeal)).values_list(
        "first", "second", "same"
    )
    same = {(b if a == appeal.pk else a): s for a, b, s in rows}
    others = Appeal.objects.visible_to(fetched_by).filter(pk__in=same).order_by("-created_at")
    return [(o, same[o.pk]) for o in others]
