"""Periodic tasks: one registry that feeds Celery beat (with Redis) or runs inline.

An app registers its periodic work in its `tasks.py` (imported by Celery's autodiscovery
and by `periodic_tasks()`):

    register_periodic("appeals.escalate_overdue", appeal_escalate_overdue, every=timedelta(minutes=15))

With REDIS_URL set, `beat_schedule()` is Celery's `beat_schedule` (settings read it via
celery.py) and each entry runs `minqing.core.tasks.run_periodic(name)` on a worker. Without
Redis `minqing periodic` (a loop, or `--once`) runs what is due; `PeriodicRun` rows remember
the last run so restarts neither skip nor repeat work, and `select_for_update(skip_locked)`
keeps two runners from doing the same task at once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from . import clock


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable[[], object]
    every: timedelta


_PERIODIC: dict[str, Periodic] = {}
_discovered = False


def register_periodic(name: str, func: Callable[[], object], *, every: timedelta) -> None:
    if every <= timedelta(0):
        raise ValueError("every must be positive")
    _PERIODIC[name] = Periodic(name=name, func=func, every=every)


def periodic_tasks() -> dict[str, Periodic]:
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover_modules("tasks")
    return dict(_PERIODIC)


def beat_schedule() -> dict:
    """Celery beat entries: one per registered task, all through run_periodic."""
    return {
        name: {
            "task": "minqing.core.tasks.run_periodic",
            "schedule": p.every.total_seconds(),
            "args": (name,),
        }
        for name, p in periodic_tasks().items()
    }


def run_one(name: str) -> str:
    """Run one registered task now and remember it."""
    from .case_models import PeriodicRun

    task = periodic_tasks()[name]
    result = task.func()
    PeriodicRun.objects.update_or_create(
        name=name, defaults={"last_run_at": clock.now(), "last_result": str(result)[:300]}
    )
    return str(result)


def run_due() -> list[str]:
    """Run every task whose interval has elapsed since its last run; the names run."""
    from .case_models import PeriodicRun

    ran = []
    now = clock.now()
    for name, task in periodic_tasks().items():
        with transaction.atomic():
            run, _created = PeriodicRun.objects.get_or_create(name=name)
            run = PeriodicRun.objects.select_for_update(skip_locked=True).filter(pk=run.pk).first()
            if run is None:  # another runner holds it
                continue
            if run.last_run_at is not None and now - run.last_run_at < task.every:
                continue
            result = task.func()
            run.last_run_at = now
            run.last_result = str(result)[:300]
            run.save(update_fields=["last_run_at", "last_result"])
        ran.append(name)
    return ran


def start_inline_scheduler(interval: int = 60) -> bool:
    """Without Redis, `make run` (runserver) runs the periodic tasks in a daemon thread, so
    escalation and reminders happen without a Celery beat. Returns whether it started."""
    import logging
    import threading
    import time

    from django.conf import settings
    from django.db import close_old_connections

    if settings.REDIS_URL or not getattr(settings, "PERIODIC_INLINE", True):
        return False
    log = logging.getLogger(__name__)

    def loop():
        time.sleep(5)
        while True:
            try:
                close_old_connections()
                run_due()
            except Exception:  # keep the scheduler alive; the error is logged
                log.exception("periodic run failed")
            time.sleep(interval)

    threading.Thread(target=loop, name="minqing-periodic", daemon=True).start()
    return True
