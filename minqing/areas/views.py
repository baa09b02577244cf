from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from minqing.core.compiled import rows as compiled_rows
from minqing.core.compiled import scope_values, viewer
from minqing.core.dbcursor import prepared_reads
from minqing.core.permissions import has_perm, require
from minqing.core.scoping import get_visible_or_404
from minqing.core.tabular import write_xlsx, xlsx_response
from minqing.core.views import import_upload

from .imports import AREA_HEADERS
from .models import Area, Level
from .selectors import (
    area_children,
    area_export_rows,
    area_roots_for,
    area_subtree_counts,
    child_areas,
    visible_ancestors,
    visible_area,
)

GRID_HOUSEHOLDS = 300  # a grid holds a few dozen households; the cap only bounds the page


@login_required
def index(request):
    roots = list(area_roots_for(request.user).order_by("path"))
    if len(roots) == 1:
        return redirect("areas:detail", roots[0].pk)
    return render(request, "areas/index.html", {"roots": roots})


def grid_household_rows(rows) -> str:
    """A grid's households on its area page, as `<li>`s written in Python from (pk, head's
    name, address, number) rows (the template's loop and a model per row were most of a
    grid's page); "" when there are none. A test pins it to what the template gave."""
    from minqing.registry.labels import esc

    base = esc(reverse("registry:households"))
    l_household = esc(gettext("户"))
    out = []
    for pk, head, address, number in rows:
        name = f"{esc(head)}{l_household} · " if head is not None else ""
        out.append(
            f'\n  <li><a href="{base}{esc(pk)}/">{name}{esc(address)}</a> '
            f'<span class="muted">{esc(number)}</span></li>\n'
        )
    return mark_safe("".join(out))  # noqa: S308 - every value went through esc()


def _grid_households_query(values):
    from minqing.registry.models import Household

    return (
        Household.objects.visible_to(viewer(values))
        .filter(grid_id=values["grid"])
        .order_by("number")
        .values_list("pk", "head__name", "address", "number")[:GRID_HOUSEHOLDS]
    )


@login_required
def detail(request, pk: int):
    # the area and its crumbs from the process's copy of the areas, scoped as visible_to
    area = visible_area(request.user, pk)
    if area is None:
        raise Http404
    # a grid has nothing below it, a village its grids alone (the process's copy of the
    # areas): no query for their subtree
    if area.level == Level.GRID:
        counts = {}
    else:
        below = child_areas(area)
        if below and all(a.level == Level.GRID for a in below):
            counts = {Level.GRID: len(below)}
        else:
            counts = area_subtree_counts(area=area)
    extra = {}
    if has_perm(request.user, "registry.view"):
        # The subtree's overview from the kept summaries; a grid also lists its households.
        from minqing.registry.summaries import overview_context

        extra = overview_context(fetched_by=request.user, area=area)
        if area.level == Level.GRID:
            values = {"grid": area.pk, **scope_values(request.user)}
            with prepared_reads():  # keyed by the grid's id: its generic plan serves
                found = compiled_rows("grid-households", values, _grid_households_query)
            extra["households"] = grid_household_rows(found)
    return render(
        request,
        "areas/detail.html",
        {
            "area": area,
            "ancestors": visible_ancestors(request.user, area),
            "children": area_children(fetched_by=request.user, area=area),
            "counts": [(Level(lvl).label, n) for lvl, n in sorted(counts.items())],
            "can_export": has_perm(request.user, "areas.export"),
            "can_manage": has_perm(request.user, "areas.manage"),
            **extra,
        },
    )


@login_required
def export(request, pk: int):
    area = get_visible_or_404(Area, request.user, pk=pk)
    require(request.user, "areas.export")
    content = write_xlsx(
        AREA_HEADERS, area_export_rows(fetched_by=request.user, area=area), title=area.name
    )
    return xlsx_response(content, f"区域-{area.name}.xlsx")


@login_required
def import_template(request):
    return xlsx_response(
        write_xlsx(AREA_HEADERS, [["430371001001", "示例村", "村/社区", "430371001000"]]),
        "区域导入模板.xlsx",
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_areas(request):
    require(request.user, "areas.manage")
    done, error = import_upload(request, kind="areas")
    return done or render(request, "areas/import.html", {"error": error})
