"""The Lambda deploy form: bad input is shown next to its field and creates nothing."""

import pytest
from django.urls import reverse

from catalog.models import Service
from conftest import field_errors, field_html
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


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Orders_Service", "lowercase letters"),
        ("name", "-orders", "lowercase letters"),
        ("name", "a" * 41, "at most 40 characters"),
        ("handler", "", "This field is required"),
        ("handler", "no_function", "module.function"),
        # The handler's module names the source file in the zip: a name zipfile cannot hold
        # (over 65,535 bytes) once made the page fail instead of answering.
        ("handler", "m" * 70_000 + ".handler", "at most 128 characters"),
        ("memory_size", "64", "greater than or equal to 128"),
        ("memory_size", "10241", "less than or equal to 10240"),
        ("timeout", "901", "less than or equal to 900"),
        ("env_vars", "AWS_REGION=eu-west-1", "reserved by AWS Lambda"),
        ("env_vars", "not a pair", "KEY=value"),
        ("reserved_concurrency", "-1", "greater than or equal to 0"),
        ("provisioned_concurrency", "-5", "greater than or equal to 0"),
        ("provisioned_concurrency", "3", "exceeds reserved concurrency 2"),
        ("s3_triggers", "Orders_Uploads", "not a valid bucket name"),
        ("s3_triggers", "192.168.1.10", "looks like an IP address"),
        (
            "s3_triggers",
            "orders-uploads s3:Everything",
            "Line 1: 's3:Everything' is not an S3 event type",
        ),
        ("s3_triggers", "orders-uploads\norders-uploads", "listed twice"),
        ("code_s3_bucket", "my..bucket", "not a valid bucket name"),
        ("event_pattern", "{source: shop}", "not valid JSON"),
        ("event_pattern", '["shop.orders"]', "JSON object"),
        ("event_pattern", '{"account": ["1"]}', '"source" or "detail-type"'),
        ("event_pattern", '{"source": "shop.orders"}', "non-empty list"),
        ("event_bus", "default", "custom event bus"),
        ("event_bus", "bad bus!", "Event bus names"),
    ],
)
def test_bad_field_is_shown_next_to_it_and_nothing_is_created(
    client, personas, field, value, message
):
    client.force_login(personas["alice"])
    # Fields that only mean something in pairs get a valid partner.
    partners = {
        "provisioned_concurrency": {"reserved_concurrency": "2"},
        "event_pattern": {"event_bus": "orders-bus"},
        "event_bus": {"event_pattern": '{"source": ["shop.orders"]}'},
        "code_s3_bucket": {"code_s3_key": "code.zip"},
    }.get(field, {})
    response = client.post(URL, valid_data(personas, **partners, **{field: value}))

    assert response.status_code == 400
    assert any(message in e for e in field_errors(response, field)), field_errors(response, field)
    # The error is rendered inside that field's block, where the user is looking.
    assert 'class="error"' in field_html(response, field)
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
    summaries = [step["summary"] for step in deployment.plan]
    assert "Create Lambda function orders-dev" in summaries
    assert summaries[-1] == "Publish a new version and point live at it"
    assert deployment.requested_by == personas["alice"]
    assert deployment.spec["handler"] == "app.handler"
    assert deployment.spec["memory_size"] == 256
    assert deployment.spec["environment"] == {"LOG_LEVEL": "debug"}
    assert CodeArtifact.objects.filter(sha256=deployment.spec["code_sha256"]).exists()


def test_same_source_gives_the_same_code_hash(personas):
    from deployments.forms.lambda_ import deterministic_zip

    assert deterministic_zip("app.py", "x = 1\n") == deterministic_zip("app.py", "x = 1\n")


