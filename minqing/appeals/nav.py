"""Navigation entries and the home-page panel (my duties, 履职清单) of appeals."""

from django.utils.translation import gettext_lazy as _

from minqing.core.permissions import has_perm
from minqing.core.plugins import register_home_panel, register_nav, register_unit_work

register_nav(label=_("诉求"), url_name="appeals:list", perm="appeals.view", order=30)
register_nav(label=_("履职清单"), url_name="appeals:duties", perm="appeals.view", order=31)
register_nav(label=_("排查例会"), url_name="appeals:meetings", perm="appeals.view", order=32)
register_nav(label=_("接访记录"), url_name="appeals:receptions", perm="appeals.view", order=33)
register_nav(label=_("办结统计"), url_name="appeals:stats", perm="appeals.view", order=34)


def _duties(request):
    """The first matters on my duties list, overdue first, and how many there are: one
    query (the counts ride along on the rows as window counts; a duties list is small)."""
    if not has_perm(request.user, "appeals.view"):
        return None
    from minqing.core import clock
    from minqing.core.compiled import rows as compiled_rows

    from .selectors import duties_values

    values = duties_values(request.user)
    if values is None:
        return {"duties": [], "duties_count": 0, "duties_overdue": 0}
    # compiled once per connection and shape of duties (core.compiled)
    rows = compiled_rows("home-duties", {**values, "now": clock.now()}, _duties_query)
    return {
        "duties": rows,
        "duties_count": rows[0].n if rows else 0,
        "duties_overdue": rows[0].n_overdue if rows else 0,
    }


def _duties_query(values):
    from django.db.models import Count, F, Q, Window

    from .models import Appeal
    from .selectors import duties_q_of

    return (
        Appeal.objects.filter(duties_q_of(values))
        .only("id", "title", "state", "due_at")
        .annotate(
            n=Window(Count("id")),
            n_overdue=Window(Count("id", filter=Q(due_at__lt=values["now"]))),
        )
        .order_by(F("due_at").asc(nulls_last=True), "id")[:5]
    )


register_home_panel(template="appeals/_home_panel.html", context=_duties, order=10)


def _open_matters(unit) -> int:
    from .models import Appeal

    return Appeal.objects.filter(unit=unit).open().count()


def _categories(unit) -> int:
    from .models import Category

    return Category.objects.filter(default_unit=unit, is_active=True).count()


register_unit_work(_("未办结的诉求"), _open_matters)
register_unit_work(_("默认交办到该单位的诉求类别"), _categories)
