"""A Lambda service that uses a DynamoDB table gets its own role with a least-privilege policy for
exactly that table, witnessed in IAM; the dependency shows in the catalog both ways; the table
cannot be deleted while a service uses it."""

import json

import pytest
from django.urls import reverse

from catalog.models import Service
from conftest import field_errors, lambda_spec, launch_lambda
from deployments import services
from deployments.errors import PlanFailed
from deployments.models import Deployment
from deployments.tests.test_provision_dynamodb import table_spec
from deployments.tests.test_provision_ecs import run_inline
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def deploy_table(personas, slug="orders-db"):
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug=slug,
        kind="dynamodb",
        environment=personas["dev"],
        spec=table_spec(deletion_protection=False),
        confirm=True,
    )
    done = run_inline(deployment)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    done.instance.refresh_from_db()
    return done.instance


def change(personas, instance, spec, action="update") -> Deployment:
    instance.refresh_from_db()
    deployment = services.deployment_request(
        instance=instance, spec=spec, user=personas["alice"], action=action
    )
    return run_inline(deployment)


def table_policy(role: str) -> dict:
    document = aws_client("iam").get_role_policy(RoleName=role, PolicyName="slipway-tables")[
        "PolicyDocument"
    ]
    return json.loads(document) if isinstance(document, str) else document


def function_role(name: str) -> str:
    return aws_client("lambda").get_function(FunctionName=name)["Configuration"]["Role"]


def test_a_function_gets_exactly_the_table_access_it_declares(personas, aws_clean):
    table = deploy_table(personas)
    table_arn = table.resources["table_arn"]
    grant = [{"table": "orders-db", "access": "read_write"}]

    created = run_inline(launch_lambda(personas, "orders", tables=grant))
    assert created.status == Deployment.Status.SUCCEEDED, created.error
    plan = {c["summary"]: c["details"] for c in created.plan}
    assert "Create IAM execution role slipway-dev-orders-fn" in plan
    assert plan["Let the function use 1 DynamoDB table"][0] == "read-write on table orders-db"

    assert function_role("orders-dev").endswith(":role/slipway-dev-orders-fn")
    [statement] = table_policy("slipway-dev-orders-fn")["Statement"]
    assert statement["Resource"] == [table_arn, f"{table_arn}/index/*"]
    assert "dynamodb:PutItem" in statement["Action"] and "dynamodb:Query" in statement["Action"]
    assert not any(a.endswith(":*") or a == "*" for a in statement["Action"])

    # Another function keeps the shared role: no access leaks to it.
    plain = run_inline(launch_lambda(personas, "reports"))
    assert plain.status == Deployment.Status.SUCCEEDED
    assert function_role("reports-dev").endswith(":role/slipway-dev-lambda-exec")

    # The catalog shows the dependency both ways.
    orders, db = Service.objects.get(slug="orders"), Service.objects.get(slug="orders-db")
    assert list(orders.depends_on.values_list("slug", flat=True)) == ["orders-db"]
    assert list(db.dependents.values_list("slug", flat=True)) == ["orders"]

    # Read only: the write actions go.
    instance = created.instance
    spec = {**instance.applied_spec}
    read = change(
        personas, instance, {**spec, "tables": [{"table": "orders-db", "access": "read"}]}
    )
    assert read.status == Deployment.Status.SUCCEEDED, read.error
    [statement] = table_policy("slipway-dev-orders-fn")["Statement"]
    assert "dynamodb:PutItem" not in statement["Action"]

    # The table cannot be deleted while orders uses it.
    table.refresh_from_db()
    with pytest.raises(PlanFailed, match="orders uses orders-db"):
        services.deployment_plan(
            instance=table, spec=table.applied_spec, user=personas["alice"], action="delete"
        )

    # No tables any more: back to the shared role, the own role deleted, dependency gone.
    instance.refresh_from_db()
    back = change(personas, instance, {**instance.applied_spec, "tables": []})
    assert back.status == Deployment.Status.SUCCEEDED, back.error
    assert function_role("orders-dev").endswith(":role/slipway-dev-lambda-exec")
    roles = [r["RoleName"] for r in aws_client("iam").list_roles()["Roles"]]
    assert "slipway-dev-orders-fn" not in roles
    assert not orders.depends_on.exists()
    table.refresh_from_db()
    deleting = services.deployment_request(
        instance=table, spec=table.applied_spec, user=personas["alice"], action="delete"
    )
    assert run_inline(deleting).status == Deployment.Status.SUCCEEDED


