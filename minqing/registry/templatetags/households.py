"""{% household h %}: a household as people name it, "唐超德户 · 七星村3组11号", with the
number as secondary text; `link=True` makes the name a link to the household page. One tag for
lists, histories, tag rosters, breadcrumbs and the audit log (load `head` with the rows)."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def household(h, link: bool = False, number: bool = True, anchor: str = ""):
    if h is None:
        return ""
    name = h.label
    if link:
        url = reverse("registry:household", args=[h.pk]) + anchor
        name = format_html('<a href="{}">{}</a>', url, name)
    else:
        name = format_html("{}", name)
    if not number:
        return format_html('<span class="hh">{}</span>', name)
    return format_html(
        '<span class="hh">{} <small class="hh-number">{}</small></span>', name, h.number
    )
