"""The API Gateway forms: route lines, targets in the catalog, throttling numbers, API keys.

Bad input is shown next to its field, and nothing is created: no service row, no deployment,
and (for the view) no API in the emulator.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from deployments.forms.apigateway import (
    ApiGatewayScaleForm,
    ApiGatewayServiceForm,
    ApiGatewayUpdateForm,
    parse_routes,
)
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


def deployed(personas, slug, kind="lambda", environment="dev", arn=True):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug=slug, kind=kind
    )
    instance = catalog_services.instance_get_or_create(
        service=service, environment=personas[environment]
    )
    instance.applied_spec = {"kind": kind}
    instance.status = ServiceInstance.Status.HEALTHY
    if arn and kind == "lambda":
        instance.resources = {
            "function_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{slug}-dev"
        }
    instance.save()
    return instance


def data(personas, **overrides):
    values = {
        "name": "shop-api",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "api_type": "rest",
        "routes": "GET /orders -> orders-fn",
        "throttle_rate": "100",
        "throttle_burst": "50",
        "quota_period": "DAY",
    }
    values.update(overrides)
    return values


def form(personas, **overrides):
    teams = personas["payments"].__class__.objects.filter(pk=personas["payments"].pk)
    return ApiGatewayServiceForm(data(personas, **overrides), teams=teams)


def test_valid_form_builds_the_spec(personas):
    deployed(personas, "orders-fn")
    f = form(
        personas, routes="get /orders/{id} -> orders-fn\n# comment\n\nPOST /orders → orders-fn"
    )
    assert f.is_valid(), f.errors
    assert f.spec() == {
        "kind": "apigateway",
        "api_type": "rest",
        "stage": "dev",
        "routes": [
            {"method": "GET", "path": "/orders/{id}", "target": "orders-fn"},
            {"method": "POST", "path": "/orders", "target": "orders-fn"},
        ],
        "throttle": {"rate": 100, "burst": 50},
        "require_api_key": False,
        "usage_plan": None,
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("GET orders-fn", "Line 1: write METHOD /path -> service"),
        ("FETCH /orders -> orders-fn", "Line 1: FETCH is not an HTTP method"),
        ("GET orders -> orders-fn", "Line 1: orders is not a valid path"),
        ("GET /a//b -> orders-fn", "is not a valid path"),
        ("GET /{proxy+}/x -> orders-fn", "Line 1: A greedy {name+} must come last"),
        ("GET /a -> orders-fn\nGET /a -> orders-fn", "Line 2: GET /a is listed twice"),
        ("", "This field is required"),
        ("# only a comment", "Add at least one route"),
    ],
)
def test_bad_route_lines_are_refused_on_the_routes_field(personas, line, message):
    deployed(personas, "orders-fn")
    f = form(personas, routes=line)
    assert not f.is_valid()
    assert message in " ".join(f.errors["routes"]), f.errors


def test_unknown_target_and_wrong_kind(personas):
    deployed(personas, "orders-fn")
    deployed(personas, "other-api", kind="apigateway")
    f = form(personas, routes="GET /a -> orders-fn\nGET /b -> nope\nGET /c -> other-api")
    assert not f.is_valid()
    errors = f.errors["routes"]
    assert "Line 2: there is no service called nope in the catalog." in errors
    assert any(e.startswith("Line 3: other-api is a API Gateway API") for e in errors), errors
    assert len(errors) == 2


def test_target_not_deployed_in_that_environment(personas):
    deployed(personas, "orders-fn", environment="prod")
    f = form(personas)
    assert not f.is_valid()
    assert f.errors["routes"] == [
        "Line 1: orders-fn is not deployed in Development; deploy it first."
    ]


def test_ecs_target_needs_the_environment_load_balancer(personas):
    deployed(personas, "catalog-svc", kind="ecs")
    f = form(personas, routes="GET /catalog -> catalog-svc")
    assert not f.is_valid()
    assert "has no shared load balancer" in f.errors["routes"][0]
    personas[
        "dev"
    ].alb_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
    personas["dev"].save()
    assert form(personas, routes="GET /catalog -> catalog-svc").is_valid()


@pytest.mark.parametrize("field", ["throttle_rate", "throttle_burst"])
def test_negative_throttle_is_refused(personas, field):
    deployed(personas, "orders-fn")
    f = form(personas, **{field: "-1"})
    assert not f.is_valid()
    assert "greater than or equal to 0" in f.errors[field][0]


def test_api_keys_need_a_rest_api_and_usage_plan_numbers(personas):
    deployed(personas, "orders-fn")
    f = form(
        personas,
        api_type="http",
        require_api_key="on",
        quota_limit="10",
        plan_rate="1",
        plan_burst="1",
    )
    assert not f.is_valid()
    assert "HTTP APIs have no API keys" in f.errors["require_api_key"][0]
    f = form(personas, require_api_key="on")
    assert not f.is_valid()
    for field in ("quota_limit", "plan_rate", "plan_burst"):
        assert f.errors[field] == ["Required when the API requires keys."]
    f = form(personas, require_api_key="on", quota_limit="1000", plan_rate="10", plan_burst="5")
    assert f.is_valid(), f.errors
    assert f.spec()["usage_plan"] == {
        "quota_limit": 1000,
        "quota_period": "DAY",
        "rate": 10,
        "burst": 5,
    }


def test_update_form_keeps_type_and_checks_targets_in_the_stage_environment(personas):
    deployed(personas, "orders-fn")
    spec = form_spec(personas)
    f = ApiGatewayUpdateForm(spec=spec)
    assert f["routes"].value() == "GET /orders -> orders-fn"
    f = ApiGatewayUpdateForm(
        {
            "routes": "GET /orders -> orders-fn\nGET /x -> ghost",
            "throttle_rate": "1",
            "throttle_burst": "1",
        },
        spec=spec,
    )
    assert not f.is_valid()
    assert f.errors["routes"] == ["Line 2: there is no service called ghost in the catalog."]
    f = ApiGatewayUpdateForm(
        {"routes": "DELETE /orders -> orders-fn", "throttle_rate": "7", "throttle_burst": "3"},
        spec=spec,
    )
    assert f.is_valid(), f.errors
    assert f.spec()["api_type"] == "http" and f.spec()["stage"] == "dev"
    assert f.spec()["routes"] == [{"method": "DELETE", "path": "/orders", "target": "orders-fn"}]


def form_spec(personas):
    f = form(personas, api_type="http")
    assert f.is_valid(), f.errors
    return f.spec()


def test_scale_form_changes_only_throttling(personas):
    deployed(personas, "orders-fn")
    spec = form_spec(personas)
    f = ApiGatewayScaleForm({"throttle_rate": "-5", "throttle_burst": "10"}, spec=spec)
    assert not f.is_valid() and "throttle_rate" in f.errors
    f = ApiGatewayScaleForm({"throttle_rate": "250", "throttle_burst": "10"}, spec=spec)
    assert f.is_valid()
    assert f.spec() == {**spec, "throttle": {"rate": 250, "burst": 10}}


def test_parse_routes_keeps_line_numbers():
    routes, lines = parse_routes("\nget / -> a1\n")
    assert routes == [{"method": "GET", "path": "/", "target": "a1"}]
    assert lines == [2]


# --- through the view: errors next to the field, nothing created ---------------------------------
def test_view_shows_the_error_next_to_the_routes_field_and_creates_nothing(client, personas):
    deployed(personas, "orders-fn", environment="prod")
    client.force_login(personas["alice"])
    url = reverse("deployments:service_new", args=["apigateway"])
    assert client.get(url).status_code == 200
    response = client.post(url, data(personas))
    assert response.status_code == 400
    page = response.content.decode()
    assert "orders-fn is not deployed in Development; deploy it first." in page
    assert not Service.objects.filter(slug="shop-api").exists()
    assert not Deployment.objects.exists()


def test_view_requires_login_and_a_team(client, personas):
    url = reverse("deployments:service_new", args=["apigateway"])
    response = client.post(url, data(personas))
    assert response.status_code == 302 and "/login" in response["Location"]
    client.force_login(personas["charlie"])
    response = client.post(url, data(personas, owner=personas["payments"].pk))
    assert response.status_code == 400  # payments is not one of charlie's teams
    assert not Service.objects.filter(slug="shop-api").exists()
