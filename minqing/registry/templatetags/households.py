"""{% household h %}: a household as people name it, "唐超德户 · 七星村3组11号", with the
number as secondary text; `link=True` makes the name a link to the household page. One tag for
lists, histories, tag rosters, breadcrumbs and the audit log (load `head` with the rows)."""

from django import template
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

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


_REVEAL_URL, _REVEAL_MASKED = "\x00reveal-url\x00", "\x00reveal-masked\x00"
_reveal_cache: dict = {}


@register.simple_tag
def reveal_box(url, masked):
    """{% include "registry/_reveal.html" with url=... masked=... %} for the household page,
    which has two per member: the template is rendered once per process and language (again
    when the loader gives a new template object, e.g. after a reload) with placeholders, then
    each box fills in its own (escaped) URL and masked number. Same markup, a fraction of
    the cost."""
    template = get_template("registry/_reveal.html")
    key = (get_language(), bool(masked))
    compiled, shell = _reveal_cache.get(key, (None, ""))
    if compiled is not template.template:  # first use, or the template was reloaded
        shell = template.render({"url": _REVEAL_URL, "masked": _REVEAL_MASKED if masked else ""})
        _reveal_cache[key] = (template.template, shell)
    return mark_safe(  # noqa: S308 - the shell is our template's output, the values escaped
        shell.replace(_REVEAL_URL, conditional_escape(url)).replace(
            _REVEAL_MASKED, conditional_escape(masked)
        )
    )
