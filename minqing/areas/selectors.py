"""Reads over the area tree; every one starts from visible_to(user)."""

from django.db.models import Count

from .models import Area


def area_roots_for(user):
    """The top areas a user can see: their jurisdiction areas (or the roots, for superusers)."""
    if user.is_superuser:
        return Area.objects.filter(parent__isnull=True)
    return Area.objects.filter(pk__in=user.jurisdictions.values("area_id"))


def area_children(*, fetched_by, area: Area):
    return (
        Area.objects.visible_to(fetched_by)
        .filter(parent=area)
        .annotate(child_count=Count("children"))
        .order_by("code")
    )


def area_subtree_counts(*, area: Area) -> dict[int, int]:
    """How many areas of each level lie below `area` (one aggregate query)."""
    rows = (
        Area.objects.filter(path__startswith=area.path)
        .exclude(pk=area.pk)
        .values("level")
        .annotate(n=Count("id"))
    )
    return {r["level"]: r["n"] for r in rows}


def area_export_rows(*, fetched_by, area: Area):
    """The subtree in import format (round-trips through the area import)."""
    qs = (
        Area.objects.visible_to(fetched_by)
        .subtree(area)
        .select_related("parent")
        .order_by("path")
        .values_list("code", "name", "level", "parent__code")
    )
    for code, name, level, parent_code in qs.iterator(chunk_size=2000):
        yield (
            code,
            name,
            str(Area._meta.get_field("level").choices[level - 1][1]),
            parent_code or "",
        )
