"""Beat deletes import jobs that ended more than IMPORT_JOB_KEEP_DAYS ago, and nothing else."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from interop import jobs, tasks
from interop.models import ImportFile, ImportJob

pytestmark = pytest.mark.django_db

GROUP = b"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n"


def job(user, status, *, ended_days_ago=None, created_days_ago=0):
    """A job as an upload leaves it (files stored), then moved to `status` the worker's way."""
    made = jobs.import_job_create(user=user, files=[("group.yaml", GROUP)])
    if status in ("running", "finished"):
        lease = jobs.import_job_claim(job_id=made.pk)
        if status == "finished":
            assert jobs.import_job_run(job_id=made.pk, lease=lease)
    if status == "failed":
        # As `_finish` leaves a job whose import raised (the files stay here on purpose: a
        # pruned job must take whatever it still holds with it).
        ImportJob.objects.filter(pk=made.pk).update(status="failed", error="boom")
    now = timezone.now()
    ImportJob.objects.filter(pk=made.pk).update(
        created_at=now - timedelta(days=created_days_ago),
        heartbeat_at=now - timedelta(days=created_days_ago),
        finished_at=None if ended_days_ago is None else now - timedelta(days=ended_days_ago),
    )
    return made.pk


def test_jobs_that_ended_longer_ago_than_the_setting_go_with_their_files(personas):
    staff = personas["staff"]
    assert settings.IMPORT_JOB_KEEP_DAYS == 30
    old_finished = job(staff, "finished", ended_days_ago=31, created_days_ago=31)
    old_failed = job(staff, "failed", ended_days_ago=45, created_days_ago=45)
    recent = job(staff, "finished", ended_days_ago=29, created_days_ago=29)
    # Never deleted, however old: a worker holds it (or will) and its page is followed.
    running = job(staff, "running", created_days_ago=90)
    queued = job(staff, "queued", created_days_ago=90)
    assert ImportFile.objects.filter(job_id=old_failed).exists()

    tasks.prune_imports()  # what beat runs every hour

    left = set(ImportJob.objects.values_list("pk", flat=True))
    assert left == {recent, running, queued}
    assert not ImportFile.objects.filter(job_id__in=[old_finished, old_failed]).exists()
    assert ImportFile.objects.filter(job_id__in=[running, queued]).count() == 2
    assert ImportJob.objects.get(pk=running).status == "running"


def test_pruning_twice_deletes_nothing_more(personas):
    staff = personas["staff"]
    old = [job(staff, "finished", ended_days_ago=40, created_days_ago=40) for _ in range(3)]
    kept = job(staff, "finished", ended_days_ago=1, created_days_ago=1)

    assert jobs.import_jobs_prune(batch=2) == 3  # two batches
    assert jobs.import_jobs_prune(batch=2) == 0
    assert not ImportJob.objects.filter(pk__in=old).exists()
    assert ImportJob.objects.filter(pk=kept).exists()


def test_the_window_follows_the_setting(personas, settings):
    settings.IMPORT_JOB_KEEP_DAYS = 7
    staff = personas["staff"]
    week_old = job(staff, "finished", ended_days_ago=8, created_days_ago=8)
    fresh = job(staff, "finished", ended_days_ago=6, created_days_ago=6)
    assert jobs.import_jobs_prune() == 1
    assert list(ImportJob.objects.values_list("pk", flat=True)) == [fresh]
    assert not ImportJob.objects.filter(pk=week_old).exists()


def test_pruning_does_not_read_the_reports(personas):
    """A finished job's report lists every entity of its upload; deleting it reads only ids."""
    job(personas["staff"], "finished", ended_days_ago=40, created_days_ago=40)
    with CaptureQueriesContext(connection) as queries:
        assert jobs.import_jobs_prune() == 1
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert selects and not any('"report"' in sql for sql in selects)


def test_beat_runs_the_pruning_every_hour():
    from portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["prune-imports"]
    assert entry["schedule"] == 3600
    app.loader.import_default_modules()  # what a worker does when it starts
    assert entry["task"] in app.tasks  # a misspelt name would never run
