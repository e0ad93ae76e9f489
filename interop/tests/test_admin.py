"""The import-job admin: read-only (the worker moves jobs forward), a report for its uploader and
superusers only (as on the job's page), the uploaded files' content never shown."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from interop.jobs import import_job_create
from interop.models import ImportFile, ImportJob
from interop.tasks import run_import

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:interop_importjob_changelist"
GROUP = b"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: admins-team\n"
SECRETISH = b"# a comment only the uploader should read\n"


def change_url(job):
    return reverse("admin:interop_importjob_change", args=[job.pk])


@pytest.fixture
def jobs(personas):
    """One finished job of staff's, one of another staff member still queued."""
    finished = import_job_create(user=personas["staff"], files=[("group.yaml", GROUP)])
    run_import(job_id=finished.pk)
    other = type(personas["staff"]).objects.create_user("olga", "olga@example.com", is_staff=True)
    queued = import_job_create(user=other, files=[("queued.yaml", GROUP + SECRETISH)])
    return {"finished": ImportJob.objects.get(pk=finished.pk), "queued": queued, "olga": other}


def test_non_staff_cannot_open_it_nor_staff_without_the_permission(client, personas, jobs):
    urls = [reverse(CHANGELIST), change_url(jobs["finished"])]
    for url in urls:
        assert "login/?next=" in client.get(url)["Location"]  # anonymous
    client.force_login(personas["alice"])
    for url in urls:
        assert "/admin/login/" in client.get(url)["Location"]
    client.force_login(personas["staff"])
    for url in urls:
        assert client.get(url).status_code == 403


def test_a_superuser_lists_every_job_and_reads_a_finished_ones_result(
    client, personas, jobs, django_assert_max_num_queries
):
    personas["staff"].is_superuser = True
    personas["staff"].save()
    client.force_login(personas["staff"])
    with django_assert_max_num_queries(12):
        listing = client.get(reverse(CHANGELIST))
    html = listing.content.decode()
    assert listing.status_code == 200
    assert change_url(jobs["finished"]) in html and change_url(jobs["queued"]) in html

    page = client.get(change_url(jobs["finished"])).content.decode()
    assert "1 created, 0 updated, 0 unchanged, 0 warnings, 0 errors" in page
    assert "View on site" in page  # the job's own page, with the whole report

    queued = client.get(change_url(jobs["queued"])).content.decode()
    assert "queued.yaml" in queued  # the file still waiting for the worker, by name ...
    assert "only the uploader should read" not in queued  # ... never its content


def test_other_staff_see_their_own_jobs_only(client, personas, jobs):
    personas["staff"].user_permissions.add(Permission.objects.get(codename="view_importjob"))
    client.force_login(personas["staff"])
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert change_url(jobs["finished"]) in html and change_url(jobs["queued"]) not in html
    assert client.get(change_url(jobs["finished"])).status_code == 200
    # Another person's job: the admin answers as for a missing object (a redirect with a note).
    response = client.get(change_url(jobs["queued"]))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_a_job_cannot_be_added_edited_or_deleted_in_the_admin(client, personas, jobs):
    personas["staff"].is_superuser = True
    personas["staff"].save()
    client.force_login(personas["staff"])
    queued = jobs["queued"]
    assert client.get(reverse("admin:interop_importjob_add")).status_code == 403
    response = client.post(change_url(queued), {"status": "finished", "error": "edited"})
    assert response.status_code == 403
    delete = reverse("admin:interop_importjob_delete", args=[queued.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": [queued.pk], "post": "yes"},
    )
    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("queued", "")
    assert ImportFile.objects.filter(job=queued).count() == 1  # the worker still reads it