# --- triggers, S3 code, update and scale --------------------------------------------------------
def deployed(personas, **spec_overrides):
    """A deployed orders-dev, run in this process by the engine (no worker needed)."""
    from deployments import engine, services
    from deployments.forms.lambda_ import deterministic_zip

    spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 128,
        "timeout": 10,
        "architecture": "x86_64",
        "description": "",
        "environment": {"LOG_LEVEL": "debug"},
        "reserved_concurrency": 5,
        **spec_overrides,
    }
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="lambda",
        environment=personas["dev"],
        spec=spec,
        code=deterministic_zip("app.py", "def handler(event, context):\n    return 1\n"),
        confirm=True,
    )
    lease = engine.deployment_claim(deployment_id=deployment.pk)
    engine.deployment_execute(deployment_id=deployment.pk, lease=lease)
    engine.deployment_check(deployment_id=deployment.pk, lease=lease)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.error
    return deployment.instance


def update_data(**overrides):
    data = {
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": "",
        "memory_size": "128",
        "timeout": "10",
        "architecture": "x86_64",
        "env_vars": "LOG_LEVEL=debug",
        "reserved_concurrency": "5",
        "provisioned_concurrency": "0",
    }
    data.update(overrides)
    return data


UPDATE = reverse("deployments:update", args=["orders", "dev"])
SCALE = reverse("deployments:scale", args=["orders", "dev"])


def test_triggers_from_the_form_are_planned_in_words(client, personas, aws_clean):
    client.force_login(personas["alice"])
    data = valid_data(
        personas,
        s3_triggers="orders-uploads s3:ObjectCreated:Put prefix=in/",
        event_bus="orders-bus",
        event_pattern='{"source": ["shop.orders"]}',
        reserved_concurrency="10",
    )
    assert client.post(URL, data).status_code == 302

    deployment = Deployment.objects.get()
    assert deployment.spec["triggers"] == {
        "s3": [
            {
                "bucket": "orders-uploads",
                "events": ["s3:ObjectCreated:Put"],
                "prefix": "in/",
                "suffix": "",
            }
        ],
        "eventbridge": [{"bus": "orders-bus", "pattern": {"source": ["shop.orders"]}}],
    }
    lines = [line for step in deployment.plan for line in step["details"]]
    assert any(
        line.startswith("new S3 trigger bucket orders-uploads events s3:ObjectCreated:Put")
        for line in lines
    ), lines
    assert "reserved concurrency unreserved → 10" in lines


def test_code_can_come_from_an_s3_object(client, personas, aws_clean):
    client.force_login(personas["alice"])
    data = valid_data(personas, code_s3_bucket="orders-artifacts", code_s3_key="orders/1.zip")
    assert client.post(URL, data).status_code == 302
    deployment = Deployment.objects.get()
    assert deployment.spec["code_s3"] == {"bucket": "orders-artifacts", "key": "orders/1.zip"}
    assert "code_sha256" not in deployment.spec
    assert not CodeArtifact.objects.exists()


def test_update_form_starts_from_the_applied_spec_and_keeps_the_code(client, personas, aws_clean):
    instance = deployed(personas)
    client.force_login(personas["alice"])
    page = client.get(UPDATE).content.decode()
    assert "LOG_LEVEL=debug" in page
    assert 'name="reserved_concurrency" value="5"' in page

    response = client.post(UPDATE, update_data(memory_size="256"))
    assert response.status_code == 302
    deployment = Deployment.objects.filter(action="update").get()
    assert deployment.spec["code_sha256"] == instance.applied_spec["code_sha256"]
    lines = [line for step in deployment.plan for line in step["details"]]
    assert "memory 128 → 256 MB" in lines
    assert [step["summary"] for step in deployment.plan] == [
        "Update function configuration",
        "Publish a new version and point live at it",
    ]


def test_update_with_new_source_replaces_the_code(client, personas, aws_clean):
    instance = deployed(personas)
    client.force_login(personas["alice"])
    source = "def handler(event, context):\n    return 2\n"
    assert client.post(UPDATE, update_data(source=source)).status_code == 302
    deployment = Deployment.objects.filter(action="update").get()
    assert deployment.spec["code_sha256"] != instance.applied_spec["code_sha256"]
    assert deployment.plan[0]["summary"] == "Update function code"


