"""Words for the areas app's audit actions."""

from django.utils.translation import gettext_lazy as _

from minqing.core.audit import register_action, register_target

register_action("area.create", _("新增区域"))
register_action("area.rename", _("区域改名"))


def _areas(user, ids):
    """Areas in the reader's jurisdiction, named and linked (one query for a page of events)."""
    from django.urls import reverse

    from .models import Area

    rows = Area.objects.visible_to(user).filter(pk__in=[int(i) for i in ids if str(i).isdigit()])
    return {a.pk: (a.name, reverse("areas:detail", args=[a.pk])) for a in rows}


register_target("areas.area", _areas)