def test_a_table_not_deployed_in_the_environment_fails_the_plan(personas, aws_clean):
    with pytest.raises(PlanFailed, match="nowhere-db is not a DynamoDB table deployed in dev"):
        launch_lambda(personas, "orders", tables=[{"table": "nowhere-db", "access": "read"}])
    assert "orders-dev" not in [
        f["FunctionName"] for f in aws_client("lambda").list_functions()["Functions"]
    ]


def test_the_lambda_form_takes_tables_and_shows_errors_by_line(client, personas, aws_clean):
    deploy_table(personas)
    client.force_login(personas["alice"])
    url = reverse("deployments:service_new", args=["lambda"])
    data = {
        "name": "orders",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": "def handler(event, context):\n    return 1\n",
        "memory_size": "128",
        "timeout": "3",
        "architecture": "x86_64",
    }
    response = client.post(url, {**data, "tables": "orders-db: everything"})
    assert field_errors(response, "tables") == [
        "Line 1: write table-service: read or table-service: read_write."
    ]
    response = client.post(url, {**data, "tables": "orders-db: read\norders-db: read_write"})
    assert field_errors(response, "tables") == ["Name each table once, with one access level."]
    response = client.post(url, {**data, "tables": "orders-db: read_write"})
    assert response.status_code == 302
    deployment = Deployment.objects.get(action="create", instance__service__slug="orders")
    assert deployment.spec["tables"] == [{"table": "orders-db", "access": "read_write"}]
    assert any("DynamoDB table" in c["summary"] for c in deployment.plan)


def test_specs_without_tables_are_stored_as_before():
    from deployments.specs import parse_spec

    assert "tables" not in parse_spec(lambda_spec()).to_json()


def test_an_ecs_service_gets_a_task_role_for_its_tables(personas, aws_clean):
    from deployments.tests.test_provision_ecs import ecs_spec

    table = deploy_table(personas)
    table_arn = table.resources["table_arn"]
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="ecs",
        environment=personas["dev"],
        spec=ecs_spec(tables=[{"table": "orders-db", "access": "read"}]),
        confirm=True,
    )
    done = run_inline(deployment)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    assert "Let the service use 1 DynamoDB table" in [c["summary"] for c in done.plan]

    ecs = aws_client("ecs")
    service = ecs.describe_services(cluster="slipway-dev", services=["orders-dev"])["services"][0]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    assert task["taskDefinition"]["taskRoleArn"].endswith(":role/slipway-dev-orders-task")
    [statement] = table_policy("slipway-dev-orders-task")["Statement"]
    assert statement["Resource"] == [table_arn, f"{table_arn}/index/*"]
    assert "dynamodb:PutItem" not in statement["Action"]
    assert list(
        Service.objects.get(slug="orders-db").dependents.values_list("slug", flat=True)
    ) == ["orders"]

    # No tables: a revision without a task role, and the role is gone.
    instance = done.instance
    instance.refresh_from_db()
    back = change(personas, instance, {**instance.applied_spec, "tables": []})
    assert back.status == Deployment.Status.SUCCEEDED, back.error
    service = ecs.describe_services(cluster="slipway-dev", services=["orders-dev"])["services"][0]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    assert not task["taskDefinition"].get("taskRoleArn")
    roles = [r["RoleName"] for r in aws_client("iam").list_roles()["Roles"]]
    assert "slipway-dev-orders-task" not in roles
