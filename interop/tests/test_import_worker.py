"""End to end: an upload is imported by a real Celery worker on Redis, with no browser left."""

import pytest
from django.urls import reverse

from catalog.models import Service
from conftest import wait_for
from interop.models import ImportFile, ImportJob
from interop.tests.test_views import example_uploads

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_imports_an_upload_nobody_is_watching(client, personas, celery_worker):
    client.force_login(personas["staff"])
    response = client.post(reverse("interop:import"), {"files": example_uploads()})
    assert response.status_code == 302
    client.logout()  # the browser is gone; the worker goes on

    job = wait_for(
        lambda: ImportJob.objects.filter(status__in=["finished", "failed"]).first(),
        message="the worker did not finish the import",
    )
    assert job.status == "finished", job.error
    assert job.report["errors"] == [] and "Component checkout" in job.report["created"]
    assert job.attempts == 1 and job.done == job.total > 9
    assert Service.objects.count() == 10 and not ImportFile.objects.exists()
