"""Every kind's default alarms, made by the deployment itself (first deployment and redeploy).

Each case deploys through the path a user takes (plan in `services`, then the engine's claim →
execute → check, inline as the worker does) against the emulator, and reads the alarms back
from CloudWatch with a plain `describe_alarms`. The alarms watch what the deployment applied:
a first deployment has no applied spec yet, and a redeploy may rename what is watched.
"""

from __future__ import annotations

import pytest

from catalog.models import ServiceInstance
from conftest import launch_lambda
from deployments.models import Deployment, DeploymentStep
from deployments.tests.test_deploy_calls import launch as launch_kind
from deployments.tests.test_deploy_calls import update as redeploy
from deployments.tests.test_provision_apigateway import api_spec, make_target
from deployments.tests.test_provision_dynamodb import table_spec
from deployments.tests.test_provision_ecs import ecs_spec
from deployments.tests.test_provision_ecs import run_inline as run_engine
from deployments.tests.test_provision_stepfunctions import workflow_spec
from monitoring.models import AlarmRule
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ALARMS_STEP = "Ensure default CloudWatch alarms"
ACCOUNT = "arn:aws:{}:us-east-1:123456789012:{}"


def run(deployment: Deployment) -> tuple[Deployment, str]:
    """Run `deployment` to success; its alarms step must be ok. Returns it and that step's line."""
    done = run_engine(deployment)
    steps = list(done.steps.values_list("name", "status", "message"))
    assert done.status == Deployment.Status.SUCCEEDED, (done.error, steps)
    assert not [s for s in steps if s[1] == DeploymentStep.Status.FAILED], steps
    [(status, message)] = [
        (status, message) for name, status, message in steps if name == ALARMS_STEP
    ]
    assert status == DeploymentStep.Status.OK, steps
    return done, message


def launch(personas, kind: str, slug: str, spec: dict) -> Deployment:
    if kind == "lambda":
        return launch_lambda(personas, slug, **{k: v for k, v in spec.items() if k != "kind"})
    return launch_kind(personas, kind, slug, spec)


def alarms(slug: str) -> dict[str, tuple[str, str, list[dict]]]:
    """CloudWatch's alarms of `slug` in dev: name → (namespace, metric, dimensions)."""
    found = aws_client("cloudwatch").describe_alarms(AlarmNamePrefix=f"slipway-dev-{slug}-")
    return {
        a["AlarmName"]: (a["Namespace"], a["MetricName"], sorted(a["Dimensions"], key=_name))
        for a in found["MetricAlarms"]
    }


def _name(dimension: dict) -> str:
    return dimension["Name"]


def dims(**pairs: str) -> list[dict]:
    return sorted(({"Name": k, "Value": v} for k, v in pairs.items()), key=_name)


def _http_api_id() -> str:
    [api] = [a for a in aws_client("apigatewayv2").get_apis()["Items"] if a["Name"] == "shop-dev"]
    return api["ApiId"]


def _ecs_cluster(slug: str) -> str:
    instance = ServiceInstance.objects.get(service__slug=slug)
    return instance.resources["service_arn"].split("/")[-2]


def _machine_arn() -> str:
    return ACCOUNT.format("states", "stateMachine:flow-dev")


# kind, slug, first spec (callable: personas → spec), redeploy's change, expected alarms
# (callable: → {key: (namespace, metric, dimensions)}) after the first deploy and the redeploy.
def _lambda_target(personas) -> str:
    return make_target(personas, "orders-fn").resources["function_arn"]


