"""Lambda lifecycle through Slipway's real paths: the worker, the engine, code from S3, and
provisioned concurrency on alias live."""

import datetime

import pytest
from botocore.stub import Stubber

from conftest import wait_for
from deployments import engine, services
from deployments.forms.lambda_ import deterministic_zip
from deployments.models import Deployment
from deployments.provisioners import lambda_
from deployments.provisioners.base import Change
from deployments.tests.test_provision_lambda import base_spec, context, deploy, replan
from deployments.tests.test_provision_lambda import instance as instance  # noqa: F401 — fixture
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def finished(deployment_id):
    deployment = Deployment.objects.get(pk=deployment_id)
    return deployment if deployment.is_finished else None


def through_worker(deployment: Deployment) -> Deployment:
    done = wait_for(lambda: finished(deployment.pk), message="deployment did not finish")
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    return done


@pytest.mark.django_db(transaction=True)
def test_create_update_scale_delete_through_the_worker(personas, aws_clean, celery_worker):
    s3, events, lam = aws_client("s3"), aws_client("events"), aws_client("lambda")
    s3.create_bucket(Bucket="orders-uploads")
    events.create_event_bus(Name="orders-bus")
    spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 128,
        "timeout": 5,
        "architecture": "x86_64",
        "description": "",
        "environment": {},
        "reserved_concurrency": 4,
        "provisioned_concurrency": 0,
        "triggers": {
            "s3": [{"bucket": "orders-uploads", "events": ["s3:ObjectCreated:*"]}],
            "eventbridge": [{"bus": "orders-bus", "pattern": {"detail-type": ["OrderPlaced"]}}],
        },
    }
    created = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="lambda",
        environment=personas["dev"],
        spec=spec,
        code=deterministic_zip("app.py", SOURCE),
        confirm=True,
    )
    created = through_worker(created)
    instance = created.instance
    instance.refresh_from_db()
    alias = lam.get_alias(FunctionName="orders-dev", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert instance.resources["alias_arn"] == alias["AliasArn"]
    [rule] = events.list_rules(EventBusName="orders-bus")["Rules"]
    targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="orders-bus")
    assert [t["Arn"] for t in targets["Targets"]] == [alias["AliasArn"]]
    notifications = s3.get_bucket_notification_configuration(Bucket="orders-uploads")
    assert [n["LambdaFunctionArn"] for n in notifications["LambdaFunctionConfigurations"]] == [
        alias["AliasArn"]
    ]

    # Update: new code → version 2, alias moved; the log tells the story step by step.
    new_code = services.code_artifact_store(content=deterministic_zip("app.py", SOURCE + "# v2\n"))
    updated = services.deployment_request(
        instance=instance,
        spec={**instance.applied_spec, "code_sha256": new_code.sha256},
        user=personas["bob"],
    )
    updated = through_worker(updated)
    assert lam.get_alias(FunctionName="orders-dev", Name="live")["FunctionVersion"] == "2"
    steps = list(updated.steps.values_list("name", "message"))
    assert ("Update function code", f"code {new_code.sha256[:12]} uploaded") in steps
    assert any(
        name == "Publish a new version and point live at it"
        and message == "published version 2; alias live → version 2 (was 1)"
        for name, message in steps
    ), steps

    # Scale: reserved concurrency 4 → 6, nothing else touched.
    instance.refresh_from_db()
    scaled = services.deployment_request(
        instance=instance,
        spec={**instance.applied_spec, "reserved_concurrency": 6},
        user=personas["alice"],
        action=Deployment.Action.SCALE,
    )
    through_worker(scaled)
    concurrency = lam.get_function_concurrency(FunctionName="orders-dev")
    assert concurrency["ReservedConcurrentExecutions"] == 6
    versions = lam.list_versions_by_function(FunctionName="orders-dev")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    # Delete: triggers, alias and function go; the bus, the bucket and the role stay.
    instance.refresh_from_db()
    deleted = services.deployment_request(
        instance=instance,
        spec=instance.applied_spec,
        user=personas["alice"],
        action=Deployment.Action.DELETE,
    )
    through_worker(deleted)
    assert lam.list_functions()["Functions"] == []
    assert events.list_rules(EventBusName="orders-bus")["Rules"] == []
    notifications = s3.get_bucket_notification_configuration(Bucket="orders-uploads")
    assert notifications.get("LambdaFunctionConfigurations", []) == []
    assert aws_client("iam").get_role(RoleName="slipway-dev-lambda-exec")["Role"]


