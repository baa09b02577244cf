from celery import shared_task


@shared_task
def run_export(job_id: str) -> str:
    from .exports import export_run

    return export_run(job_id).status
