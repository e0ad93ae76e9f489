"""Uploading on the import page the way a user does, with the worker's part run in-process."""

from django.urls import reverse

from interop.tasks import run_import


def upload(client, files):
    """POST `files` on the import page; if accepted, run the job's task (what the worker does
    with the message) and return the job page the browser is sent to. A refused upload
    returns the form page (400)."""
    response = client.post(reverse("interop:import"), {"files": files})
    if response.status_code != 302:
        return response
    job_url = response["Location"]
    run_import(job_id=int(job_url.rstrip("/").rsplit("/", 1)[1]))
    return client.get(job_url)
