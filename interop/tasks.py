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
    """Claim the import job and run it. A second delivery finds it claimed (or done) and
    returns; if the first worker died, beat enqueues the job again once its heartbeat is stale."""
    lease = jobs.import_job_claim(job_id=job_id)
    if lease is None:
        return
    jobs.import_job_run(job_id=job_id, lease=lease)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def reconcile_imports() -> None:
    """Beat: enqueue again the import jobs whose message was lost or whose worker died."""
    for job_id in jobs.import_jobs_stale():
        run_import.delay(job_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def prune_imports() -> None:
    """Beat: delete the import jobs that ended more than IMPORT_JOB_KEEP_DAYS ago."""
    jobs.import_jobs_prune()
