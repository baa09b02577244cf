"""Celery app. With REDIS_URL unset every task runs inline (task_always_eager)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")

app = Celery("minqing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _periodic_schedule(sender, **kwargs):
    """Celery beat reads the periodic-task registry (core.periodic)."""
    from minqing.core.periodic import beat_schedule

    sender.conf.beat_schedule = {**(sender.conf.beat_schedule or {}), **beat_schedule()}
