from celery import shared_task


@shared_task
def run_import(job_id: str) -> str:
    from .imports import import_run

    return import_run(job_id).status


@shared_task
def run_periodic(name: str) -> str:
    """The one Celery task behind every beat entry (see core.periodic)."""
    from .periodic import run_one

    return run_one(name)
