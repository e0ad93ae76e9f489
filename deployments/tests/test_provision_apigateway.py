"""The API Gateway provisioner against the emulator over HTTP: REST and HTTP APIs.

Deployments go through the real services (plan → confirm) and the real engine (claim → execute
→ check), run in this process; one test uses the real Celery worker. Assertions describe the AWS
resources through the emulator: resources, methods, integrations, stages, usage plans, keys,
routes and the Lambda functions' resource policies.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from conftest import wait_for
from deployments import engine, services
from deployments.models import Deployment
from deployments.provisioners import apigateway
from deployments.provisioners.base import Change, Context
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
STATEMENT = "slipway-apigw-shop-api-dev"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def make_target(personas, slug: str, kind: str = "lambda", environment="dev") -> ServiceInstance:
    """A deployed target service: for Lambda, a real function in the emulator."""
    env = personas[environment]
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug=slug, kind=kind
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=env)
    if kind == "lambda":
        iam = aws_client("iam")
        try:
            role = iam.get_role(RoleName="test-lambda")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(RoleName="test-lambda", AssumeRolePolicyDocument=TRUST)
            role = role["Role"]["Arn"]
        function = aws_client("lambda").create_function(
            FunctionName=f"{slug}-{env.slug}",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
        )
        instance.resources = {"function_arn": function["FunctionArn"]}
    instance.applied_spec = {"kind": kind}
    instance.status = ServiceInstance.Status.HEALTHY
    instance.save()
    return instance


def make_load_balancer(env) -> str:
    """The environment's shared ALB (ECS targets are reached through it); returns its DNS."""
    ec2 = aws_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    balancer = aws_client("elbv2").create_load_balancer(Name="shared-dev", Subnets=subnets)
    balancer = balancer["LoadBalancers"][0]
    env.alb_arn = balancer["LoadBalancerArn"]
    env.save()
    return balancer["DNSName"]


def api_spec(api_type="rest", routes=(("GET", "/orders", "orders-fn"),), **overrides) -> dict:
    spec = {
        "kind": "apigateway",
        "api_type": api_type,
        "stage": "dev",
        "routes": [{"method": m, "path": p, "target": t} for m, p, t in routes],
        "throttle": {"rate": 100, "burst": 50},
        "require_api_key": False,
        "usage_plan": None,
    }
    spec.update(overrides)
    return spec


def run(deployment: Deployment, expect: str = Deployment.Status.SUCCEEDED) -> Deployment:
    """Confirm and run a planned deployment through the engine, as the worker would."""
    deployment = services.deployment_confirm(deployment=deployment, user=deployment.requested_by)
    lease = engine.deployment_claim(deployment_id=deployment.pk)
    outcome = engine.deployment_execute(deployment_id=deployment.pk, lease=lease)
    for _ in range(20):
        if outcome.kind == engine.Outcome.DONE:
            break
        outcome = engine.deployment_check(deployment_id=deployment.pk, lease=lease)
    deployment.refresh_from_db()
    log = [(s.name, s.status, s.message) for s in deployment.steps.all()]
    assert deployment.status == expect, (deployment.error, log)
    return deployment


def launch(personas, spec: dict, slug: str = "shop-api") -> Deployment:
    planned = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug=slug,
        kind="apigateway",
        environment=personas["dev"],
        spec=spec,
    )
    return run(planned)


def change(deployment: Deployment, spec: dict, action=Deployment.Action.UPDATE) -> Deployment:
    instance = ServiceInstance.objects.get(pk=deployment.instance_id)
    return services.deployment_plan(
        instance=instance, spec=spec, user=deployment.requested_by, action=action
    )


def plan_lines(deployment: Deployment) -> list[str]:
    return [line for step in deployment.plan for line in [step["summary"], *step["details"]]]


def replan(deployment: Deployment, spec: dict) -> list:
    instance = ServiceInstance.objects.get(pk=deployment.instance_id)
    with pytest.raises(services.NothingToChange):
        services.deployment_plan(instance=instance, spec=spec, user=deployment.requested_by)
    return []


def rest_api(name="shop-api-dev") -> dict:
    apis = [a for a in aws_client("apigateway").get_rest_apis()["items"] if a["name"] == name]
    assert len(apis) == 1, apis
    return apis[0]


