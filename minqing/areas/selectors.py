"""Reads over the area tree; every one starts from visible_to(user)."""

import re
import unicodedata

from django.db.models import Count, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from minqing.core.errors import ValidationFailed
from minqing.core.proc_cache import process_cached
from minqing.core.scoping import held_paths, jurisdiction_paths

from .models import PATH_SEP, Area, Level

# ---------------------------------------------------------------- the process's copy

KEEP_AT_MOST = 100_000  # a city has ~16,550 areas; the bound only caps a process's memory


def _copy() -> dict:
    """This process's areas by id and by code, and the children of some, filled as they are
    asked for and dropped whenever an area is saved, deleted or imported anywhere
    (areas.apps, the area import; core.proc_cache)."""
    return process_cached("areas", lambda: {"id": {}, "code": {}, "children": {}})


def _keep(copy: dict, area: Area) -> None:
    if len(copy["id"]) < KEEP_AT_MOST:
        copy["id"][area.pk] = area
        copy["code"][area.code] = area


def areas_by_code(codes) -> dict[str, Area]:
    """Areas by code from the process's copy, the missing ones read in one query. Shared
    between requests: read them, never change them."""
    copy = _copy()
    found = {c: copy["code"][c] for c in codes if c in copy["code"]}
    missing = [c for c in codes if c not in found]
    if missing:
        for area in Area.objects.filter(code__in=missing):
            found[area.code] = area
            _keep(copy, area)
    return found


def area_by_id(pk: int) -> Area | None:
    """One area by id from the process's copy (read once, then kept); not scoped: see
    visible_area."""
    copy = _copy()
    area = copy["id"].get(pk)
    if area is None:
        area = Area.objects.filter(pk=pk).first()
        if area is not None:
            _keep(copy, area)
    return area


def child_areas(area: Area) -> list[Area]:
    """The areas right below `area`, by code, from the process's copy (read once). Callers
    pass an area the user sees: its children are in the same subtree."""
    copy = _copy()
    children = copy["children"].get(area.pk)
    if children is None:
        children = list(Area.objects.filter(parent_id=area.pk).order_by("code"))
        if len(copy["id"]) < KEEP_AT_MOST:
            copy["children"][area.pk] = children
            for child in children:
                _keep(copy, child)
    return children


def _sees(user, path: str) -> bool:
    """Area.objects.visible_to(user) for one area already read: in a held subtree."""
    if user.is_superuser and user.is_active:
        return True
    return any(path.startswith(p) for p in jurisdiction_paths(user))


def visible_area(user, pk) -> Area | None:
    """The area `pk` if the user may see it, else None (missing and not theirs alike), from
    the process's copy: the area page's lookup without a query."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    area = area_by_id(pk)
    return area if area is not None and _sees(user, area.path) else None


def visible_ancestors(user, area: Area) -> list[Area]:
    """The areas above `area` the user may see, top first (the crumbs of an area page):
    none for an area the user holds, which is most area pages, and then no query."""
    codes = [c for c, path in _ancestor_paths(area) if _sees(user, path)]
    if not codes:
        return []
    found = areas_by_code(codes)
    return sorted((found[c] for c in codes if c in found), key=lambda a: a.level)


def _ancestor_paths(area: Area) -> list[tuple[str, str]]:
    """(code, path) of each area above `area`, read from its path."""
    out, path = [], ""
    for code in area.ancestor_codes:
        path += code + PATH_SEP
        out.append((code, path))
    return out


def held_areas(user) -> list[Area]:
    """The areas the user holds, by path: from the paths the session keeps and the
    process's copy, so no query on most pages."""
    codes = [p.rstrip(PATH_SEP).rsplit(PATH_SEP, 1)[-1] for p in held_paths(user)]
    return sorted(areas_by_code(codes).values(), key=lambda a: a.path)


def jurisdiction_areas(user) -> list[Area]:
    """The top areas of what the user sees: the areas they hold, the roots for a superuser."""
    if user.is_superuser:
        return list(Area.objects.filter(parent__isnull=True).order_by("path"))
    return held_areas(user)


# ---------------------------------------------------------------- reads


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
    """How many areas of each level lie below `area` (one aggregate query, compiled once
    per connection: core.compiled)."""
    from minqing.core.compiled import rows

    got = rows("area-subtree-counts", {"path": area.path, "pk": area.pk}, _subtree_counts_query)
    return dict(got)


def _subtree_counts_query(values):
    return (
        Area.objects.filter(path__startswith=values["path"])
        .exclude(pk=values["pk"])
        .values("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )


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
    if area is None:
        parents = jurisdiction_areas(user)
        if len(parents) != 1:
            return choices + [(str(a.pk), a.name) for a in parents]
        if parents[0].level == Level.GRID:  # nothing below a grid
            return choices
        return choices + [(str(c.pk), c.name) for c in child_areas(parents[0])]
    visible = Area.objects.visible_to(user)  # built only here: not on an unfiltered list
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
