"""Discovery and adoption against the AWS emulator: an unmanaged Lambda function is found,
adopted into the catalog (ARN + observed spec), tagged, and no longer listed."""

import io
import json
import zipfile

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service, ServiceInstance
from interop import discovery
from monitoring.targets import target_for
from portal.aws import aws_client

pytestmark = pytest.mark.integration


def make_unmanaged_function(name: str = "legacy-billing") -> str:
    """A function created behind Slipway's back, straight in the emulator."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = aws_client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return aws_client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        MemorySize=384,
        Timeout=20,
        Description="made by hand",
        Environment={"Variables": {"MODE": "legacy"}},
    )["FunctionArn"]


def test_unmanaged_lambda_is_discovered_and_adopted(client, personas, aws_clean):
    arn = make_unmanaged_function()
    aws_client("lambda").tag_resource(Resource=arn, Tags={"team": "billing"})
    # A function Slipway manages (it has the tag) is not listed.
    managed = make_unmanaged_function("orders-dev")
    aws_client("lambda").tag_resource(Resource=managed, Tags={"slipway:service": "orders"})

    client.force_login(personas["alice"])
    page = client.get(reverse("interop:discovery"), {"environment": "dev"})
    assert page.status_code == 200
    found = page.context["found"]
    assert [(f.kind, f.name, f.adoptable) for f in found] == [("lambda", "legacy-billing", True)]
    assert "legacy-billing" in page.content.decode()

    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {
            "kind": "lambda",
            "name": "legacy-billing",
            "slug": "billing",
            "owner": personas["payments"].pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[-500:]
    # The service page says what was adopted as what, with a link to the service.
    shown = client.get(response["Location"]).content.decode()
    url = reverse("catalog:service_detail", args=["billing"])
    assert f'Adopted legacy-billing as <a href="{url}">billing</a>.' in shown
    service = Service.objects.get(slug="billing")
    assert (service.owner, service.kind, service.description) == (
        personas["payments"],
        "lambda",
        "made by hand",
    )
    instance = ServiceInstance.objects.get(service=service, environment=personas["dev"])
    assert instance.resources["function_arn"] == arn
    assert instance.status == ServiceInstance.Status.HEALTHY
    spec = instance.applied_spec
    assert (spec["runtime"], spec["handler"], spec["memory_size"], spec["timeout"]) == (
        "python3.11",
        "app.handler",
        384,
        20,
    )
    assert spec["environment"] == {"MODE": "legacy"} and len(spec["code_sha256"]) == 64
    # Metrics and logs are looked up under the function's own name.
    assert target_for(instance).log_group == "/aws/lambda/legacy-billing"

    # AWS side: the function now carries Slipway's tags (its own tags kept) ...
    tags = aws_client("lambda").list_tags(Resource=arn)["Tags"]
    assert tags["slipway:service"] == "billing" and tags["slipway:team"] == "payments"
    assert tags["team"] == "billing"
    # ... so discovery no longer lists it.
    assert discovery.discover_unmanaged(environment=personas["dev"]) == []

    event = AuditEvent.objects.get(action="resource.adopt")
    assert event.actor == personas["alice"] and event.environment == personas["dev"]
    assert len(event.aws_request_ids) == 2


def test_adopting_for_another_team_is_refused(client, personas, aws_clean):
    make_unmanaged_function()
    client.force_login(personas["charlie"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {
            "kind": "lambda",
            "name": "legacy-billing",
            "slug": "billing",
            "owner": personas["payments"].pk,
        },
    )
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert not Service.objects.exists()
    assert (
        "slipway:service"
        not in aws_client("lambda").list_tags(
            Resource=aws_client("lambda").get_function(FunctionName="legacy-billing")[
                "Configuration"
            ]["FunctionArn"]
        )["Tags"]
    )


def test_adopting_a_missing_function_shows_the_aws_error(client, personas, aws_clean):
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": "lambda", "name": "ghost", "slug": "ghost", "owner": personas["payments"].pk},
    )
    assert response.status_code == 400
    assert "ResourceNotFoundException" in " ".join(response.context["form"].errors["name"])
    assert not Service.objects.exists()


def test_ecs_and_api_gateway_resources_are_listed(personas, aws_clean):
    apigw = aws_client("apigateway")
    apigw.create_rest_api(name="legacy-rest")
    apigw.create_rest_api(name="ours", tags={"slipway:service": "ours"})
    aws_client("apigatewayv2").create_api(Name="legacy-http", ProtocolType="HTTP")
    found = {
        (f.kind, f.title, f.detail, f.adoptable)
        for f in discovery.discover_unmanaged(environment=personas["dev"])
    }
    # Without a stage an API serves nothing, so there is nothing to adopt yet.
    assert found == {
        ("apigateway", "legacy-rest", "REST API, no stage", False),
        ("apigateway", "legacy-http", "HTTP API, no stage", False),
    }


def test_adopting_a_kind_that_is_only_listed_is_refused(client, personas, aws_clean):
    aws_client("apigateway").create_rest_api(name="legacy-rest")
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": "sns", "name": "legacy-rest", "slug": "rest", "owner": personas["payments"].pk},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["kind"] == [
        "Slipway cannot adopt this kind of resource."
    ]
    assert not Service.objects.exists()
