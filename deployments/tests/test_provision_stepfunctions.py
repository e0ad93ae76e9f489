"""Step Functions workflows through the normal deployment path, witnessed in the emulator: the
definition with Lambda services resolved by name, a role that may invoke exactly those, updates,
revert, delete; and the Executions tab (list, history, audited start)."""

import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from conftest import field_errors, launch_lambda, wait_for
from deployments import services
from deployments.errors import PlanFailed
from deployments.models import Deployment
from deployments.tests.test_provision_ecs import run_inline
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:checkout-dev"


def definition(*targets: str) -> dict:
    states = {}
    names = [f"Call{i}" for i in range(len(targets))] + ["Done"]
    for i, target in enumerate(targets):
        states[names[i]] = {"Type": "Task", "Resource": target, "Next": names[i + 1]}
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": names[0], "States": states}


def workflow_spec(*targets: str, type_="STANDARD") -> dict:
    return {"kind": "stepfunctions", "type": type_, "definition": definition(*targets)}


def deployed_lambda(personas, slug):
    deployment = launch_lambda(personas, slug)
    done = run_inline(deployment)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    done.instance.refresh_from_db()
    return done.instance


def launch(personas, spec) -> Deployment:
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="checkout",
        kind="stepfunctions",
        environment=personas["dev"],
        spec=spec,
        confirm=True,
    )
    return run_inline(deployment)


def role_policy() -> list[str]:
    document = aws_client("iam").get_role_policy(
        RoleName="slipway-dev-checkout-sfn", PolicyName="slipway-invoke"
    )["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return document["Statement"][0]["Resource"]


def test_create_update_revert_and_delete(personas, aws_clean):
    charge = deployed_lambda(personas, "charge")
    ship = deployed_lambda(personas, "ship")
    charge_alias = charge.resources["alias_arn"]
    ship_alias = ship.resources["alias_arn"]

    created = launch(personas, workflow_spec("slipway:lambda:charge"))
    assert created.status == Deployment.Status.SUCCEEDED, created.error
    summaries = [c["summary"] for c in created.plan]
    assert summaries == [
        "Create execution role slipway-dev-checkout-sfn",
        "Allow the role to invoke 1 Lambda function",
        "Create standard state machine checkout-dev",
    ]
    described = aws_client("stepfunctions").describe_state_machine(stateMachineArn=ARN)
    assert json.loads(described["definition"])["States"]["Call0"]["Resource"] == charge_alias
    assert described["roleArn"].endswith(":role/slipway-dev-checkout-sfn")
    assert role_policy() == [charge_alias]
    trust = aws_client("iam").get_role(RoleName="slipway-dev-checkout-sfn")["Role"]
    assert "states.amazonaws.com" in json.dumps(trust["AssumeRolePolicyDocument"])

    # Update: a second task; the role may now invoke exactly both.
    instance = created.instance
    instance.refresh_from_db()
    update = services.deployment_request(
        instance=instance,
        spec=workflow_spec("slipway:lambda:charge", "slipway:lambda:ship"),
        user=personas["alice"],
    )
    assert run_inline(update).status == Deployment.Status.SUCCEEDED
    assert sorted(role_policy()) == sorted([charge_alias, ship_alias])
    assert [c["summary"] for c in update.plan][-1] == "Update the state machine definition"

    # Revert to the first definition: one task, one function allowed.
    instance.refresh_from_db()
    revert = services.deployment_revert(deployment=created, user=personas["alice"])
    services.deployment_confirm(deployment=revert, user=personas["alice"])
    assert run_inline(revert).status == Deployment.Status.SUCCEEDED
    described = aws_client("stepfunctions").describe_state_machine(stateMachineArn=ARN)
    assert sorted(json.loads(described["definition"])["States"]) == ["Call0", "Done"]
    assert role_policy() == [charge_alias]

    # Delete: the machine and its own role go; the Lambda functions stay.
    instance.refresh_from_db()
    deleting = services.deployment_request(
        instance=instance, spec=instance.applied_spec, user=personas["alice"], action="delete"
    )
    assert run_inline(deleting).status == Deployment.Status.SUCCEEDED
    assert not aws_client("stepfunctions").list_state_machines()["stateMachines"]
    roles = [r["RoleName"] for r in aws_client("iam").list_roles()["Roles"]]
    assert "slipway-dev-checkout-sfn" not in roles
    assert aws_client("lambda").get_function(FunctionName="charge-dev")


def test_a_lambda_service_not_deployed_there_fails_the_plan(personas, aws_clean):
    with pytest.raises(PlanFailed, match="calls nowhere, which is not a Lambda service"):
        services.service_launch(
            user=personas["alice"],
            owner=personas["payments"],
            slug="checkout",
            kind="stepfunctions",
            environment=personas["dev"],
            spec=workflow_spec("slipway:lambda:nowhere"),
            confirm=True,
        )
    assert not aws_client("stepfunctions").list_state_machines()["stateMachines"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "The definition is not valid JSON"),
        ('{"StartAt": "A", "States": {"A": {"Type": "Jump"}}}', "unknown state type 'Jump'"),
        ('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}', "Next names no"),
        ('{"StartAt": "Z", "States": {"A": {"Type": "Succeed"}}}', "StartAt must name"),
        ('{"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}', "needs a Resource"),
        ("[" * 5000 + "]" * 5000, "nested deeper"),
    ],
)
def test_a_bad_definition_is_an_error_next_to_the_field(client, personas, text, message):
    client.force_login(personas["alice"])
    response = client.post(
        reverse("deployments:service_new", args=["stepfunctions"]),
        {
            "name": "checkout",
            "owner": personas["payments"].pk,
            "environment": personas["dev"].pk,
            "type": "STANDARD",
            "definition": text,
        },
    )
    assert response.status_code == 400
    assert message in " ".join(field_errors(response, "definition"))
    assert not Deployment.objects.exists()


def test_executions_tab_lists_runs_and_starts_one_audited(client, personas, aws_clean):
    deployed_lambda(personas, "charge")
    assert launch(personas, workflow_spec("slipway:lambda:charge")).status == "succeeded"
    url = reverse("monitoring:executions", args=["checkout"])

    client.force_login(personas["charlie"])  # another team: reads, cannot start
    assert "Start execution" not in client.get(url).content.decode()
    start = reverse("monitoring:execution_start", args=["checkout"])
    assert client.post(start, {"input": "{}"}).status_code == 403
    assert client.get(start).status_code == 405

    client.force_login(personas["bob"])
    response = client.post(start + "?env=dev", {"input": '{"order": 7}'})
    assert response.status_code == 302
    name = response["Location"].split("/executions/")[1].split("/")[0]
    audit = AuditEvent.objects.get(action="workflow.execution.start")
    assert audit.actor == personas["bob"] and audit.after["name"] == name

    def finished():
        html = client.get(url).content.decode()
        return html if 'data-status="SUCCEEDED"' in html else None

    html = wait_for(finished, timeout=30, message="the execution did not succeed")
    assert name in html
    history = client.get(response["Location"]).content.decode()
    assert "ExecutionSucceeded" in history and "LambdaFunctionSucceeded" in history

    bad = client.post(start + "?env=dev", {"input": "{oops"}, follow=True)
    assert "The input is not valid JSON" in bad.content.decode()
    assert AuditEvent.objects.filter(action="workflow.execution.start").count() == 1