def http_api(name="shop-api-dev") -> dict:
    apis = [a for a in aws_client("apigatewayv2").get_apis()["Items"] if a["Name"] == name]
    assert len(apis) == 1, apis
    return apis[0]


def policy_statements(function_name: str) -> list[dict]:
    try:
        policy = aws_client("lambda").get_policy(FunctionName=function_name)["Policy"]
    except aws_client("lambda").exceptions.ResourceNotFoundException:
        return []
    return json.loads(policy)["Statement"]


# --- REST (v1) -----------------------------------------------------------------------------------
def test_rest_api_routes_to_lambda_with_stage_throttling_and_permission(personas, aws_clean):
    target = make_target(personas, "orders-fn")
    function_arn = target.resources["function_arn"]
    done = launch(personas, api_spec())
    assert "new route GET /orders → orders-fn (Lambda)" in plan_lines(done)
    steps = list(done.steps.values_list("name", "message"))
    assert any(m.startswith("API GW: deployment") for _, m in steps), steps

    apigw = aws_client("apigateway")
    api = rest_api()
    assert api["tags"]["slipway:service"] == "shop-api"
    assert api["tags"]["slipway:team"] == "payments"
    resource = next(
        r for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/orders"
    )
    method = apigw.get_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET")
    assert method["apiKeyRequired"] is False
    integration = apigw.get_integration(
        restApiId=api["id"], resourceId=resource["id"], httpMethod="GET"
    )
    assert integration["type"] == "AWS_PROXY"
    assert integration["httpMethod"] == "POST"
    assert function_arn in integration["uri"]

    stage = apigw.get_stage(restApiId=api["id"], stageName="dev")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 50
    assert stage["deploymentId"]

    (statement,) = [s for s in policy_statements("orders-fn-dev") if s["Sid"] == STATEMENT]
    assert statement["Principal"]["Service"] == "apigateway.amazonaws.com"
    assert statement["Action"] == "lambda:InvokeFunction"
    assert f":{api['id']}/*" in statement["Condition"]["ArnLike"]["AWS:SourceArn"]

    # AWS now matches: planning again finds nothing to do, and the instance knows its ARNs.
    replan(done, done.spec)
    instance = ServiceInstance.objects.get(pk=done.instance_id)
    assert instance.resources["api_arn"].endswith(f"/restapis/{api['id']}")


def test_update_adds_a_route_and_redeploys(personas, aws_clean):
    make_target(personas, "orders-fn")
    make_target(personas, "users-fn")
    first = launch(personas, api_spec())
    apigw = aws_client("apigateway")
    api_id = rest_api()["id"]
    first_deployment = apigw.get_stage(restApiId=api_id, stageName="dev")["deploymentId"]

    spec = api_spec(routes=(("GET", "/orders", "orders-fn"), ("POST", "/users/{id}", "users-fn")))
    planned = change(first, spec)
    lines = plan_lines(planned)
    assert "new route POST /users/{id} → users-fn (Lambda)" in lines
    assert "New deployment to stage dev" in lines
    assert "allow API Gateway to invoke users-fn-dev (lambda:AddPermission)" in lines
    assert not any("orders" in line for line in lines if "route" in line), lines
    second = run(planned)

    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert {"/", "/orders", "/users", "/users/{id}"} <= paths
    stage = apigw.get_stage(restApiId=api_id, stageName="dev")
    assert stage["deploymentId"] != first_deployment
    assert [s["Sid"] for s in policy_statements("users-fn-dev")] == [STATEMENT]
    replan(second, spec)

    # Dropping the route removes its method, its now empty resources and the grant.
    third = run(change(second, api_spec()))
    assert "remove route POST /users/{id}" in plan_lines(third)
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/orders"}
    assert policy_statements("users-fn-dev") == []
    assert [s["Sid"] for s in policy_statements("orders-fn-dev")] == [STATEMENT]