def test_bad_update_is_shown_next_to_the_field(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    response = client.post(UPDATE, update_data(event_bus="orders-bus", event_pattern="{oops"))
    assert response.status_code == 400
    assert "not valid JSON" in field_errors(response, "event_pattern")[0]
    assert not Deployment.objects.filter(action="update").exists()


def test_scale_form_plans_only_the_concurrency(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    response = client.post(SCALE, {"reserved_concurrency": "8", "provisioned_concurrency": "0"})
    assert response.status_code == 302
    deployment = Deployment.objects.filter(action="scale").get()
    assert deployment.plan == [
        {"summary": "Set reserved concurrency", "details": ["reserved concurrency 5 → 8"]}
    ]
    assert deployment.spec["memory_size"] == 128


def test_negative_scale_is_refused_next_to_the_field(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    response = client.post(SCALE, {"reserved_concurrency": "-3", "provisioned_concurrency": "0"})
    assert response.status_code == 400
    assert "greater than or equal to 0" in field_errors(response, "reserved_concurrency")[0]
    assert not Deployment.objects.filter(action="scale").exists()


@pytest.mark.parametrize("url", [UPDATE, SCALE])
def test_update_and_scale_need_login_and_the_owner_team(client, personas, aws_clean, url):
    deployed(personas)
    response = client.post(url, {"reserved_concurrency": "8"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.force_login(personas["charlie"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reserved_concurrency": "8"}).status_code == 403
    assert not Deployment.objects.exclude(action="create").exists()


S3_SPEC = {
    "kind": "lambda",
    "runtime": "python3.12",
    "handler": "app.handler",
    "memory_size": 128,
    "timeout": 10,
    "architecture": "x86_64",
    "description": "",
    "environment": {},
    "code_s3": {"bucket": "orders-artifacts", "key": "orders.zip"},
    "triggers": {
        "s3": [
            {
                "bucket": "orders-uploads",
                "events": ["s3:ObjectRemoved:*"],
                "prefix": "",
                "suffix": "",
            }
        ]
    },
}


def bound_update(spec, **overrides):
    from deployments.forms.lambda_ import LambdaUpdateForm

    initial = LambdaUpdateForm(spec=spec).initial
    data = {k: "" if v is None else v for k, v in initial.items()}
    data.update(overrides)
    return LambdaUpdateForm(data, spec=spec)


def test_update_form_round_trips_an_s3_spec_unchanged():
    form = bound_update(S3_SPEC)
    assert form.is_valid(), form.errors
    assert form.cleaned_data.get("code") is None
    spec = form.spec()
    assert spec["code_s3"] == S3_SPEC["code_s3"]
    assert spec["triggers"]["s3"] == [
        {"bucket": "orders-uploads", "events": ["s3:ObjectRemoved:*"], "prefix": "", "suffix": ""}
    ]
    assert spec["reserved_concurrency"] is None and spec["provisioned_concurrency"] == 0


def test_typed_source_replaces_code_from_s3():
    form = bound_update(S3_SPEC, source="def handler(e, c):\n    return 3\n")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["code"]  # the view stores it and sets code_sha256
    assert "code_s3" not in form.spec()


def test_scale_form_changes_only_the_numbers():
    from deployments.forms.lambda_ import LambdaScaleForm

    form = LambdaScaleForm(
        {"reserved_concurrency": "7", "provisioned_concurrency": "2"}, spec=S3_SPEC
    )
    assert form.is_valid(), form.errors
    assert form.spec() == {
        **S3_SPEC,
        "reserved_concurrency": 7,
        "provisioned_concurrency": 2,
        "triggers": {**S3_SPEC["triggers"], "eventbridge": []},
    }
