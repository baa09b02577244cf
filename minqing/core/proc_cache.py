"""Per-process copies of small, rarely changed tables (categories, the holiday calendar,
areas) that hot paths such as intake read on every request.

A copy is kept in the process and reused while its version in the shared cache (Redis when
REDIS_URL is set) is unchanged; the version is looked at most once a second, and a copy is
reloaded after `MAX_AGE` seconds whatever the version says (a process without a shared
cache still sees an admin's change within that time). A change calls `process_cache_bump`
(from post_save/post_delete signals): the local copy is dropped at once and the shared
version moves when the transaction commits, so other processes reload.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

CHECK_EVERY = 1.0
MAX_AGE = 60.0

_lock = threading.Lock()


@dataclass
class _Entry:
    version: object
    loaded: float
    checked: float
    value: object


_local: dict[str, _Entry] = {}


def _key(name: str) -> str:
    return f"proc-cache:{name}"


def process_cached(name: str, loader: Callable[[], object]):
    """The process's copy of `name`, loaded with `loader()` when missing or stale."""
    now = time.monotonic()
    entry = _local.get(name)
    if entry is not None and now - entry.loaded < MAX_AGE:
        if now - entry.checked < CHECK_EVERY:
            return entry.value
        version = cache.get(_key(name), 0)
        if version == entry.version:
            entry.checked = now
            return entry.value
    version = cache.get(_key(name), 0)
    value = loader()
    with _lock:
        _local[name] = _Entry(version, now, now, value)
    return value


def process_cache_bump(name: str) -> None:
    """Drop this process's copy now, and every process's copy once the change commits."""
    _local.pop(name, None)
    _bumps[name] = _bumps.get(name, 0) + 1

    def publish():
        _local.pop(name, None)
        _bumps[name] = _bumps.get(name, 0) + 1
        cache.set(_key(name), time.time_ns(), None)

    transaction.on_commit(publish)


# For copies kept by their owner (shared_version): name -> (when read, shared version), and
# name -> this process's own bumps (seen at once, before the shared version moves).
_versions: dict[str, tuple[float, object]] = {}
_bumps: dict[str, int] = {}


def shared_version(name: str) -> tuple:
    """What `process_cache_bump(name)` moves: this process's bumps at once, and every
    process's once they commit (the shared cache, read at most once a second). For a copy
    its owner keeps itself (one too costly to reload every MAX_AGE, such as the appeal
    router), to be built again when this value changes."""
    now = time.monotonic()
    hit = _versions.get(name)
    if hit is None or now - hit[0] >= CHECK_EVERY:
        hit = _versions[name] = (now, cache.get(_key(name), 0))
    return (_bumps.get(name, 0), hit[1])


def process_cache_clear() -> None:
    """Forget every copy (tests: rows rolled back with a test must not linger)."""
    _local.clear()
    _versions.clear()
    _bumps.clear()


def bump_on_change(name: str, *models) -> None:
    """Connect post_save/post_delete of these models to `process_cache_bump(name)`."""
    from django.db.models.signals import post_delete, post_save

    def handler(sender, **kwargs):
        process_cache_bump(name)

    for model in models:
        post_save.connect(handler, sender=model, weak=False, dispatch_uid=f"pc-{name}-{model}")
        post_delete.connect(handler, sender=model, weak=False, dispatch_uid=f"pc-d-{name}-{model}")