def test_failed_update_rolls_back_to_the_previous_routes(personas, aws_clean):
    make_target(personas, "orders-fn")
    make_target(personas, "users-fn")
    first = launch(personas, api_spec())
    apigw = aws_client("apigateway")
    api_id = rest_api()["id"]
    deployed = apigw.get_stage(restApiId=api_id, stageName="dev")["deploymentId"]
    # The catalog still lists users-fn, but its function is gone from AWS.
    aws_client("lambda").delete_function(FunctionName="users-fn-dev")

    spec = api_spec(routes=(("GET", "/orders", "orders-fn"), ("GET", "/users", "users-fn")))
    failed = run(change(first, spec), expect=Deployment.Status.ROLLED_BACK)
    assert "ResourceNotFoundException" in failed.error
    names = list(failed.steps.values_list("name", flat=True))
    assert "Rollback: remove route GET /users" in names
    # AWS is back where it was: the route is gone and the stage still serves the old deployment.
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/orders"}
    assert apigw.get_stage(restApiId=api_id, stageName="dev")["deploymentId"] == deployed
    replan(first, first.spec)


def test_scale_changes_stage_throttling(personas, aws_clean):
    make_target(personas, "orders-fn")
    first = launch(personas, api_spec())
    spec = {**first.spec, "throttle": {"rate": 200, "burst": 80}}
    planned = change(first, spec, action=Deployment.Action.SCALE)
    assert plan_lines(planned) == [
        "stage throttling rate 100 → 200; stage throttling burst 50 → 80",
        "stage throttling rate 100 → 200",
        "stage throttling burst 50 → 80",
    ]
    run(planned)
    api_id = rest_api()["id"]
    settings = aws_client("apigateway").get_stage(restApiId=api_id, stageName="dev")
    assert settings["methodSettings"]["*/*"]["throttlingRateLimit"] == 200
    assert settings["methodSettings"]["*/*"]["throttlingBurstLimit"] == 80
    assert apigateway.scale_values(spec) == {"rate_limit": 200, "burst_limit": 80}


def test_api_keys_and_usage_plan_when_required_then_removed(personas, aws_clean):
    make_target(personas, "orders-fn")
    usage = {"quota_limit": 10000, "quota_period": "DAY", "rate": 50, "burst": 20}
    first = launch(personas, api_spec(require_api_key=True, usage_plan=usage))
    apigw = aws_client("apigateway")
    api_id = rest_api()["id"]
    resource = next(
        r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/orders"
    )
    method = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod="GET")
    assert method["apiKeyRequired"] is True
    (plan,) = apigw.get_usage_plans()["items"]
    assert plan["name"] == "shop-api-dev"
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "dev"}]
    assert plan["quota"]["limit"] == 10000 and plan["quota"]["period"] == "DAY"
    assert plan["throttle"]["rateLimit"] == 50 and plan["throttle"]["burstLimit"] == 20
    assert plan["tags"]["slipway:service"] == "shop-api"
    (key,) = apigw.get_api_keys()["items"]
    assert key["name"] == "shop-api-dev" and key["enabled"]
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [
        key["id"]
    ]
    replan(first, first.spec)

    # A quota change updates the plan in place; the key stays.
    spec = {**first.spec, "usage_plan": {**usage, "quota_limit": 500, "quota_period": "WEEK"}}
    second = run(change(first, spec))
    assert "quota 10000 → 500" in plan_lines(second)
    (plan,) = apigw.get_usage_plans()["items"]
    assert plan["quota"]["limit"] == 500 and plan["quota"]["period"] == "WEEK"
    assert [k["id"] for k in apigw.get_api_keys()["items"]] == [key["id"]]

    # No longer requiring keys: methods open up (a new deployment), key and plan are deleted.
    third = run(change(second, api_spec()))
    assert "Delete API key shop-api-dev" in plan_lines(third)
    assert apigw.get_usage_plans()["items"] == []
    assert apigw.get_api_keys()["items"] == []
    method = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod="GET")
    assert method["apiKeyRequired"] is False


