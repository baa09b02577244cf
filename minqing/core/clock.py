"""The one clock for deadlines and periodic work, so tests (and demos) can move time.

with clock.frozen(datetime(2026, 2, 13, 9, tzinfo=...)):
    appeal_escalate_overdue()
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

_fixed: ContextVar = ContextVar("minqing_clock", default=None)


def now():
    return _fixed.get() or timezone.now()


def today():
    return timezone.localdate(now())


@contextmanager
def frozen(at):
    token = _fixed.set(at)
    try:
        yield
    finally:
        _fixed.reset(token)
