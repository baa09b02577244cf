"""Periodic tip work, registered in the kernel's registry (Celery beat with Redis, inline
otherwise: `minqing periodic`); the tasks only call services."""

from datetime import timedelta

from minqing.core.periodic import register_periodic


def _remind():
    from .services import tips_remind

    return tips_remind()


def _expire():
    from .services import tips_expire

    return tips_expire()


register_periodic("tips.remind", _remind, every=timedelta(hours=6))
register_periodic("tips.expire", _expire, every=timedelta(days=1))
