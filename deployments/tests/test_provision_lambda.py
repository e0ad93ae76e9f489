"""The Lambda provisioner against the emulator over HTTP: versions, alias, concurrency, triggers.

Each test drives observe → plan → apply → wait the way the engine does, then describes the AWS
resources through the emulator (never Slipway's own rows) to check what a user would see.
"""

import json

import pytest

from catalog import services as catalog_services
from deployments.forms.lambda_ import deterministic_zip
from deployments.models import CodeArtifact
from deployments.provisioners import lambda_
from deployments.provisioners.base import Context
from deployments.services import code_artifact_store
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"
FUNCTION = "orders-dev"


def store_code(source: str = SOURCE) -> str:
    return code_artifact_store(content=deterministic_zip("app.py", source)).sha256


def base_spec(**overrides) -> dict:
    spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 128,
        "timeout": 10,
        "architecture": "x86_64",
        "description": "",
        "environment": {},
        "code_sha256": store_code(),
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def instance(personas):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders", kind="lambda"
    )
    return catalog_services.instance_get_or_create(service=service, environment=personas["dev"])


def context(instance, spec: dict) -> Context:
    def record_resource(role, arn):
        instance.resources[role] = arn
        instance.save(update_fields=["resources"])

    return Context(
        instance=instance,
        spec=spec,
        actor="alice",
        record_resource=record_resource,
        artifact_loader=lambda sha: bytes(CodeArtifact.objects.get(sha256=sha).content),
    )


def deploy(instance, spec: dict) -> list:
    """What the engine does for one deployment; returns the plan it carried out."""
    ctx = context(instance, spec)
    changes = lambda_.plan(spec, lambda_.observe(ctx))
    for change in changes:
        lambda_.apply(ctx, change)
    assert lambda_.wait(ctx).done
    return changes


def teardown(instance, spec: dict) -> list:
    ctx = context(instance, spec)
    changes = lambda_.plan_delete(lambda_.observe(ctx))
    for change in changes:
        lambda_.apply(ctx, change)
    assert lambda_.wait_deleted(ctx).done
    return changes


def replan(instance, spec: dict) -> list:
    return lambda_.plan(spec, lambda_.observe(context(instance, spec)))


def details(changes) -> list[str]:
    return [line for change in changes for line in change.details]


def published_versions() -> list[str]:
    versions = aws_client("lambda").list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    return [v["Version"] for v in versions if v["Version"] != "$LATEST"]


def live_version() -> str:
    return aws_client("lambda").get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"]


def test_create_publishes_a_version_behind_the_live_alias(instance, aws_clean):
    spec = base_spec()
    changes = deploy(instance, spec)

    assert [c.summary for c in changes][:3] == [
        "Create IAM execution role slipway-dev-lambda-exec",
        "Create Lambda function orders-dev",
        "Publish a new version and point live at it",
    ]
    assert published_versions() == ["1"]
    assert live_version() == "1"
    assert instance.resources["alias_arn"].endswith(":function:orders-dev:live")
    # Nothing left to do, and applying again creates nothing twice.
    assert replan(instance, spec) == []
    deploy(instance, spec)
    assert published_versions() == ["1"]


def test_old_specs_without_the_new_keys_stay_valid(instance, aws_clean):
    spec = base_spec()
    deploy(instance, spec)
    assert lambda_.scale_values(spec) == {
        "reserved_concurrency": None,
        "provisioned_concurrency": None,
    }
    extended = {**spec, "reserved_concurrency": None, "provisioned_concurrency": 0}
    assert replan(instance, extended) == []


def test_code_update_publishes_a_new_version_and_moves_the_alias(instance, aws_clean):
    spec = base_spec()
    deploy(instance, spec)
    new_spec = {**spec, "code_sha256": store_code(SOURCE + "# v2\n"), "memory_size": 256}

    changes = replan(instance, new_spec)
    assert [c.summary for c in changes] == [
        "Update function code",
        "Update function configuration",
        "Publish a new version and point live at it",
    ]
    assert "memory 128 → 256 MB" in details(changes)
    assert "alias live version 1 → new version" in details(changes)

    deploy(instance, new_spec)
    assert published_versions() == ["1", "2"]
    assert live_version() == "2"
    version = aws_client("lambda").get_function_configuration(FunctionName=FUNCTION, Qualifier="2")
    assert version["MemorySize"] == 256
    assert replan(instance, new_spec) == []


def test_alias_moved_elsewhere_is_put_back(instance, aws_clean):
    spec = base_spec()
    deploy(instance, spec)
    deploy(instance, {**spec, "memory_size": 256})
    aws_client("lambda").update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")

    changes = replan(instance, {**spec, "memory_size": 256})
    assert [c.summary for c in changes] == ["Point alias live at version 2"]
    deploy(instance, {**spec, "memory_size": 256})
    assert live_version() == "2"


