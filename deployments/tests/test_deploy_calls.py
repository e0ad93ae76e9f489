"""AWS calls and SQL statements per deployment, pinned per kind so a regression fails.

Each test deploys through the real path a user takes (plan in `services`, then the engine's
claim → execute → check, inline as the worker would) against the emulator over HTTP, and
counts the AWS calls `portal.aws` made for it (plan, apply, stability check, alarms). The
figures are what `bench/deploy_overhead.py` compares with a plain boto3 script.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import ServiceInstance
from conftest import launch_lambda
from deployments import services
from deployments.models import Deployment
from deployments.tests.test_provision_apigateway import api_spec, make_target
from deployments.tests.test_provision_ecs import ecs_spec
from deployments.tests.test_provision_ecs import run_inline as run_ecs_inline
from portal import aws

pytestmark = [pytest.mark.integration]


@contextmanager
def counted():
    """Yields a dict filled on exit with the AWS calls (by operation) and SQL statements."""
    found: dict = {}
    before = aws.call_counts()
    with CaptureQueriesContext(connection) as queries:
        yield found
    found["calls"] = {f"{s}.{o}": n for (s, o), n in (aws.call_counts() - before).items()}
    found["total"] = sum(found["calls"].values())
    found["sql"] = len(queries)


def run_inline(deployment: Deployment) -> Deployment:
    """Claim, apply and check in this process, as the worker does; it must succeed."""
    done = run_ecs_inline(deployment)
    steps = list(done.steps.values_list("name", "message"))
    assert done.status == Deployment.Status.SUCCEEDED, (done.error, steps)
    return done


def launch(personas, kind: str, slug: str, spec: dict) -> Deployment:
    return services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug=slug,
        kind=kind,
        environment=personas["dev"],
        spec=spec,
        confirm=True,
    )


def update(personas, deployment: Deployment, spec: dict) -> Deployment:
    instance = ServiceInstance.objects.get(pk=deployment.instance_id)
    return services.deployment_request(instance=instance, spec=spec, user=personas["alice"])


# Most AWS calls a deployment may make (plan + apply + stability check + default alarm) and most
# SQL statements for it (plan, confirm, run; a few spare for caches warmed by earlier tests).
# The plain boto3 script in bench/deploy_overhead.py makes 5 (Lambda), 8 (ECS: its log group's
# retention and its target group's 30 s deregistration delay included, as Slipway sets them),
# 9 (REST API) and 6 (HTTP API) calls to create one, plus the one PutMetricAlarm Slipway adds.
PINNED = {
    "lambda.create": (7, 43),
    "lambda.update": (11, 43),
    "ecs.create": (13, 48),
    "ecs.update": (10, 42),
    "apigateway.create": (10, 45),
    "apigateway.update": (8, 43),
    "apigateway-http.create": (8, 43),
    "apigateway-http.update": (9, 43),
}


def check(found: dict, name: str) -> None:
    calls, sql = PINNED[name]
    assert found["total"] <= calls, (name, found["total"], found["calls"])
    assert found["sql"] <= sql, (name, found["sql"])


def test_lambda_calls_per_deploy(personas, aws_clean):
    run_inline(launch_lambda(personas, "warm"))  # the environment's execution role, once
    with counted() as found:
        done = run_inline(launch_lambda(personas, "orders"))
    check(found, "lambda.create")
    # Read once (the plan), then only writes, the stability check and the alarm.
    assert found["calls"]["lambda.GetFunction"] == 1, found["calls"]
    assert found["calls"]["iam.GetRole"] == 1, found["calls"]
    with counted() as found:
        run_inline(update(personas, done, {**done.spec, "memory_size": 256}))
    check(found, "lambda.update")
    assert found["calls"]["lambda.GetFunction"] == 1, found["calls"]


def test_ecs_calls_per_deploy(personas, aws_clean):
    # The first service of an environment also sets up its network, cluster and role.
    run_inline(launch(personas, "ecs", "warm", ecs_spec(load_balancer={"path": "/warm/*"})))
    personas["dev"].refresh_from_db()  # as a new request would load it: the network is set up
    with counted() as found:
        done = run_inline(launch(personas, "ecs", "web", ecs_spec()))
    check(found, "ecs.create")
    # A first deployment creates its log group and target group without looking them up (AWS's
    # "already exists" is adopted: test_ecs_retry.py) and looks for no task definition revision
    # to reuse; auto-scaling the spec asks for on a new service is set without reading it first.
    assert "cloudwatch-logs.DescribeLogGroups" not in found["calls"], found["calls"]
    assert "elastic-load-balancing-v2.DescribeTargetGroups" not in found["calls"], found["calls"]
    assert "ecs.DescribeTaskDefinition" not in found["calls"], found["calls"]
    assert "application-auto-scaling.DescribeScalableTargets" not in found["calls"], found["calls"]
    # The listener's rules are its existence check and the plan's listing both, and the rule
    # step picks its priority from that reading (CreateRule itself is the guard): read once.
    assert "elastic-load-balancing-v2.DescribeListeners" not in found["calls"], found["calls"]
    assert found["calls"]["elastic-load-balancing-v2.DescribeRules"] == 1, found["calls"]
    # The shared cluster's existence is DescribeServices' answer: no DescribeClusters.
    assert "ecs.DescribeClusters" not in found["calls"], found["calls"]
    # The environment's execution role was read (made) by the first service: remembered.
    assert "iam.GetRole" not in found["calls"], found["calls"]
    with counted() as found:
        run_inline(update(personas, done, {**done.spec, "desired_count": 3}))
    check(found, "ecs.update")
    assert "iam.GetRole" not in found["calls"], found["calls"]


def test_apigateway_calls_per_deploy(personas, aws_clean):
    make_target(personas, "orders-fn")
    with counted() as found:
        done = run_inline(launch(personas, "apigateway", "shop-api", api_spec()))
    check(found, "apigateway.create")
    # Only the spec's API type is looked up; no keys and no grant to read on a first deploy.
    for operation in ("apigatewayv2.GetApis", "api-gateway.GetUsagePlans", "lambda.GetPolicy"):
        assert operation not in found["calls"], found["calls"]
    # The API is looked up once (by the plan); nothing the run wrote is read back.
    for operation in ("GetRestApis", "GetResources", "GetStage", "GetDeployment"):
        assert found["calls"].get(f"api-gateway.{operation}", 0) <= 1, found["calls"]
    with counted() as found:
        run_inline(update(personas, done, {**done.spec, "throttle": {"rate": 200, "burst": 50}}))
    check(found, "apigateway.update")
    assert found["calls"]["api-gateway.GetRestApis"] == 1, found["calls"]


def test_http_api_calls_per_deploy(personas, aws_clean):
    make_target(personas, "orders-fn")
    with counted() as found:
        done = run_inline(launch(personas, "apigateway", "shop-api", api_spec("http")))
    check(found, "apigateway-http.create")
    # Looked up once; the routes, integrations and stage this run wrote are not read back,
    # except the stage once by the check (AWS deploys it by itself).
    assert found["calls"]["apigatewayv2.GetApis"] == 1, found["calls"]
    assert "apigatewayv2.GetRoutes" not in found["calls"], found["calls"]
    assert found["calls"]["apigatewayv2.GetStage"] == 1, found["calls"]
    with counted() as found:
        run_inline(update(personas, done, {**done.spec, "throttle": {"rate": 200, "burst": 50}}))
    check(found, "apigateway-http.update")


def test_first_run_uses_the_plans_reading_and_a_retry_reads_aws_again(personas, aws_clean):
    """A retry never trusts the plan: an API an interrupted attempt created is adopted."""
    make_target(personas, "orders-fn")
    first = run_inline(launch(personas, "apigateway", "first-api", api_spec()))
    reads = [m for n, m in first.steps.values_list("name", "message") if n.startswith("Read")]
    assert reads and reads[0].startswith("Using the plan's reading"), reads

    planned = launch(personas, "apigateway", "shop-api", api_spec())
    # An earlier attempt created the API and died before anything was recorded.
    orphan = aws.aws_client("apigateway").create_rest_api(
        name="shop-api-dev", tags={"slipway:service": "shop-api"}
    )
    Deployment.objects.filter(pk=planned.pk).update(attempts=1)  # the claim makes it attempt 2
    done = run_inline(planned)
    steps = list(done.steps.values_list("name", "message"))
    assert ("Read current state from AWS", "") in steps, steps  # read afresh, not reused
    assert not any(name.startswith("Create REST API") for name, _ in steps), steps
    apis = aws.aws_client("apigateway").get_rest_apis()["items"]
    assert [a["name"] for a in apis].count("shop-api-dev") == 1, apis
    done.instance.refresh_from_db()
    assert done.instance.resources["api_arn"].endswith(f"/restapis/{orphan['id']}")


def test_http_api_retry_adopts_what_an_interrupted_attempt_created(personas, aws_clean):
    """An HTTP API and route made by an attempt that died are adopted, not made twice."""
    function_arn = make_target(personas, "orders-fn").resources["function_arn"]
    planned = launch(personas, "apigateway", "shop-api", api_spec("http"))
    v2 = aws.aws_client("apigatewayv2")
    orphan = v2.create_api(
        Name="shop-api-dev", ProtocolType="HTTP", Tags={"slipway:service": "shop-api"}
    )["ApiId"]
    integration = v2.create_integration(
        ApiId=orphan,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    v2.create_route(ApiId=orphan, RouteKey="GET /orders", Target=f"integrations/{integration}")
    Deployment.objects.filter(pk=planned.pk).update(attempts=1)  # the claim makes it attempt 2
    done = run_inline(planned)
    steps = [name for name, _ in done.steps.values_list("name", "message")]
    assert not any(name.startswith(("Create HTTP API", "new route")) for name in steps), steps
    apis = [a for a in v2.get_apis()["Items"] if a["Name"] == "shop-api-dev"]
    assert [a["ApiId"] for a in apis] == [orphan], apis
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=orphan)["Items"]] == ["GET /orders"]
    assert v2.get_stage(ApiId=orphan, StageName="dev")["AutoDeploy"] is True
