from datetime import timedelta

from celery import shared_task

from .periodic import register_periodic


@shared_task
def run_import(job_id: str) -> str:
    from .imports import import_run

    return import_run(job_id).status


@shared_task
def run_periodic(name: str) -> str:
    """The one Celery task behind every beat entry (see core.periodic)."""
    from .periodic import run_one

    return run_one(name)


def _purge_import_files():
    """Retention of uploaded ledgers and error reports (IMPORT_RETENTION_DAYS)."""
    from .imports import purge_expired_files

    return purge_expired_files()


register_periodic("core.purge_import_files", _purge_import_files, every=timedelta(hours=1))


def _interrupt_stale_jobs():
    """Jobs whose worker died (a restarted server) end as failed instead of running on."""
    from .jobs import interrupt_stale

    return interrupt_stale()


register_periodic("core.interrupt_stale_jobs", _interrupt_stale_jobs, every=timedelta(minutes=5))
