from celery import shared_task


@shared_task
def run_import(job_id: str) -> str:
    from .imports import import_run

    return import_run(job_id).status
