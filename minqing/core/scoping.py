"""Jurisdiction scoping, in one place.

A user sees the subtrees of the areas they hold (Area.path prefixes) and nothing else.
Every list, lookup, export and API call starts from `Model.objects.visible_to(user)`;
outside ids become objects only through `get_visible_or_404`, which gives the same 404
for "missing" and "not yours".
"""

from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils.functional import empty


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths already covered by a shorter one: fewer OR branches in every query."""
    return [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]


def _load_scope(user) -> list[str]:
    held = sorted(user.jurisdictions.values_list("area__path", flat=True))
    paths = _outermost(held)
    user._jurisdiction_paths = paths
    user._held_paths = (paths, held)
    return paths


def jurisdiction_paths(user) -> list[str]:
    """The area path prefixes a user holds; cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_jurisdiction_paths", None)
    if cached is None:
        cached = _load_scope(user)
    return cached


def held_paths(user) -> list[str]:
    """The paths of every area the user holds, one inside another included (a township and
    a village of it: both), for pages that name them; kept like jurisdiction_paths."""
    paths = jurisdiction_paths(user)
    if not paths:
        return []
    kept = getattr(user, "_held_paths", None)
    if kept is None or kept[0] is not paths:  # the paths were reset or set alone
        _load_scope(user)
        kept = user._held_paths
    return kept[1]


SESSION_SCOPE_KEY = "_minqing_scope"


class JurisdictionCacheMiddleware:
    """Keeps a logged-in user's jurisdiction paths (and the paths of every area they hold) in
    their session, so a page does not ask the database for them on every request. They are
    trusted only for the same user and the same `scope_version` (on the user row, read with
    the user anyway), which every change of jurisdiction or role bumps in its own transaction
    (accounts.signals.scope_changed): the next request after a change recomputes them, in
    every process."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        kept = session.get(SESSION_SCOPE_KEY) if session is not None else None
        if kept is not None:
            user = request.user
            if (
                user.is_authenticated
                and len(kept) == 4
                and [user.pk, getattr(user, "scope_version", None)] == kept[:2]
                and getattr(user, "_jurisdiction_paths", None) is None
            ):
                user._jurisdiction_paths = list(kept[2])
                user._held_paths = (user._jurisdiction_paths, list(kept[3]))
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if getattr(user, "_wrapped", None) is empty:
            return response  # the request never loaded its user: nothing was computed
        computed = getattr(user, "_jurisdiction_paths", None) if user is not None else None
        if (
            computed is not None
            and session is not None
            and getattr(user, "is_authenticated", False)
            and session.session_key
        ):
            held = getattr(user, "_held_paths", None)
            held = held[1] if held is not None and held[0] is computed else None
            if held is None:
                return response  # only the reduced paths were set (tests): keep nothing
            entry = [user.pk, getattr(user, "scope_version", None), computed, held]
            if kept != entry:
                session[SESSION_SCOPE_KEY] = entry
        return response


def covers(user, path: str) -> bool:
    """Whether an area path lies in the user's jurisdiction, for checks on rows not yet
    written (imports, creation under a parent); reads go through visible_to."""
    if user is not None and getattr(user, "is_superuser", False) and user.is_active:
        return True
    return any(path.startswith(p) for p in jurisdiction_paths(user))


def path_q(paths: list[str], field: str) -> Q:
    q = Q()
    for path in paths:
        q |= Q(**{f"{field}__startswith": path})
    return q


class ScopedQuerySet(models.QuerySet):
    """Subclass and set `area_path_field` to the lookup of the owning area's path.

    Object visibility beyond area: a case is also visible to the people it is given to even
    outside their area (a county department handles a village matter). Set `owner_field`
    (a user foreign key) and/or `unit_field` (a unit foreign key) and the owner and the
    members of the assigned unit see the row too; everything else, `get_visible_or_404`
    included, follows from this one method.
    """

    area_path_field = "area__path"
    owner_field: str | None = None
    unit_field: str | None = None

    def object_q(self, user) -> Q | None:
        """Rows given to this user or their unit, whatever their area."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return None
        q = Q()
        if self.owner_field:
            q |= Q(**{self.owner_field: user.pk})
        if self.unit_field and getattr(user, "unit_id", None):
            q |= Q(**{self.unit_field: user.unit_id})
        return q or None

    def visible_by_area(self, user):
        """Only the rows in the user's areas (no rows given to them elsewhere): for pages
        hanging on an object already scoped by area, e.g. a household's appeals."""
        if user is not None and getattr(user, "is_superuser", False) and user.is_active:
            return self.all()
        paths = jurisdiction_paths(user)
        return self.filter(path_q(paths, self.area_path_field)) if paths else self.none()

    def visible_to(self, user):
        if user is not None and getattr(user, "is_superuser", False) and user.is_active:
            return self.all()
        paths = jurisdiction_paths(user)
        extra = self.object_q(user)
        if extra is None:
            return self.filter(path_q(paths, self.area_path_field)) if paths else self.none()
        if not paths:
            return self.filter(extra)
        # The rows given to this user or their unit outside their areas are few (usually
        # none): fetch their ids with one indexed query, so the common case keeps the plain
        # area filter that PostgreSQL serves from the area-path index.
        area_q = path_q(paths, self.area_path_field)
        outside = list(
            self.model._default_manager.filter(extra)
            .exclude(area_q)
            .values_list("pk", flat=True)[:5000]
        )
        return self.filter(area_q | Q(pk__in=outside)) if outside else self.filter(area_q)

    def within(self, area):
        """Rows in the subtree of one area (used after the area itself was scoped)."""
        return self.filter(**{f"{self.area_path_field}__startswith": area.path})


def get_visible_or_404(model_or_qs, user, **lookup):
    qs = model_or_qs if isinstance(model_or_qs, models.QuerySet) else model_or_qs.objects.all()
    try:
        return qs.visible_to(user).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise Http404
    except qs.model.MultipleObjectsReturned:
        raise Http404
