"""Deadlines in working days (工作日), with the holiday calendar as data.

A working day is Monday-Friday, except public holidays, plus the weekend days declared
working days (调休). The exceptions are `CalendarDay` rows (seeded with the State Council's
announcements, edited in the admin). A deadline N working days after a moment is the end of
the Nth working day after the day it falls on (a matter filed on a Friday evening with 1
working day is due Monday 24:00, or the next working day after a holiday).
"""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .case_models import CalendarDay
from .proc_cache import process_cached


def _calendar() -> dict[date, str]:
    """Every exception day (a few dozen a year), kept per process (core.proc_cache)."""
    return process_cached("calendar", lambda: dict(CalendarDay.objects.values_list("date", "kind")))


def _working(d: date, overrides: dict[date, str]) -> bool:
    kind = overrides.get(d)
    if kind == CalendarDay.Kind.HOLIDAY:
        return False
    if kind == CalendarDay.Kind.WORKDAY:
        return True
    return d.weekday() < 5


def is_working_day(d: date) -> bool:
    return _working(d, _calendar())


# (calendar, {(start, days): date}): the answers for the calendar this process holds now.
# Every intake asks for today + its category's days: one lookup instead of walking the days;
# a changed calendar is a new object from core.proc_cache, which empties the answers.
_answers: tuple = (None, {})


def add_working_days(start: date, days: int) -> date:
    """The date of the `days`-th working day after `start` (start itself not counted)."""
    global _answers
    if days < 0:
        raise ValueError("days must be >= 0")
    overrides = _calendar()  # looked up by day: no need to cut it to the span first
    kept, answers = _answers
    if kept is not overrides or len(answers) > 1000:
        _answers = (overrides, {})
        kept, answers = _answers
    hit = answers.get((start, days))
    if hit is not None:
        return hit
    d, left = start, days
    while left > 0:
        d += timedelta(days=1)
        if _working(d, overrides):
            left -= 1
    answers[(start, days)] = d
    return d


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    if end <= start:
        return 0
    overrides = _calendar()
    d, n = start, 0
    while d < end:
        d += timedelta(days=1)
        if _working(d, overrides):
            n += 1
    return n


def deadline_after(moment: datetime, days: int) -> datetime:
    """End (23:59:59 local) of the `days`-th working day after `moment`'s local day."""
    local_day = timezone.localtime(moment).date()
    due = add_working_days(local_day, days)
    return timezone.make_aware(datetime.combine(due, time(23, 59, 59)))


# The State Council's holiday arrangements (国务院办公厅关于节假日安排的通知); loaded by
# migration and editable in the admin. (name, holidays, 调休 working days)
NATIONAL_CALENDAR = {
    2025: [
        ("元旦", ["2025-01-01"], []),
        ("春节", ["2025-01-28", "2025-02-04"], ["2025-01-26", "2025-02-08"]),
        ("清明节", ["2025-04-04", "2025-04-06"], []),
        ("劳动节", ["2025-05-01", "2025-05-05"], ["2025-04-27"]),
        ("端午节", ["2025-05-31", "2025-06-02"], []),
        ("国庆节、中秋节", ["2025-10-01", "2025-10-08"], ["2025-09-28", "2025-10-11"]),
    ],
    2026: [
        ("元旦", ["2026-01-01", "2026-01-03"], ["2026-01-04"]),
        ("春节", ["2026-02-15", "2026-02-23"], ["2026-02-14", "2026-02-28"]),
        ("清明节", ["2026-04-04", "2026-04-06"], []),
        ("劳动节", ["2026-05-01", "2026-05-05"], ["2026-05-09"]),
        ("端午节", ["2026-06-19", "2026-06-21"], []),
        ("中秋节", ["2026-09-25", "2026-09-27"], []),
        ("国庆节", ["2026-10-01", "2026-10-07"], ["2026-09-20", "2026-10-10"]),
    ],
}


def national_calendar_rows():
    """(date, kind, name) for every day of NATIONAL_CALENDAR; a holiday is [first, last]."""
    for entries in NATIONAL_CALENDAR.values():
        for name, span, workdays in entries:
            first = date.fromisoformat(span[0])
            last = date.fromisoformat(span[-1])
            d = first
            while d <= last:
                yield d, CalendarDay.Kind.HOLIDAY, name
                d += timedelta(days=1)
            for w in workdays:
                yield date.fromisoformat(w), CalendarDay.Kind.WORKDAY, f"{name}调休"
