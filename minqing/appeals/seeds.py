"""The seed rows the migrations load (categories, holiday calendar), loadable again: a
transactional test flushes the tables and the next test needs them back."""


def ensure_seeds() -> None:
    from minqing.core.deadlines import national_calendar_rows
    from minqing.core.models import CalendarDay

    from .categories import DEFAULT_CATEGORIES
    from .models import Category

    if not CalendarDay.objects.exists():
        CalendarDay.objects.bulk_create(
            [CalendarDay(date=d, kind=k, name=n) for d, k, n in national_calendar_rows()],
            ignore_conflicts=True,
        )
    if not Category.objects.exists():
        Category.objects.bulk_create(
            [
                Category(
                    code=code,
                    name=name,
                    description=desc,
                    days_village=dv,
                    days_township=dt,
                    days_county=dc,
                    order=i * 10,
                )
                for i, (code, name, desc, dv, dt, dc) in enumerate(DEFAULT_CATEGORIES)
            ],
            ignore_conflicts=True,
        )
    from minqing.core.proc_cache import process_cache_bump

    process_cache_bump("calendar")
    process_cache_bump("appeal-categories")