CASES = {
    "lambda": (
        "lambda",
        "fn",
        lambda personas: {"kind": "lambda"},
        {"memory_size": 256},
        lambda: {"lambda-errors": ("AWS/Lambda", "Errors", dims(FunctionName="fn-dev"))},
        None,
    ),
    "ecs": (
        "ecs",
        "web",
        lambda personas: ecs_spec(),
        {"desired_count": 3},
        lambda: {
            "ecs-cpu-high": (
                "AWS/ECS",
                "CPUUtilization",
                dims(ClusterName=_ecs_cluster("web"), ServiceName="web-dev"),
            )
        },
        None,
    ),
    "apigateway-rest": (
        "apigateway",
        "shop",
        lambda personas: (_lambda_target(personas), api_spec())[1],
        {"throttle": {"rate": 200, "burst": 50}},
        lambda: {"api-5xx": ("AWS/ApiGateway", "5XXError", dims(ApiName="shop-dev", Stage="dev"))},
        None,
    ),
    "apigateway-http": (
        "apigateway",
        "shop",
        lambda personas: (_lambda_target(personas), api_spec("http"))[1],
        {"throttle": {"rate": 200, "burst": 50}},
        lambda: {
            "api-5xx": ("AWS/ApiGateway", "5XXError", dims(ApiId=_http_api_id(), Stage="dev"))
        },
        None,
    ),
    "dynamodb": (
        "dynamodb",
        "orders",
        lambda personas: table_spec(),
        {"point_in_time_recovery": False},
        lambda: {
            "dynamodb-write-throttles": (
                "AWS/DynamoDB",
                "WriteThrottleEvents",
                dims(TableName="orders-dev"),
            ),
            "dynamodb-read-throttles": (
                "AWS/DynamoDB",
                "ReadThrottleEvents",
                dims(TableName="orders-dev"),
            ),
        },
        None,
    ),
    # The redeploy renames the topic: the alarm follows the topic the deployment applied.
    "sns": (
        "sns",
        "events",
        lambda personas: {"kind": "sns", "topics": [{"name": "order-placed"}]},
        {"topics": [{"name": "order-shipped"}]},
        lambda: {
            "sns-delivery-failed": (
                "AWS/SNS",
                "NumberOfNotificationsFailed",
                dims(TopicName="events-dev-order-placed"),
            )
        },
        lambda: {
            "sns-delivery-failed": (
                "AWS/SNS",
                "NumberOfNotificationsFailed",
                dims(TopicName="events-dev-order-shipped"),
            )
        },
    ),
    "stepfunctions": (
        "stepfunctions",
        "flow",
        lambda personas: workflow_spec(_lambda_target(personas)),
        {"definition": {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}},
        lambda: {
            "sfn-executions-failed": (
                "AWS/States",
                "ExecutionsFailed",
                dims(StateMachineArn=_machine_arn()),
            )
        },
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_first_deploy_and_redeploy_make_the_kinds_default_alarms(personas, aws_clean, case):
    kind, slug, make_spec, change, expected, expected_after = CASES[case]
    first, line = run(launch(personas, kind, slug, make_spec(personas)))
    wanted = {f"slipway-dev-{slug}-{key}": value for key, value in expected().items()}
    assert alarms(slug) == wanted
    assert line == ", ".join(wanted), line

    again, line = run(redeploy(personas, first, {**first.spec, **change}))
    assert again.previous_spec == first.spec  # a redeploy, with an applied spec this time
    wanted = {
        f"slipway-dev-{slug}-{key}": value for key, value in (expected_after or expected)().items()
    }
    assert alarms(slug) == wanted
    assert line == ", ".join(wanted), line


def test_an_sns_service_with_only_queues_says_it_has_nothing_to_alarm_on(personas, aws_clean):
    run(launch(personas, "sns", "orders", {"kind": "sns", "topics": [{"name": "order-placed"}]}))
    queues = [{"name": "all", "topic": "orders/order-placed"}]

    subscriber, line = run(launch(personas, "sns", "audit", {"kind": "sns", "queues": queues}))
    assert line == (
        "No failed deliveries alarm: the service has no topic of its own, only queues"
    ), line
    assert alarms("audit") == {}

    # A topic of its own gets the alarm; taking it away again removes the alarm and its rule.
    spec = {"kind": "sns", "queues": queues, "topics": [{"name": "audited"}]}
    with_topic, line = run(redeploy(personas, subscriber, spec))
    assert line == "slipway-dev-audit-sns-delivery-failed", line
    assert list(alarms("audit").values()) == [
        ("AWS/SNS", "NumberOfNotificationsFailed", dims(TopicName="audit-dev-audited"))
    ]
    _, line = run(redeploy(personas, with_topic, {"kind": "sns", "queues": queues}))
    assert line.startswith("No failed deliveries alarm:"), line
    assert alarms("audit") == {}
    assert not AlarmRule.objects.filter(instance=with_topic.instance).exists()
