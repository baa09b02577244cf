"""Reads: officers' tip lists, and the counts everyone in the area may see."""

from collections import defaultdict
from datetime import date

from django.db.models import Sum

from minqing.areas.models import Area
from minqing.core.audit import audit_record
from minqing.core.permissions import require
from minqing.core.scoping import jurisdiction_paths

from .models import Tip, TipCategory, TipReminder, TipState, is_tip_officer
from .services import require_officer


def tip_list(*, fetched_by, state: str = "", mine: bool = False):
    """The officer's tips, without their content (no decryption per row), audited."""
    require_officer(fetched_by)
    qs = (
        Tip.objects.visible_to(fetched_by)
        .select_related("area", "handling_area", "category", "handler")
        .defer("content", "when_where", "people_named")
    )
    if state in TipState.values:
        qs = qs.filter(state=state)
    if mine:
        qs = qs.filter(handler=fetched_by)
    return qs


def tip_list_audit(*, fetched_by, ids) -> None:
    """A list shows numbers, areas and states: a read too, audited with the numbers shown."""
    audit_record(actor=fetched_by, action="tips.list", detail={"tips": list(ids)[:200]})


def reminders_for(*, user):
    if not is_tip_officer(user):
        return TipReminder.objects.none()
    return (
        TipReminder.objects.filter(tip__in=Tip.objects.visible_to(user))
        .select_related("tip")
        .order_by("due_on")
    )


def tip_stats(*, fetched_by, since: date | None = None, until: date | None = None) -> dict:
    """Counts by area (the children of the viewer's top areas), month, category and outcome,
    from the kept TipStat rows: never a tip, never its content."""
    from .models import TipStat

    require(fetched_by, "tips.stats")
    qs = TipStat.objects.visible_to(fetched_by).filter(count__gt=0)
    if since:
        qs = qs.filter(month__gte=since.replace(day=1))
    if until:
        qs = qs.filter(month__lte=until)
    rows = list(qs.values("area__path", "month", "category_id", "outcome").annotate(n=Sum("count")))
    paths = jurisdiction_paths(fetched_by)
    if getattr(fetched_by, "is_superuser", False) and not paths:
        paths = list(Area.objects.filter(parent=None).values_list("path", flat=True))
    # one level below each top area the viewer holds
    children = {
        a.path: a for a in Area.objects.filter(parent__path__in=paths).only("path", "name", "code")
    }

    def bucket(path: str):
        for cp, area in children.items():
            if path.startswith(cp):
                return area.name
        return None

    categories = dict(TipCategory.objects.values_list("pk", "name"))
    by_area = defaultdict(int)
    by_month = defaultdict(int)
    by_category = defaultdict(int)
    by_outcome = defaultdict(int)
    table = defaultdict(lambda: defaultdict(int))
    total = 0
    for r in rows:
        n = r["n"]
        total += n
        area = bucket(r["area__path"]) or "—"
        month = r["month"].strftime("%Y-%m")
        by_area[area] += n
        by_month[month] += n
        by_category[categories.get(r["category_id"], "—")] += n
        by_outcome[r["outcome"]] += n
        table[area][month] += n
    labels = dict(TipState.choices)
    return {
        "total": total,
        "by_area": sorted(by_area.items()),
        "by_month": sorted(by_month.items()),
        "by_category": sorted(by_category.items(), key=lambda kv: -kv[1]),
        "by_outcome": [(str(labels[k]), by_outcome.get(k, 0)) for k in TipState.values],
        "months": sorted(by_month),
        "table": [
            (a, [m.get(month, 0) for month in sorted(by_month)]) for a, m in sorted(table.items())
        ],
        "struck": by_outcome.get("filed", 0) + by_outcome.get("transferred", 0),
    }
