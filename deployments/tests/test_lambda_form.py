"""The Lambda deploy form: bad input is shown next to its field and creates nothing."""

import pytest
from django.urls import reverse

from catalog.models import Service
from deployments.models import CodeArtifact, Deployment

URL = reverse("deployments:lambda_create")


def valid_data(personas, **overrides):
    data = {
        "name": "orders",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": "def handler(event, context):\n    return 1\n",
        "memory_size": "256",
        "timeout": "10",
        "architecture": "x86_64",
        "env_vars": "LOG_LEVEL=debug",
    }
    data.update(overrides)
    return data


def field_errors(response, field):
    return response.context["form"].errors.get(field, [])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Orders_Service", "lowercase letters"),
        ("name", "-orders", "lowercase letters"),
        ("name", "a" * 41, "at most 40 characters"),
        ("handler", "", "This field is required"),
        ("handler", "no_function", "module.function"),
        ("memory_size", "64", "greater than or equal to 128"),
        ("memory_size", "10241", "less than or equal to 10240"),
        ("timeout", "901", "less than or equal to 900"),
        ("env_vars", "AWS_REGION=eu-west-1", "reserved by AWS Lambda"),
        ("env_vars", "not a pair", "KEY=value"),
    ],
)
def test_bad_field_is_shown_next_to_it_and_nothing_is_created(
    client, personas, field, value, message
):
    client.force_login(personas["alice"])
    response = client.post(URL, valid_data(personas, **{field: value}))

    assert response.status_code == 400
    assert any(message in e for e in field_errors(response, field)), field_errors(response, field)
    # The error is rendered inside that field's block, where the user is looking.
    html = response.content.decode()
    block = html[html.index(f'id="field-{field}"') :]
    block = block[: block.index("</div>")]
    assert 'class="error"' in block
    assert not Service.objects.exists()
    assert not Deployment.objects.exists()
    assert not CodeArtifact.objects.exists()


def test_existing_service_name_is_refused(client, personas, aws_clean):
    client.force_login(personas["alice"])
    assert client.post(URL, valid_data(personas)).status_code == 302
    response = client.post(URL, valid_data(personas))
    assert response.status_code == 400
    assert "already exists" in field_errors(response, "name")[0]
    assert Service.objects.count() == 1


def test_code_is_required_from_source_or_zip(client, personas):
    client.force_login(personas["alice"])
    response = client.post(URL, valid_data(personas, source=""))
    assert response.status_code == 400
    assert "upload a zip" in field_errors(response, "source")[0]


def test_a_non_zip_upload_is_refused(client, personas):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(personas["alice"])
    upload = SimpleUploadedFile("code.zip", b"not a zip at all", "application/zip")
    response = client.post(URL, {**valid_data(personas, source=""), "code_zip": upload})
    assert response.status_code == 400
    assert "not a zip" in field_errors(response, "code_zip")[0]


def test_valid_form_plans_a_deployment_with_the_spec(client, personas, aws_clean):
    client.force_login(personas["alice"])
    response = client.post(URL, valid_data(personas))

    deployment = Deployment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == deployment.get_absolute_url()
    # Nothing runs until the user confirms the plan shown on that page.
    assert deployment.status == Deployment.Status.PLANNED
    assert deployment.plan[-1]["summary"] == "Create Lambda function orders-dev"
    assert deployment.requested_by == personas["alice"]
    assert deployment.spec["handler"] == "app.handler"
    assert deployment.spec["memory_size"] == 256
    assert deployment.spec["environment"] == {"LOG_LEVEL": "debug"}
    assert CodeArtifact.objects.filter(sha256=deployment.spec["code_sha256"]).exists()


def test_same_source_gives_the_same_code_hash(personas):
    from deployments.forms.lambda_ import deterministic_zip

    assert deterministic_zip("app.py", "x = 1\n") == deterministic_zip("app.py", "x = 1\n")
