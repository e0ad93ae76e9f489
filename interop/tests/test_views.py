"""The import page (staff), its jobs (run by a worker, followed by the page), the export
download, and who may use them."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service, Team
from interop import backstage
from interop.models import ImportFile, ImportJob
from interop.tasks import run_import
from interop.tests.uploads import upload

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backstage"


def example_uploads():
    return [
        SimpleUploadedFile(Path(name).name, content, content_type="application/yaml")
        for name, content in backstage.files_from_paths([EXAMPLES])
    ]


def test_staff_imports_by_upload_and_sees_the_report(client, personas):
    client.force_login(personas["staff"])
    assert client.get(reverse("interop:import")).status_code == 200
    response = upload(client, example_uploads())
    assert response.status_code == 200
    report = response.context["report"]
    assert report.errors == [] and "Component checkout" in report.created
    page = response.content.decode()
    assert "Component checkout" in page and "is not in this import" in page
    assert 'hx-trigger="every 1s"' not in page  # finished: the page stops following
    assert Service.objects.count() == 10 and Team.objects.filter(slug="engineering").exists()
    assert not ImportFile.objects.exists()  # the uploaded files are dropped once read

    again = upload(client, example_uploads())
    assert again.context["report"].created == [] and Service.objects.count() == 10
    listed = client.get(reverse("interop:import")).content.decode()
    assert listed.count("Finished") == 2  # "Your recent imports"


def test_the_upload_is_queued_and_the_page_follows_it(client, personas):
    client.force_login(personas["staff"])
    response = client.post(reverse("interop:import"), {"files": example_uploads()})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == job.get_absolute_url()
    assert job.status == "queued" and job.file_count == len(example_uploads())
    assert not Service.objects.exists()  # nothing imported by the web request

    waiting = client.get(job.get_absolute_url())
    html = waiting.content.decode()
    assert "waiting for a worker" in html and 'hx-trigger="every 1s"' in html
    assert "<progress" in html

    run_import(job_id=job.pk)
    fragment = client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert html.lstrip().startswith('<section id="import-job"')  # the fragment only
    assert "Result: " in html and "Component checkout" in html and "every 1s" not in html
    event = AuditEvent.objects.get(action="catalog.import")
    assert event.actor == personas["staff"] and event.after["counts"]["created"] >= 9


def test_a_job_runs_once_however_often_its_message_arrives(personas):
    from interop.jobs import import_job_create

    job = import_job_create(
        user=personas["staff"],
        files=[(name, content) for name, content in backstage.files_from_paths([EXAMPLES])],
    )
    run_import(job_id=job.pk)
    run_import(job_id=job.pk)  # redelivered: the job is finished, nothing happens
    job.refresh_from_db()
    assert job.status == "finished" and job.attempts == 1
    assert AuditEvent.objects.filter(action="catalog.import").count() == 1


def test_progress_is_written_to_the_row_step_by_step(personas, monkeypatch):
    from interop import jobs

    seen = []
    real = jobs.catalog_import

    def spying(**kwargs):
        given = kwargs["progress"]

        def progress(stage, done, total):
            given(stage, done, total)
            job = ImportJob.objects.get()
            seen.append((job.stage, job.done, job.total, job.percent))

        return real(**{**kwargs, "progress": progress})

    monkeypatch.setattr(jobs, "catalog_import", spying)
    job = jobs.import_job_create(
        user=personas["staff"], files=backstage.files_from_paths([EXAMPLES])
    )
    run_import(job_id=job.pk)
    stages = [stage for stage, *_ in seen]
    assert stages[0] == "reading" and stages[-1] == "done"
    assert {"planning", "writing", "analyzing"} <= set(stages)
    percents = [percent for *_, percent in seen]
    assert percents == sorted(percents) and percents[-1] < 100  # 100 only once finished
    assert seen[-1][1] == seen[-1][2] > 9


def test_import_needs_staff(client, personas):
    client.force_login(personas["alice"])
    assert client.get(reverse("interop:import")).status_code == 403
    assert client.post(reverse("interop:import"), {"files": example_uploads()}).status_code == 403
    assert not Service.objects.exists() and not ImportJob.objects.exists()


def test_only_the_uploader_follows_a_job(client, personas, django_user_model):
    client.force_login(personas["staff"])
    client.post(reverse("interop:import"), {"files": example_uploads()})
    url = ImportJob.objects.get().get_absolute_url()

    other_staff = django_user_model.objects.create_user("otto", is_staff=True)
    client.force_login(other_staff)
    assert client.get(url).status_code == 404
    assert url not in client.get(reverse("interop:import")).content.decode()  # not listed
    client.force_login(personas["alice"])
    assert client.get(url).status_code == 403
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 405


def test_upload_without_files_is_an_error_next_to_the_field(client, personas):
    client.force_login(personas["staff"])
    response = client.post(reverse("interop:import"), {})
    assert response.status_code == 400 and "files" in response.context["form"].errors
    assert not ImportJob.objects.exists()


def test_export_downloads_yaml_for_any_signed_in_user(client, personas):
    client.force_login(personas["charlie"])
    response = client.get(reverse("interop:export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert "attachment" in response["Content-Disposition"]
    kinds = [d.kind for d in backstage.load([("x", response.content)]).documents]
    assert kinds.count("Group") == 2  # payments and search


def test_a_job_held_by_a_live_worker_is_left_alone_and_a_dead_ones_is_taken_over(personas):
    from datetime import timedelta

    from django.utils import timezone

    from interop import jobs

    job = jobs.import_job_create(
        user=personas["staff"], files=backstage.files_from_paths([EXAMPLES])
    )
    assert jobs.import_jobs_stale() == []  # just queued: its message is on its way
    assert jobs.import_job_claim(job_id=job.pk)  # a first worker holds it, and beats
    run_import(job_id=job.pk)  # a second delivery
    job.refresh_from_db()
    assert job.status == "running" and job.stage == "waiting" and not Service.objects.exists()
    assert jobs.import_jobs_stale() == []

    # The first worker died: once its heartbeat is stale, beat enqueues the job again and
    # the next delivery takes it over.
    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - jobs.STALE_AFTER - timedelta(seconds=1)
    )
    assert jobs.import_jobs_stale() == [job.pk]
    run_import(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "finished" and job.attempts == 2 and Service.objects.exists()
    assert jobs.import_jobs_stale() == []


def test_a_job_whose_message_was_lost_is_enqueued_again(personas, monkeypatch):
    from datetime import timedelta

    from interop import jobs, tasks

    job = jobs.import_job_create(
        user=personas["staff"], files=backstage.files_from_paths([EXAMPLES])
    )
    ImportJob.objects.filter(pk=job.pk).update(
        created_at=job.created_at - jobs.STALE_AFTER - timedelta(seconds=1)
    )
    assert jobs.import_jobs_stale() == [job.pk]
    sent = []
    monkeypatch.setattr(tasks.run_import, "delay", sent.append)
    tasks.reconcile_imports()  # what beat runs every minute
    assert sent == [job.pk]