def test_provisioned_concurrency_is_set_on_the_alias_and_removed(personas, aws_clean):
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="lambda",
        environment=personas["dev"],
        spec={**base_spec(), "reserved_concurrency": 10, "provisioned_concurrency": 2},
        confirm=True,
    )
    lines = [line for step in deployment.plan for line in step["details"]]
    assert "provisioned concurrency (alias live) 0 → 2" in lines
    lease = engine.deployment_claim(deployment_id=deployment.pk)
    engine.deployment_execute(deployment_id=deployment.pk, lease=lease)

    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.error
    lam = aws_client("lambda")
    config = lam.get_provisioned_concurrency_config(FunctionName="orders-dev", Qualifier="live")
    assert config["RequestedProvisionedConcurrentExecutions"] == 2
    assert config["Status"] == "READY"

    # Back to 0: the config is removed from the alias.
    instance = deployment.instance
    instance.refresh_from_db()
    ctx_spec = {**deployment.spec, "provisioned_concurrency": 0}
    [change] = replan(instance, ctx_spec)
    assert change.details == ("provisioned concurrency (alias live) 2 → 0",)
    lambda_.apply(context(instance, ctx_spec), change)
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName="orders-dev", Qualifier="live")


def test_provisioned_concurrency_on_real_aws_is_set_on_the_alias(instance, aws_clean):  # noqa: F811
    # The emulator allocates provisioned capacity at once; AWS takes a while. Its documented
    # answers are stubbed here to show wait() holds on until the capacity is READY.
    spec = {**base_spec(), "provisioned_concurrency": 3}
    ctx = context(instance, spec)
    lam = aws_client("lambda", environment=instance.environment, actor="alice")
    with Stubber(lam) as stub:
        stub.add_response(
            "put_provisioned_concurrency_config",
            {"RequestedProvisionedConcurrentExecutions": 3, "Status": "IN_PROGRESS"},
            {
                "FunctionName": "orders-dev",
                "Qualifier": "live",
                "ProvisionedConcurrentExecutions": 3,
            },
        )
        message = lambda_.apply(ctx, Change("concurrency.provisioned", "Set"))
        assert message == "provisioned concurrency 3 requested on alias live"

        active = {"State": "Active", "LastUpdateStatus": "Successful"}
        for status in ("IN_PROGRESS", "READY"):
            stub.add_response("get_function_configuration", active, {"FunctionName": "orders-dev"})
            stub.add_response(
                "get_provisioned_concurrency_config",
                {
                    "RequestedProvisionedConcurrentExecutions": 3,
                    "Status": status,
                    "LastModified": datetime.datetime.now(datetime.UTC).isoformat(),
                },
                {"FunctionName": "orders-dev", "Qualifier": "live"},
            )
        assert lambda_.wait(ctx).detail == "Provisioned concurrency IN_PROGRESS"
        assert lambda_.wait(ctx).done
        stub.assert_no_pending_responses()


def test_code_from_s3_is_redeployed_when_the_object_changes(instance, aws_clean):  # noqa: F811
    s3, lam = aws_client("s3"), aws_client("lambda")
    s3.create_bucket(Bucket="orders-artifacts")
    s3.put_object(
        Bucket="orders-artifacts", Key="orders.zip", Body=deterministic_zip("app.py", SOURCE)
    )
    spec = base_spec(code_s3={"bucket": "orders-artifacts", "key": "orders.zip"})
    del spec["code_sha256"]

    changes = deploy(instance, spec)
    assert "code: s3://orders-artifacts/orders.zip" in changes[1].details
    assert replan(instance, spec) == []

    # A new object under the same key is new code: updated, and a new version published.
    new_zip = deterministic_zip("app.py", SOURCE + "# v2\n")
    s3.put_object(Bucket="orders-artifacts", Key="orders.zip", Body=new_zip)
    assert [c.summary for c in replan(instance, spec)] == [
        "Update function code",
        "Publish a new version and point live at it",
    ]
    deploy(instance, spec)
    assert lam.get_alias(FunctionName="orders-dev", Name="live")["FunctionVersion"] == "2"
    config = lam.get_function_configuration(FunctionName="orders-dev", Qualifier="2")
    assert config["CodeSize"] == len(new_zip)
    assert replan(instance, spec) == []