def test_reserved_concurrency_is_set_scaled_and_removed(instance, aws_clean):
    lam = aws_client("lambda")
    spec = base_spec(reserved_concurrency=5)
    deploy(instance, spec)
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 5

    scaled = {**spec, "reserved_concurrency": 10}
    changes = replan(instance, scaled)
    # Scaling touches concurrency only: no new version for a number that is not versioned.
    assert [c.key for c in changes] == ["concurrency.reserved"]
    assert details(changes) == ["reserved concurrency 5 → 10"]
    deploy(instance, scaled)
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 10
    assert published_versions() == ["1"]

    unreserved = {**spec, "reserved_concurrency": None}
    assert details(replan(instance, unreserved)) == ["reserved concurrency 10 → unreserved"]
    deploy(instance, unreserved)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=FUNCTION)


def test_s3_trigger_keeps_other_entries_of_the_bucket(instance, aws_clean):
    s3, lam = aws_client("s3"), aws_client("lambda")
    s3.create_bucket(Bucket="orders-uploads")
    # Someone else's entry in the same bucket, which Slipway must leave alone.
    role = aws_client("iam").create_role(RoleName="other", AssumeRolePolicyDocument="{}")
    lam.create_function(
        FunctionName="other",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": deterministic_zip("app.py", SOURCE)},
    )
    other = {
        "Id": "theirs",
        "LambdaFunctionArn": lam.get_function(FunctionName="other")["Configuration"]["FunctionArn"],
        "Events": ["s3:ObjectRemoved:*"],
    }
    s3.put_bucket_notification_configuration(
        Bucket="orders-uploads",
        NotificationConfiguration={"LambdaFunctionConfigurations": [other]},
    )
    trigger = {"bucket": "orders-uploads", "events": ["s3:ObjectCreated:*"], "prefix": "in/"}
    spec = base_spec(triggers={"s3": [trigger]})

    changes = deploy(instance, spec)
    assert "new S3 trigger bucket orders-uploads events s3:ObjectCreated:* prefix 'in/'" in (
        details(changes)
    )
    entries = s3.get_bucket_notification_configuration(Bucket="orders-uploads")[
        "LambdaFunctionConfigurations"
    ]
    ours = [e for e in entries if e["Id"] != "theirs"]
    assert [e["Id"] for e in entries if e["Id"] == "theirs"] == ["theirs"]
    assert ours[0]["LambdaFunctionArn"].endswith(":function:orders-dev:live")
    assert ours[0]["Events"] == ["s3:ObjectCreated:*"]
    assert ours[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "in/"}]
    policy = json.loads(lam.get_policy(FunctionName=FUNCTION, Qualifier="live")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::orders-uploads"
    assert replan(instance, spec) == []

    # Dropping the trigger from the spec removes only Slipway's entry and its permission.
    without = base_spec()
    changes = replan(instance, without)
    assert [c.summary for c in changes] == ["Remove S3 trigger from bucket orders-uploads"]
    deploy(instance, without)
    entries = s3.get_bucket_notification_configuration(Bucket="orders-uploads")[
        "LambdaFunctionConfigurations"
    ]
    assert [e["Id"] for e in entries] == ["theirs"]
    assert replan(instance, without) == []


def test_eventbridge_rule_on_a_custom_bus(instance, aws_clean):
    events = aws_client("events")
    events.create_event_bus(Name="orders-bus")
    pattern = {"source": ["shop.orders"], "detail-type": ["OrderPlaced"]}
    spec = base_spec(triggers={"eventbridge": [{"bus": "orders-bus", "pattern": pattern}]})

    changes = deploy(instance, spec)
    assert "Add EventBridge trigger on bus orders-bus" in [c.summary for c in changes]
    [rule] = events.list_rules(EventBusName="orders-bus")["Rules"]
    assert json.loads(rule["EventPattern"]) == pattern
    targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="orders-bus")["Targets"]
    assert [t["Arn"] for t in targets] == [instance.resources["alias_arn"]]
    policy = json.loads(
        aws_client("lambda").get_policy(FunctionName=FUNCTION, Qualifier="live")["Policy"]
    )
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "events.amazonaws.com"}]
    assert replan(instance, spec) == []

    # A changed pattern is a new rule; the old one goes.
    changed = {"source": ["shop.orders"], "detail-type": ["OrderShipped"]}
    new_spec = base_spec(triggers={"eventbridge": [{"bus": "orders-bus", "pattern": changed}]})
    deploy(instance, new_spec)
    [rule] = events.list_rules(EventBusName="orders-bus")["Rules"]
    assert json.loads(rule["EventPattern"]) == changed
    assert replan(instance, new_spec) == []