def test_apply_twice_creates_nothing_twice(personas, aws_clean):
    """A worker that dies mid-run and runs the same plan again adopts what exists."""
    make_target(personas, "orders-fn")
    usage = {"quota_limit": 100, "quota_period": "DAY", "rate": 5, "burst": 5}
    spec = api_spec(require_api_key=True, usage_plan=usage)
    done = launch(personas, spec)
    instance = ServiceInstance.objects.select_related("service__owner", "environment").get(
        pk=done.instance_id
    )
    ctx = Context(instance, spec, "alice", lambda role, arn: None, lambda sha: b"")
    # Replay every change of the first plan against the finished API.
    for summary in ("api.create", "usage_plan.create", "api_key.ensure"):
        apigateway.apply(ctx, Change(summary, summary))
    apigateway.apply(ctx, Change("route.create:GET /orders", ""))
    apigateway.apply(ctx, Change(f"permission.add:{_fn_arn()}", ""))
    apigw = aws_client("apigateway")
    assert len(apigw.get_rest_apis()["items"]) == 1
    assert len(apigw.get_usage_plans()["items"]) == 1
    assert len(apigw.get_api_keys()["items"]) == 1
    assert (
        len(
            apigw.get_usage_plan_keys(usagePlanId=apigw.get_usage_plans()["items"][0]["id"])[
                "items"
            ]
        )
        == 1
    )
    assert len(policy_statements("orders-fn-dev")) == 1
    assert apigateway.wait(ctx).done


def _fn_arn() -> str:
    return aws_client("lambda").get_function(FunctionName="orders-fn-dev")["Configuration"][
        "FunctionArn"
    ]


def test_delete_removes_everything_in_reverse_order(personas, aws_clean):
    make_target(personas, "orders-fn")
    usage = {"quota_limit": 100, "quota_period": "DAY", "rate": 5, "burst": 5}
    first = launch(personas, api_spec(require_api_key=True, usage_plan=usage))
    planned = change(first, first.spec, action=Deployment.Action.DELETE)
    assert [step["summary"] for step in planned.plan] == [
        "Delete API key shop-api-dev",
        "Delete usage plan shop-api-dev",
        "Delete stage dev",
        "Delete REST API shop-api-dev",
        "withdraw API Gateway's permission to invoke orders-fn-dev",
        "Delete 1 CloudWatch alarm(s)",  # the API's 5xx alarm goes with it
    ]
    run(planned)
    assert (
        aws_client("cloudwatch").describe_alarms(AlarmNamePrefix="slipway-dev-shop-api-")[
            "MetricAlarms"
        ]
        == []
    )
    apigw = aws_client("apigateway")
    assert apigw.get_rest_apis()["items"] == []
    assert apigw.get_usage_plans()["items"] == []
    assert apigw.get_api_keys()["items"] == []
    assert policy_statements("orders-fn-dev") == []
    instance = ServiceInstance.objects.get(pk=first.instance_id)
    assert instance.status == ServiceInstance.Status.DELETED


def test_rest_route_to_ecs_service_goes_through_the_shared_load_balancer(personas, aws_clean):
    dns = make_load_balancer(personas["dev"])
    make_target(personas, "catalog-svc", kind="ecs")
    launch(personas, api_spec(routes=(("ANY", "/catalog/{proxy+}", "catalog-svc"),)))
    apigw = aws_client("apigateway")
    api_id = rest_api()["id"]
    resource = next(
        r
        for r in apigw.get_resources(restApiId=api_id)["items"]
        if r["path"] == "/catalog/{proxy+}"
    )
    integration = apigw.get_integration(
        restApiId=api_id, resourceId=resource["id"], httpMethod="ANY"
    )
    assert integration["type"] == "HTTP_PROXY"
    assert integration["uri"] == f"http://{dns}/catalog/{{proxy+}}"
    assert integration["requestParameters"] == {
        "integration.request.path.proxy": "method.request.path.proxy"
    }


