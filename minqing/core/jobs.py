"""Background jobs stay honest about their worker.

A job runs in a Celery worker, or in a thread of the web process when there is no Redis.
Either can die (a restart, an out-of-memory kill) and leave the job "running" for ever,
with the page polling a bar that never moves. So while a job works, `heartbeat` stamps
`Job.heartbeat_at` from a small thread every `JOB_HEARTBEAT_SECONDS`; a running job whose
last beat is older than `JOB_STALE_SECONDS` has lost its worker and ends as failed, said in
plain words. That is checked where the job is looked at (`alive`, one conditional UPDATE
only when it is stale) and by a periodic sweep (`interrupt_stale`), so a job nobody looks at
ends too. The beat comes from its own thread, not from progress updates, so a long step
without progress (a COPY of a million rows) never looks dead.
"""

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Job

log = logging.getLogger(__name__)

# A queued job that no worker has picked up for this long never will (no worker running).
PENDING_GIVE_UP = timedelta(hours=12)


def interrupted_message(kind: str) -> str:
    if kind.endswith(".export"):
        return _("导出被中断(处理它的工作进程已退出),请重新导出")
    return _("任务被中断(处理它的工作进程已退出),未导入任何数据,请重新上传")


@contextmanager
def heartbeat(job_id, every: float | None = None):
    """Stamp the job alive now, then every `every` seconds until the block ends."""
    every = every if every is not None else settings.JOB_HEARTBEAT_SECONDS
    stop = threading.Event()
    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())

    def beat():
        try:
            while not stop.wait(every):
                try:
                    Job.objects.filter(
                        pk=job_id, status__in=[Job.Status.PENDING, Job.Status.RUNNING]
                    ).update(heartbeat_at=timezone.now())
                except Exception:  # a locked row or database: the next beat tries again
                    log.warning("job %s: heartbeat not written", job_id, exc_info=True)
        finally:
            connection.close()

    threading.Thread(target=beat, name=f"job-heartbeat-{job_id}", daemon=True).start()
    try:
        yield
    finally:
        # Not joined: the beat may be waiting on the job's row locked by the work's own
        # transaction; it ends by itself, and a late beat on a finished job matches nothing.
        stop.set()


def _stale_before(now):
    return now - timedelta(seconds=settings.JOB_STALE_SECONDS)


def alive(job: Job, now=None) -> Job:
    """The job as the page should show it: a running job without a recent beat has lost
    its worker and is ended as failed here (only if it is still in that state)."""
    if job.status != Job.Status.RUNNING:
        return job
    now = now or timezone.now()
    last = job.heartbeat_at or job.created_at
    if last >= _stale_before(now):
        return job
    fields = {
        "status": Job.Status.FAILED,
        "finished_at": now,
        "message": interrupted_message(job.kind),
    }
    ended = Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, heartbeat_at=job.heartbeat_at
    ).update(**fields)
    if ended:
        for name, value in fields.items():
            setattr(job, name, value)
    else:
        job.refresh_from_db()  # it beat or finished meanwhile
    return job


def interrupt_stale(now=None) -> int:
    """End every job whose worker is gone; returns how many. Run periodically."""
    now = now or timezone.now()
    ended = 0
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=_stale_before(now))
    never_beat = Job.objects.filter(
        status=Job.Status.RUNNING, heartbeat_at__isnull=True, created_at__lt=_stale_before(now)
    )
    lost = Job.objects.filter(status=Job.Status.PENDING, created_at__lt=now - PENDING_GIVE_UP)
    for qs in (stale, never_beat, lost):
        for kind in qs.values_list("kind", flat=True).distinct().order_by():
            ended += qs.filter(kind=kind).update(
                status=Job.Status.FAILED, finished_at=now, message=interrupted_message(kind)
            )
    return ended