def test_delete_removes_everything_the_instance_owns(instance, aws_clean):
    s3, events, lam = aws_client("s3"), aws_client("events"), aws_client("lambda")
    s3.create_bucket(Bucket="orders-uploads")
    events.create_event_bus(Name="orders-bus")
    spec = base_spec(
        reserved_concurrency=3,
        triggers={
            "s3": [{"bucket": "orders-uploads", "events": ["s3:ObjectCreated:*"]}],
            "eventbridge": [{"bus": "orders-bus", "pattern": {"source": ["shop"]}}],
        },
    )
    deploy(instance, spec)

    changes = teardown(instance, spec)
    assert [c.summary for c in changes] == [
        "Remove EventBridge trigger on bus orders-bus",
        "Remove S3 trigger from bucket orders-uploads",
        "Delete alias live",
        "Delete Lambda function orders-dev",
    ]
    assert lam.list_functions()["Functions"] == []
    assert events.list_rules(EventBusName="orders-bus")["Rules"] == []
    config = s3.get_bucket_notification_configuration(Bucket="orders-uploads")
    assert config.get("LambdaFunctionConfigurations", []) == []
    # The shared per-environment execution role stays for the other functions.
    assert aws_client("iam").get_role(RoleName="slipway-dev-lambda-exec")
    assert lambda_.plan_delete(lambda_.observe(context(instance, spec))) == []


def test_missing_bucket_is_named_in_the_plan_and_the_step_fails(instance, aws_clean):
    from botocore.exceptions import ClientError

    spec = base_spec(
        triggers={"s3": [{"bucket": "no-such-bucket", "events": ["s3:ObjectCreated:*"]}]}
    )
    deploy(instance, base_spec())
    changes = replan(instance, spec)
    assert "bucket not found" in details(changes)[0]
    with pytest.raises(ClientError, match="NoSuchBucket"):
        lambda_.apply(context(instance, spec), changes[0])


def test_architecture_changes_with_the_code(instance, aws_clean):
    spec = base_spec()
    deploy(instance, spec)
    arm = {**spec, "architecture": "arm64"}
    [change, publish] = replan(instance, arm)
    assert change.summary == "Update function code"
    assert change.details == ("architecture x86_64 → arm64",)
    # AWS changes it with UpdateFunctionCode (the emulator is patched to do the same).
    lambda_.apply(context(instance, arm), change)
    config = aws_client("lambda").get_function_configuration(FunctionName=FUNCTION)
    assert config["Architectures"] == ["arm64"]


def test_triggers_of_a_function_deleted_behind_slipways_back_are_still_removed(instance, aws_clean):
    s3, events = aws_client("s3"), aws_client("events")
    s3.create_bucket(Bucket="orders-uploads")
    events.create_event_bus(Name="orders-bus")
    spec = base_spec(
        triggers={
            "s3": [{"bucket": "orders-uploads", "events": ["s3:ObjectCreated:*"]}],
            "eventbridge": [{"bus": "orders-bus", "pattern": {"source": ["shop"]}}],
        }
    )
    deploy(instance, spec)
    aws_client("lambda").delete_function(FunctionName=FUNCTION)

    changes = teardown(instance, spec)
    assert [c.summary for c in changes] == [
        "Remove EventBridge trigger on bus orders-bus",
        "Remove S3 trigger from bucket orders-uploads",
    ]
    assert events.list_rules(EventBusName="orders-bus")["Rules"] == []
    config = s3.get_bucket_notification_configuration(Bucket="orders-uploads")
    assert config.get("LambdaFunctionConfigurations", []) == []


def test_missing_event_bus_is_named_in_the_plan_and_the_step_fails(instance, aws_clean):
    from botocore.exceptions import ClientError

    spec = base_spec(triggers={"eventbridge": [{"bus": "nope", "pattern": {"source": ["x"]}}]})
    deploy(instance, base_spec())
    [change] = replan(instance, spec)
    assert change.details[0].endswith("(bus not found: create it first, or this step fails)")
    with pytest.raises(ClientError, match="Event bus nope does not exist"):
        lambda_.apply(context(instance, spec), change)


@pytest.mark.django_db
def test_a_package_stored_again_is_kept_once_and_not_read_back():
    """Deploying the same code twice stores it once; the second store does not load the
    package (up to 50 MB) into the web process, yet the deployment still gets its content."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    package = deterministic_zip("app.py", SOURCE)
    first = code_artifact_store(content=package)
    with CaptureQueriesContext(connection) as queries:
        again = code_artifact_store(content=package)
    assert again.pk == first.pk and again.sha256 == first.sha256
    assert CodeArtifact.objects.filter(sha256=first.sha256).count() == 1
    assert not any('"content"' in q["sql"] for q in queries.captured_queries), queries
    assert bytes(CodeArtifact.objects.get(pk=first.pk).content) == package