# --- HTTP (v2) -----------------------------------------------------------------------------------
def test_http_api_with_auto_deploy_stage_and_route_throttling(personas, aws_clean):
    target = make_target(personas, "orders-fn")
    dns = make_load_balancer(personas["dev"])
    make_target(personas, "catalog-svc", kind="ecs")
    spec = api_spec(
        "http", routes=(("GET", "/orders", "orders-fn"), ("GET", "/catalog", "catalog-svc"))
    )
    done = launch(personas, spec)
    lines = plan_lines(done)
    assert "Create HTTP API shop-api-dev" in lines
    assert "new route GET /catalog → catalog-svc (ECS)" in lines

    v2 = aws_client("apigatewayv2")
    api = http_api()
    assert api["ProtocolType"] == "HTTP"
    assert api["Tags"]["slipway:environment"] == "dev"
    integrations = {i["IntegrationId"]: i for i in v2.get_integrations(ApiId=api["ApiId"])["Items"]}
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api["ApiId"])["Items"]}
    assert set(routes) == {"GET /orders", "GET /catalog"}
    orders = integrations[routes["GET /orders"]["Target"].removeprefix("integrations/")]
    assert orders["IntegrationType"] == "AWS_PROXY"
    assert orders["IntegrationUri"] == target.resources["function_arn"]
    catalog = integrations[routes["GET /catalog"]["Target"].removeprefix("integrations/")]
    assert catalog["IntegrationType"] == "HTTP_PROXY"
    assert catalog["IntegrationUri"] == f"http://{dns}/catalog"
    (stage,) = v2.get_stages(ApiId=api["ApiId"])["Items"]
    assert stage["StageName"] == "dev" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 100
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 50
    assert [s["Sid"] for s in policy_statements("orders-fn-dev")] == [STATEMENT]
    replan(done, spec)

    # Scale: the stage is updated in place (UpdateStage), as on AWS.
    scaled_spec = {**spec, "throttle": {"rate": 300, "burst": 100}}
    scaled = run(change(done, scaled_spec, action=Deployment.Action.SCALE))
    assert "stage throttling rate 100 → 300" in plan_lines(scaled)
    messages = list(scaled.steps.values_list("message", flat=True))
    assert "rate 300 req/s, burst 100" in messages  # UpdateStage, not a recreated stage
    (stage,) = v2.get_stages(ApiId=api["ApiId"])["Items"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 300
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 100
    assert stage["AutoDeploy"] is True
    replan(scaled, scaled_spec)

    # Replaying the creating steps (a retried run) adopts what exists and doubles nothing.
    instance = ServiceInstance.objects.select_related("service__owner", "environment").get(
        pk=scaled.instance_id
    )
    ctx = Context(instance, scaled_spec, "alice", lambda role, arn: None, lambda sha: b"")
    for key in ("api.create", "route.create:GET /orders", "route.create:GET /catalog"):
        apigateway.apply(ctx, Change(key, key))
    # The stage exists already: it is updated to the spec, not created twice.
    assert apigateway.apply(ctx, Change("stage.create", "")) == "rate 300 req/s, burst 100"
    assert len(v2.get_apis()["Items"]) == 1
    assert len(v2.get_routes(ApiId=api["ApiId"])["Items"]) == 2
    assert len(v2.get_integrations(ApiId=api["ApiId"])["Items"]) == 2
    assert len(v2.get_stages(ApiId=api["ApiId"])["Items"]) == 1
    replan(scaled, scaled_spec)

    # Update: retarget one route and drop the other.
    updated_spec = {
        **scaled_spec,
        "routes": [{"method": "GET", "path": "/orders", "target": "catalog-svc"}],
    }
    updated = run(change(scaled, updated_spec))
    assert "target orders-fn (Lambda) → catalog-svc (ECS)" in plan_lines(updated)
    assert "remove route GET /catalog" in plan_lines(updated)
    (route,) = v2.get_routes(ApiId=api["ApiId"])["Items"]
    (integration,) = v2.get_integrations(ApiId=api["ApiId"])["Items"]
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert integration["IntegrationUri"] == f"http://{dns}/orders"
    assert policy_statements("orders-fn-dev") == []

    run(change(updated, updated_spec, action=Deployment.Action.DELETE))
    assert v2.get_apis()["Items"] == []


# --- through the real worker ---------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_end_to_end_through_the_worker(personas, aws_clean, celery_worker):
    make_target(personas, "orders-fn")
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="shop-api",
        kind="apigateway",
        environment=personas["dev"],
        spec=api_spec(),
        confirm=True,
    )

    def finished():
        row = Deployment.objects.get(pk=deployment.pk)
        return row if row.is_finished else None

    done = wait_for(finished, message="the API Gateway deployment did not finish")
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    wait_step = done.steps.get(name="Wait until AWS reports it stable")
    assert wait_step.message.startswith("API GW: deployment")
    api_id = rest_api()["id"]
    assert aws_client("apigateway").get_stage(restApiId=api_id, stageName="dev")["deploymentId"]


