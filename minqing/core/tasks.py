from celery import shared_task


@shared_task
def run_import(job_id: str) -> str:
    from .imports import import_run

    return import_run(job_id).status


@shared_task
def purge_import_files() -> int:
    """Retention of uploaded ledgers and error reports (IMPORT_RETENTION_DAYS)."""
    from .imports import purge_expired_files

    return purge_expired_files()
