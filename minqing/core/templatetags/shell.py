"""{% shell_menu %} and {% shell_assets %}: the parts of base.html that are the same on
every page, rendered once per process for each distinct content and then reused.

Through the template engine the signed-in header (search, menu, inbox, who, language,
logout) was most of a bare page's time: 22 translated strings, two loops, URL reversals, a
language list. Everything it shows but three values is fixed by its cache key: the language,
the user's name and role, and the context processor's `shell_key` (the role and flags that
decide the menu and search box, and which entry is active). It is rendered from
`_shell_menu.html` with a context made from that key only, so nothing else can leak into a
copy another user gets. The per-request values (the CSRF token of the two forms, the page
the language form returns to, the search text) are put in place of markers, escaped as the
template would."""

from functools import lru_cache
from types import SimpleNamespace

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

_CSRF = "minqingshellcsrfmarker"
_NEXT = "minqingshellnextmarker"
_QUERY = "minqingshellquerymarker"


@lru_cache(maxsize=1024)
def _menu(language, who, role, shell_key):
    from minqing.accounts.models import User
    from minqing.core.context_processors import _allowed

    *allowed_key, active = shell_key
    allowed, search = _allowed(*allowed_key)
    choices = dict(User._meta.get_field("role").flatchoices)
    with translation.override(language):
        return render_to_string(
            "_shell_menu.html",
            {
                "who": who,
                "role": choices.get(role, role),
                "nav": [
                    {"label": label, "url": url, "active": on}
                    for (label, url), on in zip(allowed, active, strict=True)
                ],
                "header_search": search,
                "search_value": _QUERY,
                "csrf_token": _CSRF,
                "request": SimpleNamespace(get_full_path=_NEXT),
            },
        )


@register.simple_tag(takes_context=True)
def shell_menu(context):
    request, user = context["request"], context["user"]
    key = context.get("shell_key")
    if key is None:  # a context made without the shell context processor
        from minqing.core.context_processors import shell

        key = shell(request).get("shell_key")
        if key is None:
            return ""
    html = _menu(translation.get_language(), str(user), getattr(user, "role", ""), key)
    match = getattr(request, "resolver_match", None)
    query = request.GET.get("q", "") if match and match.view_name == "registry:households" else ""
    return mark_safe(
        html.replace(_CSRF, escape(str(context.get("csrf_token", ""))))
        .replace(_NEXT, escape(request.get_full_path()))
        .replace(_QUERY, escape(query))
    )


@lru_cache(maxsize=8)
def _assets(static_url):
    return render_to_string("_shell_assets.html")


@register.simple_tag
def shell_assets():
    """The icon, manifest, stylesheet and scripts of <head>: static paths only."""
    return mark_safe(_assets(settings.STATIC_URL))
