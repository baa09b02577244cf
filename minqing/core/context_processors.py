from functools import lru_cache

from django.urls import NoReverseMatch, get_urlconf, reverse

from .permissions import has_perm
from .plugins import nav_entries, search_entries


@lru_cache(maxsize=256)
def _url(name: str, urlconf) -> str | None:
    """A menu entry's URL, reversed once per process (they take no arguments)."""
    try:
        return reverse(name, urlconf=urlconf)
    except NoReverseMatch:
        return None


def shell(request):
    """Navigation entries the user may use, for the layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    entries = []
    for e in nav_entries():
        if e.perm and not has_perm(user, e.perm):
            continue
        url = _url(e.url_name, get_urlconf())
        if url is None:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        entries.append({"label": e.label, "url": url, "active": active})
    search = None
    for e in search_entries():
        if e.perm is None or has_perm(user, e.perm):
            search = {"url": _url(e.url_name, get_urlconf()), "placeholder": e.placeholder}
            break
    return {"nav": entries, "header_search": search}
