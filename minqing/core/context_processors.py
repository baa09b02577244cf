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


@lru_cache(maxsize=64)
def _allowed(role: str, is_superuser: bool, is_active: bool, urlconf, n_nav: int, n_search: int):
    """The menu entries (label, url) and the header search a role may use: the permission
    checks depend on the role and the superuser and active flags alone
    (core.permissions.has_perm), so they run once per process and role, not on every page."""
    from types import SimpleNamespace

    user = SimpleNamespace(
        is_authenticated=True, is_active=is_active, is_superuser=is_superuser, role=role
    )
    entries = []
    for e in nav_entries():
        if e.perm and not has_perm(user, e.perm):
            continue
        url = _url(e.url_name, urlconf)
        if url is not None:
            entries.append((e.label, url))
    search = None
    for e in search_entries():
        if e.perm is None or has_perm(user, e.perm):
            search = {"url": _url(e.url_name, urlconf), "placeholder": e.placeholder}
            break
    return tuple(entries), search


def shell(request):
    """Navigation entries the user may use, for the layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    key = (
        getattr(user, "role", ""),
        bool(user.is_superuser),
        bool(user.is_active),
        get_urlconf(),
        len(nav_entries()),
        len(search_entries()),
    )
    allowed, search = _allowed(*key)
    path = request.path
    entries = [
        {"label": label, "url": url, "active": path == url if url == "/" else path.startswith(url)}
        for label, url in allowed
    ]
    active = tuple(e["active"] for e in entries)
    # what the menu shows follows from these (core/templatetags/shell.py keeps it by them)
    return {"nav": entries, "header_search": search, "shell_key": (*key, active)}
