"""Adopting API Gateway APIs made with plain boto3 (the emulator): an HTTP API with a JWT
authorizer and stage throttling, a REST API with a Cognito authorizer; both routed to a Slipway
Lambda service. After adoption the first plan changes nothing, and a later update lands on the
adopted API itself (witnessed in the emulator). An API routed to something Slipway does not know
is refused with the reason, and nothing is stored or tagged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service, ServiceInstance
from deployments import services
from deployments.models import Deployment
from deployments.tests.test_provision_apigateway import make_target, plan_lines, run
from interop import discovery
from monitoring.targets import target_for
from portal.aws import aws_client

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "123456789012", "us-east-1"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_legacy"
POOL = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/us-east-1_legacy"
LAMBDA_URI = "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"


def grant(function_arn: str, api_id: str, sid: str = "legacy-invoke") -> None:
    """The invoke permission the console adds when an API is pointed at a function."""
    aws_client("lambda").add_permission(
        FunctionName=function_arn,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*",
    )


def lambda_integration(api_id: str, function_arn: str) -> str:
    return aws_client("apigatewayv2").create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]


def make_http_api(function_arn: str) -> str:
    """legacy-http: GET /orders (JWT, orders.read) and POST /orders (open) → the function;
    stage `live`, auto-deployed, throttled at 20/s, burst 10."""
    v2 = aws_client("apigatewayv2")
    api_id = v2.create_api(Name="legacy-http", ProtocolType="HTTP", Tags={"team": "shop"})["ApiId"]
    integration = lambda_integration(api_id, function_arn)
    authorizer = v2.create_authorizer(
        ApiId=api_id,
        Name="users",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": ISSUER, "Audience": ["web-client"]},
    )["AuthorizerId"]
    v2.create_route(
        ApiId=api_id,
        RouteKey="GET /orders",
        Target=f"integrations/{integration}",
        AuthorizationType="JWT",
        AuthorizerId=authorizer,
        AuthorizationScopes=["orders.read"],
    )
    v2.create_route(ApiId=api_id, RouteKey="POST /orders", Target=f"integrations/{integration}")
    v2.create_stage(
        ApiId=api_id,
        StageName="live",
        AutoDeploy=True,
        DefaultRouteSettings={"ThrottlingRateLimit": 20.0, "ThrottlingBurstLimit": 10},
    )
    grant(function_arn, api_id)
    return api_id


def make_rest_api(function_arn: str) -> str:
    """legacy-rest: GET /orders (Cognito, orders.read) and GET /orders/{id} (open) → the
    function, deployed to stage `prod`, throttled at 30/s, burst 15."""
    apigw = aws_client("apigateway")
    api_id = apigw.create_rest_api(name="legacy-rest", description="orders, by hand")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    orders = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="orders")["id"]
    one = apigw.create_resource(restApiId=api_id, parentId=orders, pathPart="{id}")["id"]
    authorizer = apigw.create_authorizer(
        restApiId=api_id,
        name="users",
        type="COGNITO_USER_POOLS",
        providerARNs=[POOL],
        identitySource="method.request.header.Authorization",
    )["id"]
    uri = LAMBDA_URI.format(region=REGION, arn=function_arn)
    for resource, auth in ((orders, "COGNITO_USER_POOLS"), (one, "NONE")):
        extra = (
            {"authorizerId": authorizer, "authorizationScopes": ["orders.read"]}
            if auth != "NONE"
            else {}
        )
        apigw.put_method(
            restApiId=api_id,
            resourceId=resource,
            httpMethod="GET",
            authorizationType=auth,
            **extra,
        )
        apigw.put_integration(
            restApiId=api_id,
            resourceId=resource,
            httpMethod="GET",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=uri,
        )
    apigw.create_deployment(restApiId=api_id, stageName="prod", description="by hand")
    apigw.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "30"},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "15"},
        ],
    )
    grant(function_arn, api_id)
    return api_id


def stage_arn(api_type: str, api_id: str, stage: str) -> str:
    path = "restapis" if api_type == "rest" else "apis"
    return f"arn:aws:apigateway:{REGION}::/{path}/{api_id}/stages/{stage}"


def first_plan_changes_nothing(instance: ServiceInstance, user) -> None:
    with pytest.raises(services.NothingToChange):
        services.deployment_plan(instance=instance, spec=instance.applied_spec, user=user)


def test_http_api_is_adopted_and_its_first_plan_changes_nothing(client, personas, aws_clean):
    function_arn = make_target(personas, "orders-fn").resources["function_arn"]
    api_id = make_http_api(function_arn)
    name = stage_arn("http", api_id, "live")

    client.force_login(personas["alice"])
    page = client.get(reverse("interop:discovery"), {"environment": "dev"})
    rows = [(f.title, f.detail, f.adoptable) for f in page.context["found"] if f.name == name]
    assert rows == [("legacy-http", "HTTP API, stage live", True)]
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": "apigateway", "name": name, "slug": "shop-api", "owner": personas["payments"].pk},
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    shown = client.get(response["Location"]).content.decode()
    url = reverse("catalog:service_detail", args=["shop-api"])
    assert f'Adopted legacy-http (stage live) as <a href="{url}">shop-api</a>.' in shown
    assert f"Adopted {name}" not in shown  # the stage's ARN, as the form posted it

    instance = ServiceInstance.objects.get(service__slug="shop-api")
    assert instance.service.kind == "apigateway"
    assert instance.status == ServiceInstance.Status.HEALTHY
    assert (instance.resources["api_id"], instance.resources["stage_name"]) == (api_id, "live")
    spec = instance.applied_spec
    assert spec["api_type"] == "http" and spec["throttle"] == {"rate": 20, "burst": 10}
    assert spec["routes"] == [
        {"method": "GET", "path": "/orders", "target": "orders-fn", "auth": "users"}
        | {"scopes": ["orders.read"]},
        {"method": "POST", "path": "/orders", "target": "orders-fn"},
    ]
    assert spec["authorizers"] == [
        {
            "name": "users",
            "type": "jwt",
            "issuer": ISSUER,
            "audience": ["web-client"],
            "lambda_type": "token",
            "header": "Authorization",
        }
    ]
    tags = aws_client("apigatewayv2").get_api(ApiId=api_id)["Tags"]
    assert tags["slipway:service"] == "shop-api" and tags["team"] == "shop"
    assert name not in {f.name for f in discovery.discover_unmanaged(environment=personas["dev"])}
    event = AuditEvent.objects.get(action="resource.adopt")
    assert event.actor == personas["alice"] and event.result == "ok"

    first_plan_changes_nothing(instance, personas["alice"])

    # An update lands on the adopted API, not on a new one named after Slipway's convention.
    updated = {
        **spec,
        "routes": [
            *spec["routes"],
            {"method": "GET", "path": "/orders/{id}", "target": "orders-fn"},
        ],
        "throttle": {"rate": 40, "burst": 20},
    }
    planned = services.deployment_plan(instance=instance, spec=updated, user=personas["alice"])
    lines = plan_lines(planned)
    assert "new route GET /orders/{id} → orders-fn (Lambda)" in lines
    assert "stage throttling rate 20 → 40" in lines
    assert not any("invoke" in line or "Create" in line for line in lines), lines
    run(planned)

    v2 = aws_client("apigatewayv2")
    assert [a["ApiId"] for a in v2.get_apis()["Items"]] == [api_id]
    keys = sorted(r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"])
    assert keys == ["GET /orders", "GET /orders/{id}", "POST /orders"]
    settings = v2.get_stage(ApiId=api_id, StageName="live")["DefaultRouteSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (40.0, 20)
    instance.refresh_from_db()
    first_plan_changes_nothing(instance, personas["alice"])


def test_rest_api_is_adopted_and_its_first_plan_changes_nothing(personas, aws_clean):
    function_arn = make_target(personas, "orders-fn").resources["function_arn"]
    api_id = make_rest_api(function_arn)

    instance = discovery.resource_adopt(
        environment=personas["dev"],
        kind="apigateway",
        name=stage_arn("rest", api_id, "prod"),
        owner=personas["payments"],
        slug="shop-api",
        user=personas["bob"],
    ).instance
    assert instance.service.description == "orders, by hand"
    spec = instance.applied_spec
    assert spec["api_type"] == "rest" and spec["throttle"] == {"rate": 30, "burst": 15}
    assert [(r["method"], r["path"], r.get("auth"), r.get("scopes")) for r in spec["routes"]] == [
        ("GET", "/orders", "users", ["orders.read"]),
        ("GET", "/orders/{id}", None, None),
    ]
    assert spec["authorizers"][0]["user_pool_arn"] == POOL
    apigw = aws_client("apigateway")
    assert apigw.get_rest_api(restApiId=api_id)["tags"]["slipway:service"] == "shop-api"

    first_plan_changes_nothing(instance, personas["bob"])
    # Its metrics are looked up under its own name and stage.
    assert target_for(instance).dimensions["AWS/ApiGateway"] == [
        {"Name": "ApiName", "Value": "legacy-rest"},
        {"Name": "Stage", "Value": "prod"},
    ]

    # Throttling alone: the stage changes, no new deployment of the routes.
    throttled = {**spec, "throttle": {"rate": 60, "burst": 30}}
    planned = services.deployment_plan(instance=instance, spec=throttled, user=personas["bob"])
    assert [step["summary"] for step in planned.plan] == [
        "stage throttling rate 30 → 60; stage throttling burst 15 → 30"
    ]
    run(planned)
    settings = apigw.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (60.0, 30)

    # A new route: created on the adopted API and deployed to its own stage.
    served = apigw.get_stage(restApiId=api_id, stageName="prod")["deploymentId"]
    instance.refresh_from_db()
    routed = {
        **throttled,
        "routes": [
            *spec["routes"],
            {"method": "DELETE", "path": "/orders/{id}", "target": "orders-fn"},
        ],
    }
    run(services.deployment_plan(instance=instance, spec=routed, user=personas["bob"]))
    assert [a["id"] for a in apigw.get_rest_apis()["items"]] == [api_id]
    one = next(
        r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/orders/{id}"
    )
    assert apigw.get_method(restApiId=api_id, resourceId=one["id"], httpMethod="DELETE")
    assert apigw.get_stage(restApiId=api_id, stageName="prod")["deploymentId"] != served
    instance.refresh_from_db()
    first_plan_changes_nothing(instance, personas["bob"])


def test_an_api_routed_to_unknown_targets_is_refused_and_nothing_is_stored(
    client, personas, aws_clean
):
    stranger = (
        make_target(personas, "orders-fn")
        .resources["function_arn"]
        .replace("orders-fn-dev", "nobody-knows")
    )
    aws_client("lambda").create_function(
        FunctionName="nobody-knows",
        Runtime="python3.12",
        Role=aws_client("iam").get_role(RoleName="test-lambda")["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    v2 = aws_client("apigatewayv2")
    api_id = v2.create_api(Name="legacy-http", ProtocolType="HTTP")["ApiId"]
    to_lambda = lambda_integration(api_id, stranger)
    to_site = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri="https://legacy.example.com/orders",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /orders", Target=f"integrations/{to_lambda}")
    v2.create_route(ApiId=api_id, RouteKey="GET /site", Target=f"integrations/{to_site}")
    v2.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)

    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {
            "kind": "apigateway",
            "name": stage_arn("http", api_id, "live"),
            "slug": "shop-api",
            "owner": personas["payments"].pk,
        },
    )
    assert response.status_code == 400
    shown = response.content.decode()
    assert "legacy-http (stage live) cannot be adopted:" in shown
    assert "GET /orders goes to Lambda function nobody-knows" in shown
    assert "is not a Slipway service in Development" in shown
    assert "GET /site goes to https://legacy.example.com/orders (HTTP_PROXY integration)" in shown
    assert not Service.objects.filter(slug="shop-api").exists()
    assert not AuditEvent.objects.filter(action="resource.adopt").exists()
    assert "slipway:service" not in (v2.get_api(ApiId=api_id).get("Tags") or {})


def test_adopting_an_api_needs_the_owner_team(client, personas, aws_clean):
    function_arn = make_target(personas, "orders-fn").resources["function_arn"]
    api_id = make_http_api(function_arn)
    url = reverse("interop:adopt", args=["dev"])
    form = {
        "kind": "apigateway",
        "name": stage_arn("http", api_id, "live"),
        "slug": "shop-api",
        "owner": personas["payments"].pk,
    }

    anonymous = client.post(url, form)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    client.force_login(personas["charlie"])  # in team search, not payments
    assert client.get(url).status_code == 405
    refused = client.post(url, form)
    assert refused.status_code == 400
    assert "owner" in refused.context["form"].errors
    assert not Service.objects.filter(slug="shop-api").exists()
    assert "slipway:service" not in aws_client("apigatewayv2").get_api(ApiId=api_id)["Tags"]
    # The service layer refuses too (any caller, not only this form), and audits the refusal.
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        discovery.resource_adopt(
            environment=personas["dev"],
            kind="apigateway",
            name=form["name"],
            owner=personas["payments"],
            slug="shop-api",
            user=personas["charlie"],
        )
    assert AuditEvent.objects.get(action="resource.adopt").result == "denied"


def test_a_stage_without_throttling_is_adopted_at_the_account_limits(personas, aws_clean):
    function_arn = make_target(personas, "orders-fn").resources["function_arn"]
    v2 = aws_client("apigatewayv2")
    api_id = v2.create_api(Name="plain-http", ProtocolType="HTTP")["ApiId"]
    integration = lambda_integration(api_id, function_arn)
    v2.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    grant(function_arn, api_id)

    instance = discovery.resource_adopt(
        environment=personas["dev"],
        kind="apigateway",
        name=stage_arn("http", api_id, "$default"),
        owner=personas["payments"],
        slug="plain-api",
        user=personas["alice"],
    ).instance
    assert instance.applied_spec["throttle"] == {"rate": 10000, "burst": 5000}
    assert instance.applied_spec["routes"] == [
        {"method": "ANY", "path": "/{proxy+}", "target": "orders-fn"}
    ]
    first_plan_changes_nothing(instance, personas["alice"])
    # Asking for less than the account allows is a change to the stage (in steps the
    # environment's guardrails allow: at most half at once in Development).
    lower = {**instance.applied_spec, "throttle": {"rate": 5000, "burst": 2500}}
    planned = services.deployment_plan(instance=instance, spec=lower, user=personas["alice"])
    assert plan_lines(planned)[1:] == [
        "stage throttling rate 10000 → 5000",
        "stage throttling burst 5000 → 2500",
    ]


def test_deleting_an_adopted_api_removes_that_api_and_its_grant(personas, aws_clean):
    function_arn = make_target(personas, "orders-fn").resources["function_arn"]
    api_id = make_rest_api(function_arn)
    aws_client("apigateway").create_rest_api(name="bystander")
    instance = discovery.resource_adopt(
        environment=personas["dev"],
        kind="apigateway",
        name=stage_arn("rest", api_id, "prod"),
        owner=personas["payments"],
        slug="shop-api",
        user=personas["alice"],
    ).instance
    planned = services.deployment_plan(
        instance=instance,
        spec=instance.applied_spec,
        user=personas["alice"],
        action=Deployment.Action.DELETE,
    )
    assert [step["summary"] for step in planned.plan] == [
        "Delete stage prod",
        "Delete REST API legacy-rest",
        "withdraw API Gateway's permission to invoke orders-fn-dev",
    ]
    run(planned)
    names = [a["name"] for a in aws_client("apigateway").get_rest_apis()["items"]]
    assert names == ["bystander"]
    # The statement made by hand (Sid "legacy-invoke") was the API's grant: it is gone too.
    with pytest.raises(aws_client("lambda").exceptions.ResourceNotFoundException):
        aws_client("lambda").get_policy(FunctionName=function_arn)
