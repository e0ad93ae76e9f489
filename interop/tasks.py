"""Celery tasks of the import page: take a job's primary key, call interop.jobs. No logic here."""

from celery import shared_task

from interop import jobs


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def run_import(job_id: int) -> None:
    """Claim the import job and run it. A second delivery finds it claimed: it checks back once
    the claim could have gone stale (the first worker died), and returns when the job is done."""
    lease = jobs.import_job_claim(job_id=job_id)
    if lease is None:
        if jobs.import_job_is_pending(job_id=job_id):
            run_import.apply_async((job_id,), countdown=jobs.STALE_AFTER.total_seconds() + 1)
        return
    jobs.import_job_run(job_id=job_id, lease=lease)
