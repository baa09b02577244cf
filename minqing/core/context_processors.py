from django.urls import NoReverseMatch, reverse

from .permissions import has_perm
from .plugins import nav_entries, search_entries


def shell(request):
    """Navigation entries the user may use, for the layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    entries = []
    for e in nav_entries():
        if e.perm and not has_perm(user, e.perm):
            continue
        try:
            url = reverse(e.url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        entries.append({"label": e.label, "url": url, "active": active})
    search = None
    for e in search_entries():
        if e.perm is None or has_perm(user, e.perm):
            search = {"url": reverse(e.url_name), "placeholder": e.placeholder}
            break
    return {"nav": entries, "header_search": search}
