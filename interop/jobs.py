"""Import jobs: an upload on the import page, imported by a Celery worker the page follows.

1. `import_job_create` (web): store the uploaded files and a queued job in one transaction,
   enqueue `interop.tasks.run_import` once that has committed.
2. `import_job_run` (worker): claim the job (queued → running, or a running job whose worker
   stopped beating), run the import with a progress callback that writes the stage and counts
   to the row, then finish it (running → finished/failed) and drop the stored files.

Every status change is one conditional UPDATE; the row count decides. Beat enqueues the jobs
no worker is on again (`import_jobs_stale`, every minute) and deletes the jobs that ended more
than IMPORT_JOB_KEEP_DAYS ago (`import_jobs_prune`, every hour). The import itself
writes in one transaction and matches rows by slug, so running a job twice (a redelivered
message, a second worker) never duplicates anything.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from interop import backstage
from interop.importer import ImportReport, catalog_import
from interop.models import ImportFile, ImportJob

log = logging.getLogger(__name__)

# A running job whose heartbeat is older than this lost its worker: the next delivery of its
# task takes it over. Progress beats between the steps; an upload's write step (at most
# MAX_UPLOAD_DOCUMENTS entities) takes seconds.
STALE_AFTER = timedelta(seconds=90)

Status = ImportJob.Status


def import_job_create(*, user, files: list[tuple[str, bytes]]) -> ImportJob:
    """A queued job holding `files` (name, content); the worker is told after commit."""
    from interop.tasks import run_import

    with transaction.atomic():
        job = ImportJob.objects.create(created_by=user, file_count=len(files))
        ImportFile.objects.bulk_create(
            [ImportFile(job=job, name=name, content=content) for name, content in files]
        )
        transaction.on_commit(lambda: run_import.delay(job.pk))
    return job


def import_job_claim(*, job_id: int) -> uuid.UUID | None:
    """Take the job for this worker; None if it is finished or another worker holds it."""
    lease = uuid.uuid4()
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    claimed = ImportJob.objects.filter(claimable, pk=job_id).update(
        status=Status.RUNNING,
        lease=lease,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    return lease if claimed else None


def import_job_run(*, job_id: int, lease: uuid.UUID) -> bool:
    """Import the job's files under `lease`; False if the lease was lost on the way."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id, lease=lease).first()
    if job is None:
        return False
    files = [(name, bytes(content)) for name, content in job.files.values_list("name", "content")]

    def progress(stage: str, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id, status=Status.RUNNING, lease=lease).update(
            stage=stage, done=done, total=total, heartbeat_at=timezone.now()
        )

    try:
        report = catalog_import(
            files=files,
            actor=job.created_by,
            source="web",
            max_total_bytes=backstage.MAX_UPLOAD_BYTES,
            max_documents=backstage.MAX_UPLOAD_DOCUMENTS,
            progress=progress,
        )
    except Exception as exc:
        # Unexpected (the database went away, a bug): the import's transaction rolled back,
        # so nothing was written. The page says so; the log has the traceback.
        log.exception("Import job %s failed", job_id)
        return _finish(
            job_id,
            lease,
            status=Status.FAILED,
            error=f"The import stopped on an unexpected error ({type(exc).__name__}); "
            "nothing was written. Try again, or ask an administrator to read the worker log.",
        )
    return _finish(job_id, lease, status=Status.FINISHED, report=report)


def _finish(
    job_id: int,
    lease: uuid.UUID,
    *,
    status: str,
    report: ImportReport | None = None,
    error: str = "",
) -> bool:
    with transaction.atomic():
        finished = ImportJob.objects.filter(pk=job_id, status=Status.RUNNING, lease=lease).update(
            status=status,
            stage=ImportJob.Stage.DONE,
            report=report.as_dict() if report else {},
            error=error,
            finished_at=timezone.now(),
        )
        if finished:
            ImportFile.objects.filter(job_id=job_id).delete()
    return bool(finished)


def import_jobs_stale(*, limit: int = 100) -> list[int]:
    """Jobs no worker is on (for beat to enqueue again): queued for longer than STALE_AFTER
    (the message was lost, or is still waiting: a second one is harmless), or running with a
    heartbeat older than that (the worker died; a SIGKILLed worker's message would otherwise
    come back only after the broker's visibility timeout)."""
    cutoff = timezone.now() - STALE_AFTER
    stale = Q(status=Status.QUEUED, created_at__lt=cutoff) | Q(
        status=Status.RUNNING, heartbeat_at__lt=cutoff
    )
    return list(ImportJob.objects.filter(stale).values_list("pk", flat=True)[:limit])


def import_jobs_prune(*, keep_days: int | None = None, batch: int = 1000) -> int:
    """Delete the jobs that finished or failed more than `keep_days` (default
    IMPORT_JOB_KEEP_DAYS) days ago, with any uploaded files they still hold; returns how many.

    Only ended jobs match (a queued or running job is never deleted, however old), and an ended
    job never runs again (a claim takes queued or running jobs only), so the status in the
    DELETE's own WHERE is the whole guard. Batches keep each statement short; running it
    twice deletes nothing more the second time.
    """
    days = settings.IMPORT_JOB_KEEP_DAYS if keep_days is None else keep_days
    ended = ImportJob.objects.filter(
        status__in=[Status.FINISHED, Status.FAILED],
        finished_at__lt=timezone.now() - timedelta(days=days),
    )
    deleted = 0
    while ids := list(ended.values_list("pk", flat=True)[:batch]):
        # The filter is applied again in the DELETE. `only("pk")`: Django reads the rows it
        # deletes, and a report can be megabytes; the jobs' ImportFile rows go with them in
        # one DELETE (a cascade Django runs without reading their content).
        _, per_model = ended.filter(pk__in=ids).only("pk").delete()
        deleted += per_model.get(ImportJob._meta.label, 0)
        if len(ids) < batch:
            break
    if deleted:
        log.info("Pruned %s import jobs that ended more than %s days ago", deleted, days)
    return deleted
