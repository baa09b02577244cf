"""Reads of appeals that span models: my duties, filtered lists, counts per leader and
per level. Every one starts from Appeal.objects.visible_to(fetched_by)."""

from django.db.models import Case, Count, IntegerField, Q, Value, When

from minqing.areas.models import Area, Level
from minqing.core import clock
from minqing.core.roles import Role
from minqing.core.scoping import jurisdiction_paths, path_q

from .models import OPEN_STATES, Appeal, State

# The level at which each role takes up unclaimed matters.
ROLE_LEVEL = {
    Role.GRID_WORKER: Level.VILLAGE,
    Role.VILLAGE_CADRE: Level.VILLAGE,
    Role.TOWNSHIP_STAFF: Level.TOWNSHIP,
    Role.DEPARTMENT_STAFF: Level.COUNTY,
    Role.LEADER: Level.COUNTY,
}

LIST_RELATED = ("category", "area", "handling_area", "owner", "unit")


def _with_overdue_first(qs):
    now = clock.now()
    return qs.annotate(
        overdue=Case(
            When(due_at__lt=now, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    ).order_by("overdue", "due_at", "id")


def appeal_duties(*, fetched_by):
    """履职清单: the matters this user should act on now, overdue first — those they own,
    those given to their unit, and unclaimed ones waiting at their level in their area."""
    user = fetched_by
    mine = Q(owner=user, state__in=[State.CLAIMED, State.ASSIGNED, State.IN_PROGRESS])
    if user.unit_id:
        mine |= Q(unit_id=user.unit_id, owner__isnull=True, state=State.ASSIGNED)
    level = ROLE_LEVEL.get(user.role)
    paths = jurisdiction_paths(user)
    if level is not None and paths:
        # unclaimed matters waiting at my level in my areas (a grid worker holds a grid: the
        # matter waits at its village, so match the matter's own area too)
        mine |= path_q(paths, "area__path") & Q(state=State.ACCEPTED, handling_area__level=level)
    qs = Appeal.objects.visible_to(user).filter(mine).select_related(*LIST_RELATED)
    return _with_overdue_first(qs)


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
    qs = Appeal.objects.visible_to(fetched_by).select_related(*LIST_RELATED)
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
