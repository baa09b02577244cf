"""Reads over the area tree; every one starts from visible_to(user)."""

import re
import unicodedata

from django.db.models import Count, Q, Subquery
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from minqing.core.errors import ValidationFailed
from minqing.core.scoping import jurisdiction_paths

from .models import Area, Level


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
        paths = None if user.is_superuser else jurisdiction_paths(user)
        if paths is not None and len(paths) == 1:
            # One area held (the common case): it and its children in one query, from the
            # path the session keeps (core.scoping); nothing below a grid.
            root = Area.objects.filter(path=paths[0]).values("pk")[:1]
            rows = Area.objects.filter(Q(path=paths[0]) | Q(parent_id=Subquery(root)))
            children = sorted((a for a in rows if a.path != paths[0]), key=lambda a: a.code)
            return choices + [(str(c.pk), c.name) for c in children]
        if user.is_superuser:
            parents = list(Area.objects.filter(parent__isnull=True))
        else:
            parents = list(Area.objects.filter(pk__in=user.jurisdictions.values("area_id")))
        if len(parents) != 1:
            return choices + [(str(a.pk), a.name) for a in sorted(parents, key=lambda a: a.path)]
        if parents[0].level == Level.GRID:  # nothing below a grid: no query for it
            return choices
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


AREA_SEPARATORS = re.compile(r"[、,，;；\s]+")


def areas_from_text(*, fetched_by, text: str) -> list[Area]:
    """The areas a person names in a form field ("七星村、鹤岭镇" or codes), each by its exact
    code or exact name among the areas `fetched_by` sees. Nothing is guessed: a name that
    several areas share, or none, is an error listing the candidates (by code)."""
    names = [t for t in AREA_SEPARATORS.split(unicodedata.normalize("NFKC", text or "")) if t]
    if not names:
        raise ValidationFailed(gettext("请填写管辖区域(名称或区划代码)"))
    if len(names) > 50:
        raise ValidationFailed(gettext("一次最多填写 50 个区域"))
    visible = Area.objects.visible_to(fetched_by)
    found = {}
    for a in visible.filter(Q(code__in=names) | Q(name__in=names)).only("pk", "code", "name"):
        for key in {a.code, a.name}:
            found.setdefault(key, []).append(a)
    areas, problems = [], []
    for name in names:
        hits = found.get(name, [])
        if len(hits) == 1:
            areas.append(hits[0])
        elif hits:
            options = "、".join(
                f"{a.name}({a.code})" for a in sorted(hits, key=lambda a: a.code)[:5]
            )
            problems.append(
                gettext("“%(n)s”有 %(k)d 个同名区域:%(o)s,请填写区划代码")
                % {"n": name[:30], "k": len(hits), "o": options}
            )
        else:
            close = visible.filter(name__contains=name[:10]).order_by("level", "code")[:5]
            hint = "、".join(f"{a.name}({a.code})" for a in close)
            problems.append(
                gettext("在您的管辖范围内没有区域“%(n)s”") % {"n": name[:30]}
                + (gettext(";相近的有:%(h)s") % {"h": hint} if hint else "")
            )
    if problems:
        raise ValidationFailed(";".join(problems))
    return list(dict.fromkeys(areas))
