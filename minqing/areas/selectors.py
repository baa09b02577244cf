"""Reads over the area tree; every one starts from visible_to(user)."""

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

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


def area_picker_choices(user, selected, *, blank=None) -> list[tuple]:
    """A cascading area filter: the way up (the chosen area's ancestors), the chosen area,
    and its children only; choosing a child narrows to it and offers its own children.
    Never every area of a city (16,550 options) in one page."""
    area = None
    if selected not in (None, ""):
        try:
            area = Area.objects.visible_to(user).get(pk=int(selected))
        except (Area.DoesNotExist, TypeError, ValueError):
            area = None
    choices = [("", blank if blank is not None else _("全部（本辖区）"))]
    visible = Area.objects.visible_to(user)
    if area is None:
        if user.is_superuser:
            parents = list(Area.objects.filter(parent__isnull=True))
        else:
            parents = list(Area.objects.filter(pk__in=user.jurisdictions.values("area_id")))
        if len(parents) != 1:
            return choices + [(str(a.pk), a.name) for a in sorted(parents, key=lambda a: a.path)]
        children = visible.filter(parent=parents[0]).order_by("code")
        return choices + [(str(c.pk), c.name) for c in children]
    rows = list(
        visible.filter(Q(code__in=area.ancestor_codes) | Q(parent=area) | Q(pk=area.pk)).order_by(
            "path"
        )
    )
    for a in rows:
        if a.pk == area.pk:
            choices.append((str(a.pk), a.name))
        elif a.parent_id == area.pk:
            choices.append((str(a.pk), "\u3000› " + a.name))
        else:
            choices.append((str(a.pk), "‹ " + a.name))
    return choices