# --- the update and scale pages ------------------------------------------------------------------
def test_update_and_scale_pages_plan_against_aws(client, personas, aws_clean):
    from django.urls import reverse

    make_target(personas, "orders-fn")
    make_target(personas, "users-fn")
    launch(personas, api_spec())
    update = reverse("deployments:update", args=["shop-api", "dev"])
    scale = reverse("deployments:scale", args=["shop-api", "dev"])
    form = {"routes": "GET /orders -> orders-fn", "throttle_rate": "100", "throttle_burst": "50"}

    # Anonymous → login; another team → 403; nothing planned either way.
    assert "/login" in client.post(update, form)["Location"]
    client.force_login(personas["charlie"])
    assert client.post(scale, {"throttle_rate": "1", "throttle_burst": "1"}).status_code == 403
    assert client.get(update).status_code == 403

    client.force_login(personas["bob"])
    page = client.get(update).content.decode()
    assert "GET /orders -&gt; orders-fn" in page
    # A bad target is shown on the form; no deployment is planned.
    response = client.post(update, {**form, "routes": "GET /x -> ghost"})
    assert response.status_code == 400
    assert "there is no service called ghost" in response.content.decode()
    assert not Deployment.objects.filter(status=Deployment.Status.PLANNED).exists()
    # Nothing changed: no deployment, the user is told so.
    assert client.post(update, form).status_code == 302
    assert not Deployment.objects.filter(status=Deployment.Status.PLANNED).exists()

    response = client.post(update, {**form, "routes": form["routes"] + "\nPUT /users -> users-fn"})
    planned = Deployment.objects.get(status=Deployment.Status.PLANNED)
    assert response["Location"] == planned.get_absolute_url()
    assert "new route PUT /users → users-fn (Lambda)" in plan_lines(planned)
    services.deployment_cancel(deployment=planned, user=personas["bob"])

    client.post(scale, {"throttle_rate": "200", "throttle_burst": "50"})
    planned = Deployment.objects.get(status=Deployment.Status.PLANNED)
    assert planned.action == Deployment.Action.SCALE
    assert plan_lines(planned)[0] == "stage throttling rate 100 → 200"
    # The environment's guardrail caps the API rate; the refusal is shown on the form.
    services.deployment_cancel(deployment=planned, user=personas["bob"])
    personas["dev"].max_api_rate_limit = 500
    personas["dev"].save()
    response = client.post(scale, {"throttle_rate": "900", "throttle_burst": "50"})
    assert response.status_code == 400
    assert "rate limit 900 is above the Development cap of 500" in response.content.decode()


def test_target_missing_in_aws_is_a_form_error_not_a_crash(client, personas, aws_clean):
    """The catalog says the ECS service is deployed, but the load balancer is gone from AWS."""
    from django.urls import reverse

    dns = make_load_balancer(personas["dev"])
    assert dns
    make_target(personas, "catalog-svc", kind="ecs")
    aws_client("elbv2").delete_load_balancer(LoadBalancerArn=personas["dev"].alb_arn)
    client.force_login(personas["alice"])
    response = client.post(
        reverse("deployments:service_new", args=["apigateway"]),
        {
            "name": "shop-api",
            "owner": personas["payments"].pk,
            "environment": personas["dev"].pk,
            "api_type": "http",
            "routes": "GET /catalog -> catalog-svc",
            "throttle_rate": "10",
            "throttle_burst": "5",
            "quota_period": "DAY",
        },
    )
    assert response.status_code == 400
    assert "catalog-svc is not deployed in dev" in response.content.decode()
    assert not Deployment.objects.exists()
    assert not ServiceInstance.objects.filter(service__slug="shop-api").exists()
    assert aws_client("apigatewayv2").get_apis()["Items"] == []


def test_revert_restores_an_earlier_routes_spec(personas, aws_clean):
    make_target(personas, "orders-fn")
    make_target(personas, "users-fn")
    first = launch(personas, api_spec())
    two_routes = api_spec(
        routes=(("GET", "/orders", "orders-fn"), ("POST", "/users/{id}", "users-fn")),
        throttle={"rate": 180, "burst": 60},
    )
    run(change(first, two_routes))
    api_id = rest_api()["id"]
    apigw = aws_client("apigateway")
    assert "/users/{id}" in {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}

    revert = services.deployment_revert(deployment=first, user=personas["bob"])
    assert revert.action == Deployment.Action.REVERT
    assert "remove route POST /users/{id}" in plan_lines(revert)
    run(revert)
    stage = apigw.get_stage(restApiId=api_id, stageName="dev")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100

    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/orders"}
    assert policy_statements("users-fn-dev") == []
    replan(revert, api_spec())
