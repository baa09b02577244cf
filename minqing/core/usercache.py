"""The session's user kept in the shared cache, so a page does not query the user row.

On with Redis (settings.USER_CACHE_SECONDS, 0 = off; off without Redis, where the cache is
each process's own and could not hear of a change made in another process). Every request
reads three keys in one round trip: the cached user, a version token of that user and a
generation token of all users. The cached copy is used only when it carries both tokens as
they are now. The tokens are replaced (random, never reused) after the commit of any change:

- a saved or deleted user (post_save/post_delete: password change, deactivation, role,
  must_change_password, login) replaces that user's token;
- a bulk write of users or units (`QuerySet.update`, as scope_changed does on every change of
  jurisdiction) and a saved or deleted unit (the user is read with their unit) replace the
  generation token: every user is read from the database again once.

A reader takes the tokens before it reads the database, so a copy read before a change
commits carries the old token and is never used after it (the race with a concurrent request
of the same user cannot keep a stale copy alive). A missing token (never set, evicted) is
set to a new one first: no copy written before can carry it. Anything that writes the table
by other means (SQL by hand) is seen after USER_CACHE_SECONDS at most. Logout deletes the
session itself, so it takes effect at once whatever is cached.
"""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "minqing:users:gen"


def _keys(user_id) -> tuple[str, str]:
    return f"minqing:user:{user_id}", f"minqing:user:{user_id}:ver"


def enabled() -> bool:
    return getattr(settings, "USER_CACHE_SECONDS", 0) > 0


def _token(key: str, got: dict) -> str | None:
    """The current token under key, set to a new one when missing (None if that failed)."""
    token = got.get(key)
    if token is None:
        fresh = secrets.token_hex(8)
        token = fresh if cache.add(key, fresh, None) else cache.get(key)
    return token


def load(user_id, loader):
    """The user with this id: the cached copy if still current, else loader() (then kept)."""
    if not enabled():
        return loader()
    entry_key, version_key = _keys(user_id)
    got = cache.get_many([entry_key, version_key, GENERATION_KEY])
    entry = got.get(entry_key)
    tokens = (got.get(GENERATION_KEY), got.get(version_key))
    if entry is not None and None not in tokens and entry[0] == tokens:
        return entry[1]
    tokens = (_token(GENERATION_KEY, got), _token(version_key, got))
    user = loader()
    if user is not None and None not in tokens:
        cache.set(entry_key, (tokens, user), settings.USER_CACHE_SECONDS)
    return user


def _replace(keys: list[str]) -> None:
    cache.set_many({key: secrets.token_hex(8) for key in keys}, None)


def user_changed(user_id) -> None:
    """After the commit: the next request of this user reads them from the database."""
    if enabled() and user_id is not None:
        transaction.on_commit(lambda: _replace([_keys(user_id)[1]]), robust=False)


def users_changed() -> None:
    """After the commit: every user is read from the database again."""
    if enabled():
        transaction.on_commit(lambda: _replace([GENERATION_KEY]), robust=False)
