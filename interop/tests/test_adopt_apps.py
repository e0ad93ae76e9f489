"""AWS Copilot apps in discovery: resources tagged with one application are shown as one app
and adopted in one step, with the owner team and the Slipway environment chosen once."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from interop import apps_grouping, discovery
from interop.adopters import Unmanaged
from interop.tests.test_adopt_apigateway import (
    first_plan_changes_nothing,
    grant,
    lambda_integration,
)
from interop.tests.test_adopt_ecs import make_network, make_service
from interop.tests.test_discovery import make_unmanaged_function
from portal.aws import aws_client

pytestmark = pytest.mark.integration


def copilot(service: str, environment: str = "test") -> dict:
    return {
        "copilot-application": "shop",
        "copilot-environment": environment,
        "copilot-service": service,
    }


APP_FORM = {"source": "copilot", "app": "shop", "app_environment": "test", "environment": "dev"}


def make_copilot_app() -> dict:
    net = make_network("shop")
    arns = {
        "frontend": make_service(net, "frontend", path="/", tags=copilot("frontend")),
        "orders": make_service(net, "orders", path="/orders/*", tags=copilot("orders")),
    }
    arns["mailer"] = make_unmanaged_function("shop-test-mailer")
    aws_client("lambda").tag_resource(Resource=arns["mailer"], Tags=copilot("mailer"))
    make_unmanaged_function("unrelated")  # not part of the app
    return {**net, "arns": arns}


def test_copilot_app_is_listed_as_one_app_and_adopted_in_one_step(client, personas, aws_clean):
    make_copilot_app()
    client.force_login(personas["alice"])
    page = client.get(reverse("interop:discovery"), {"environment": "dev"})
    assert page.status_code == 200
    [app] = page.context["apps"]
    assert (app.source, app.app, app.app_environment) == ("copilot", "shop", "test")
    assert sorted((m.slug, m.item.kind) for m in app.members) == [
        ("frontend", "ecs"),
        ("mailer", "lambda"),
        ("orders", "ecs"),
    ]
    assert [f.name for f in page.context["found"]] == ["unrelated"]
    html = page.content.decode()
    assert "AWS Copilot app shop" in html and "Adopt app (3 services)" in html

    response = client.post(
        reverse("interop:adopt_app", args=["dev"]),
        {**APP_FORM, "owner": personas["payments"].pk, "prefix": "shop-"},
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    shown = client.get(response["Location"]).content.decode()
    start = shown.index("Adopted app shop: ")
    message = shown[start : shown.index("</li>", start)]
    links = [
        f'<a href="{reverse("catalog:service_detail", args=[slug])}">{slug}</a>'
        for slug in ("shop-frontend", "shop-mailer", "shop-orders")
    ]
    assert sorted(message.removeprefix("Adopted app shop: ").rstrip(".").split(", ")) == links
    adopted = Service.objects.order_by("slug")
    assert [(s.slug, s.kind, s.owner.slug) for s in adopted] == [
        ("shop-frontend", "ecs", "payments"),
        ("shop-mailer", "lambda", "payments"),
        ("shop-orders", "ecs", "payments"),
    ]
    instances = ServiceInstance.objects.filter(environment=personas["dev"])
    assert instances.count() == 3 and all(i.applied_spec for i in instances)
    # Adopted means tagged: only the unrelated function is left in discovery.
    left = discovery.discover_unmanaged(environment=personas["dev"])
    assert [f.name for f in left] == ["unrelated"]
    event = AuditEvent.objects.get(action="app.adopt")
    assert sorted(event.after["services"]) == ["shop-frontend", "shop-mailer", "shop-orders"]
    assert AuditEvent.objects.filter(action="resource.adopt").count() == 3


def test_taken_names_stop_the_app_before_anything_is_adopted(client, personas, aws_clean):
    make_copilot_app()
    client.force_login(personas["alice"])
    data = {**APP_FORM, "owner": personas["payments"].pk}
    catalog_services.service_create(
        user=personas["staff"], owner=personas["search"], slug="orders", kind="ecs"
    )
    response = client.post(reverse("interop:adopt_app", args=["dev"]), data)
    assert response.status_code == 400
    assert "already has orders" in response.content.decode()
    assert list(Service.objects.values_list("slug", flat=True)) == ["orders"]
    assert len(discovery.discover_unmanaged(environment=personas["dev"])) == 4


def test_another_teams_user_cannot_adopt_the_app(client, personas, aws_clean):
    make_copilot_app()
    client.force_login(personas["charlie"])
    response = client.post(
        reverse("interop:adopt_app", args=["dev"]),
        {**APP_FORM, "owner": personas["payments"].pk},
    )
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert not Service.objects.exists()
    assert len(discovery.discover_unmanaged(environment=personas["dev"])) == 4


def test_app_adoption_needs_a_team_and_a_login(client, personas):
    url = reverse("interop:adopt_app", args=["dev"])
    response = client.post(url, {"source": "copilot"})
    assert response.status_code == 302 and "login" in response["Location"]
    loner = type(personas["alice"]).objects.create_user("loner", "l@example.com", "pw-12345678")
    client.force_login(loner)
    assert client.post(url, {"source": "copilot"}).status_code == 403
    client.force_login(personas["alice"])
    assert client.get(url).status_code == 405


def test_proton_tags_group_by_proton_service_and_environment():
    arn = "arn:aws:proton:us-east-1:123456789012"
    tags = {
        "proton:service": f"{arn}:service/checkout",
        "proton:environment": f"{arn}:environment/staging",
        "proton:service-instance": f"{arn}:service/checkout/service-instance/staging",
    }
    items = [
        Unmanaged("ecs", "arn:ecs/1", "arn:ecs/1", "", True, label="checkout-svc", tags=tags),
        Unmanaged("lambda", "checkout-hook", "arn:fn", "", True, tags=tags),
        Unmanaged("lambda", "lonely", "arn:fn2", "", True, tags={"team": "x"}),
    ]
    [group], rest = apps_grouping.group_unmanaged(items)
    assert (group.source, group.app, group.app_environment) == ("proton", "checkout", "staging")
    assert sorted(m.slug for m in group.members) == [
        "checkout-checkout-hook",
        "checkout-checkout-svc",
    ]
    assert [r.name for r in rest] == ["lonely"]


def test_a_service_that_cannot_be_adopted_stops_the_app_with_what_was_done(
    client, personas, aws_clean
):
    make_copilot_app()
    # A second policy on orders: not something an ECS spec can hold.
    aws_client("application-autoscaling").put_scaling_policy(
        PolicyName="orders-memory",
        ServiceNamespace="ecs",
        ResourceId="service/shop-cluster/orders",
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageMemoryUtilization"
            },
        },
    )
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt_app", args=["dev"]), {**APP_FORM, "owner": personas["payments"].pk}
    )
    assert response.status_code == 400
    [message] = response.context["form"].non_field_errors()
    assert message.startswith("Adopted mailer, frontend; orders was not adopted: ")
    assert "not exactly one target-tracking policy" in message
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["frontend", "mailer"]
    left = discovery.discover_unmanaged(environment=personas["dev"])
    assert sorted(f.title for f in left) == ["orders", "unrelated"]


def test_an_api_of_the_app_is_adopted_with_the_function_it_routes_to(client, personas, aws_clean):
    """The API adopter (registered after this grouping was written) joins apps as it is: the
    app's function is adopted first, so the API's route finds it as a Slipway service."""
    function_arn = make_unmanaged_function("shop-test-mailer")
    aws_client("lambda").tag_resource(Resource=function_arn, Tags=copilot("mailer"))
    v2 = aws_client("apigatewayv2")
    api_id = v2.create_api(Name="shop-test-api", ProtocolType="HTTP", Tags=copilot("api"))["ApiId"]
    integration = lambda_integration(api_id, function_arn)
    v2.create_route(ApiId=api_id, RouteKey="POST /mail", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    grant(function_arn, api_id)

    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt_app", args=["dev"]), {**APP_FORM, "owner": personas["payments"].pk}
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    assert sorted(Service.objects.values_list("slug", "kind")) == [
        ("api", "apigateway"),
        ("mailer", "lambda"),
    ]
    api = ServiceInstance.objects.get(service__slug="api")
    assert api.applied_spec["routes"] == [{"method": "POST", "path": "/mail", "target": "mailer"}]
    first_plan_changes_nothing(api, personas["alice"])
