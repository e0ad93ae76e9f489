"""The API's typed specs: documented per kind, one set of rules shared with the web forms, a
typed create per kind against the emulator, and no environment variable or secret value in any
answer."""

import json

import pytest
from django.urls import reverse

from api.services import token_create
from catalog import services as catalog_services
from catalog.models import Service
from conftest import field_errors, wait_for
from deployments.models import Deployment
from portal.aws import aws_client

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"
SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/db-password"
SECRET_VALUE = "s3cr3t-value-never-shown"


def bearer(user) -> dict:
    _, secret = token_create(user=user, name="test")
    return {"authorization": f"Bearer {secret}"}


def post(client, url, body, headers):
    return client.post(url, json.dumps(body), "application/json", headers=headers)


def lambda_in(**overrides) -> dict:
    return {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": SOURCE,
        "memory_size": 256,
        "environment": {"LOG_LEVEL": "debug"},
        **overrides,
    }


def ecs_in(**overrides) -> dict:
    return {
        "kind": "ecs",
        "image": "public.ecr.aws/nginx/nginx:1.27",
        "cpu": 256,
        "memory": 512,
        "container_port": 8080,
        "environment": {"LOG_LEVEL": SECRET_VALUE},
        "secrets": {"DB_PASSWORD": SSM_ARN},
        "health_check_path": "/health",
        "load_balancer": {"path": "/orders/*"},
        "desired_count": 2,
        "autoscaling": {"min": 1, "max": 4, "metric": "cpu", "target": 60},
        **overrides,
    }


def api_in(**overrides) -> dict:
    return {
        "kind": "apigateway",
        "api_type": "rest",
        "routes": [{"method": "GET", "path": "/orders", "target": "orders-fn"}],
        "throttle": {"rate": 100, "burst": 50},
        **overrides,
    }


def launch_body(name, spec, environment="dev") -> dict:
    return {"name": name, "owner": "payments", "environment": environment, "spec": spec}


# --- the schema ----------------------------------------------------------------------------------
def test_openapi_documents_every_field_of_every_kind(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    parts = schema["components"]["schemas"]

    def fields(name: str) -> dict:
        return parts[name]["properties"]

    launch = fields("LaunchIn")["spec"]
    assert launch["discriminator"]["propertyName"] == "kind"
    assert set(launch["discriminator"]["mapping"]) >= {"lambda", "ecs", "apigateway"}

    lam = fields("LambdaInput")
    assert {"runtime", "handler", "memory_size", "timeout", "environment", "triggers"} <= set(lam)
    assert {"reserved_concurrency", "provisioned_concurrency", "code_s3", "source"} <= set(lam)
    assert lam["memory_size"]["minimum"] == 128 and lam["memory_size"]["maximum"] == 10240
    assert "python3.12" in lam["runtime"]["enum"]
    assert "s3:ObjectCreated:*" in fields("S3Trigger")["events"]["items"]["enum"]
    assert {"bus", "pattern"} <= set(fields("EventBridgeRule"))

    ecs = fields("EcsSpec")
    assert {"image", "cpu", "memory", "container_port", "secrets", "health_check_path"} <= set(ecs)
    assert {"load_balancer", "desired_count", "autoscaling"} <= set(ecs)
    assert 512 in ecs["cpu"]["enum"]
    assert {"min", "max", "metric", "target"} <= set(fields("Autoscaling"))

    api = fields("ApiGatewayInput")
    assert {"api_type", "routes", "throttle", "require_api_key", "usage_plan"} <= set(api)
    assert "GET" in fields("Route")["method"]["enum"]
    assert fields("Throttle")["burst"]["maximum"] == 5000

    # Update takes any field of the kind; scale only the scaling ones.
    assert {"memory_size", "environment"} <= set(fields("LambdaChanges"))
    assert set(fields("LambdaScale")) == {"kind", "reserved_concurrency", "provisioned_concurrency"}
    assert set(fields("EcsScale")) == {"kind", "desired_count", "autoscaling"}
    assert set(fields("ApiGatewayScale")) == {"kind", "throttle"}
    assert "never returns their values" in fields("InstanceOut")["applied_spec"]["description"]


# --- one definition of valid: the same refusal and message on the form and the API ------------
def _form_errors(client, personas, kind, overrides, field):
    from deployments.tests import test_ecs_form, test_lambda_form

    valid = {"lambda": test_lambda_form.valid_data, "ecs": test_ecs_form.valid_data}[kind]
    url = reverse("deployments:service_new", args=[kind])
    client.force_login(personas["alice"])
    response = client.post(url, valid(personas, **overrides))
    assert response.status_code == 400
    return field_errors(response, field)


PARITY = [
    ("lambda", {"memory_size": "64"}, {"memory_size": 64}, "memory_size", "memory_size"),
    ("lambda", {"timeout": "901"}, {"timeout": 901}, "timeout", "timeout"),
    ("lambda", {"handler": "nodot"}, {"handler": "nodot"}, "handler", "handler"),
    (
        "lambda",
        {"env_vars": "AWS_REGION=eu-west-1"},
        {"environment": {"AWS_REGION": "eu-west-1"}},
        "env_vars",
        "environment",
    ),
    (
        "lambda",
        {"reserved_concurrency": "2", "provisioned_concurrency": "3"},
        {"reserved_concurrency": 2, "provisioned_concurrency": 3},
        "provisioned_concurrency",
        "provisioned_concurrency",
    ),
    (
        "lambda",
        {"event_bus": "default", "event_pattern": '{"source": ["a"]}'},
        {"triggers": {"eventbridge": [{"bus": "default", "pattern": {"source": ["a"]}}]}},
        "event_bus",
        "triggers.eventbridge.0.bus",
    ),
    ("ecs", {"memory": "4096"}, {"memory": 4096}, "memory", "memory"),
    ("ecs", {"image": "Not An Image!"}, {"image": "Not An Image!"}, "image", "image"),
    (
        "ecs",
        {"secrets": "DB_PASSWORD=hunter2"},
        {"secrets": {"DB_PASSWORD": "hunter2"}},
        "secrets",
        "secrets",
    ),
    ("ecs", {"desired_count": "9"}, {"desired_count": 9}, "desired_count", "desired_count"),
    (
        "ecs",
        {"min_count": "5", "max_count": "2", "desired_count": "3"},
        {"autoscaling": {"min": 5, "max": 2, "target": 60}, "desired_count": 3},
        "max_count",
        "autoscaling.max",
    ),
    (
        "ecs",
        {"lb_value": "orders/*"},
        {"load_balancer": {"path": "orders/*"}},
        "lb_value",
        "load_balancer.path",
    ),
]


@pytest.mark.parametrize(
    ("kind", "form_overrides", "api_overrides", "form_field", "api_field"),
    PARITY,
    ids=[f"{p[0]}-{p[4]}" for p in PARITY],
)
def test_form_and_api_refuse_the_same_input_with_the_same_message(
    client, personas, kind, form_overrides, api_overrides, form_field, api_field
):
    form_messages = _form_errors(client, personas, kind, form_overrides, form_field)
    spec = {"lambda": lambda_in, "ecs": ecs_in}[kind](**api_overrides)
    headers = bearer(personas["alice"])
    response = post(client, "/api/v1/launches", launch_body("orders", spec), headers)
    assert response.status_code == 422, response.content
    api_messages = response.json()["errors"][f"spec.{api_field}"]
    assert form_messages == api_messages
    assert not Service.objects.exists() and not Deployment.objects.exists()


@pytest.mark.parametrize(
    ("form_overrides", "api_overrides", "form_field", "api_field", "message"),
    [
        (
            {"api_type": "http", "require_api_key": "on"},
            {"api_type": "http", "require_api_key": True, "usage_plan": {}},
            "require_api_key",
            "spec.require_api_key",
            "HTTP APIs have no API keys or usage plans; choose a REST API.",
        ),
        (
            {"routes": "GET /a -> ghost"},
            {"routes": [{"method": "GET", "path": "/a", "target": "ghost"}]},
            "routes",
            "spec.routes.0.target",
            "there is no service called ghost in the catalog.",
        ),
        (
            {"routes": "GET /{p+}/x -> orders-fn"},
            {"routes": [{"method": "GET", "path": "/{p+}/x", "target": "orders-fn"}]},
            "routes",
            "spec.routes.0.path",
            "A greedy {name+} must come last.",
        ),
        (
            {"throttle_burst": "5001"},
            {"throttle": {"rate": 100, "burst": 5001}},
            "throttle_burst",
            "spec.throttle.burst",
            "Ensure this value is less than or equal to 5000.",
        ),
    ],
)
def test_api_gateway_form_and_api_share_messages(
    client, personas, form_overrides, api_overrides, form_field, api_field, message
):
    from deployments.tests.test_apigateway_form import deployed, form

    deployed(personas, "orders-fn")
    f = form(personas, **form_overrides)
    assert not f.is_valid()
    # The form names the line the route was typed on; the API names the route's index.
    assert [e.removeprefix("Line 1: ") for e in f.errors[form_field]] == [message]
    response = post(
        client,
        "/api/v1/launches",
        launch_body("orders-api", api_in(**api_overrides)),
        bearer(personas["alice"]),
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][api_field] == [message]


def test_textarea_encodings_are_refused_by_the_api(client, personas):
    """The API takes lists and objects: KEY=value text is not an environment."""
    body = launch_body("orders", lambda_in(environment="LOG_LEVEL=debug"))
    response = post(client, "/api/v1/launches", body, bearer(personas["alice"]))
    assert response.status_code == 422
    assert response.json()["errors"] == {"spec.environment": ["Enter an object."]}
    body = launch_body("orders", {**lambda_in(), "kind": "mainframe"})
    response = post(client, "/api/v1/launches", body, bearer(personas["alice"]))
    assert response.status_code == 422
    assert "Unknown kind" in response.json()["errors"]["spec"][0]


# --- names only ----------------------------------------------------------------------------------
def test_service_detail_shows_env_var_and_secret_names_only(client, personas):
    from deployments.specs import parse_spec

    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders", kind="ecs"
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    instance.applied_spec = parse_spec(ecs_in()).to_json()  # as a finished deployment leaves it
    instance.save()
    response = client.get("/api/v1/services/orders", headers=bearer(personas["charlie"]))
    assert response.status_code == 200
    applied = response.json()["instances"][0]["applied_spec"]
    assert applied["environment"] == ["LOG_LEVEL"] and applied["secrets"] == ["DB_PASSWORD"]
    assert SECRET_VALUE not in response.content.decode()
    assert SSM_ARN not in response.content.decode()
    assert applied["image"] == "public.ecr.aws/nginx/nginx:1.27"  # the rest is shown as is


# --- typed creates per kind, against the emulator, through the worker --------------------------
def _finished(client, headers, pk):
    def check():
        data = client.get(f"/api/v1/deployments/{pk}", headers=headers).json()
        return data if data["status"] in ("succeeded", "failed", "rolled_back") else None

    done = wait_for(check, message=f"deployment {pk} did not finish")
    assert done["status"] == "succeeded", (done["error"], done["steps"])
    return done


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_typed_lambda_then_api_gateway_create_through_the_api(
    client, personas, aws_clean, celery_worker
):
    headers = bearer(personas["alice"])
    spec = lambda_in(
        environment={"LOG_LEVEL": SECRET_VALUE},
        reserved_concurrency=5,
        triggers={"eventbridge": [{"bus": "orders-bus", "pattern": {"source": ["shop"]}}]},
    )
    aws_client("events").create_event_bus(Name="orders-bus")
    response = post(client, "/api/v1/launches", launch_body("orders-fn", spec), headers)
    assert response.status_code == 201, response.content
    _finished(client, headers, response.json()["id"])
    lam = aws_client("lambda")
    config = lam.get_function(FunctionName="orders-fn-dev")["Configuration"]
    assert config["MemorySize"] == 256
    assert config["Environment"]["Variables"] == {"LOG_LEVEL": SECRET_VALUE}
    rules = aws_client("events").list_rules(EventBusName="orders-bus")["Rules"]
    assert json.loads(rules[0]["EventPattern"]) == {"source": ["shop"]}

    # An update names only what changes; the typed rules still hold for the merged spec.
    url = "/api/v1/services/orders-fn/environments/dev/update"
    refused = post(client, url, {"spec": {"kind": "lambda", "provisioned_concurrency": 9}}, headers)
    assert refused.status_code == 422
    message = "Provisioned concurrency 9 exceeds reserved concurrency 5."
    assert refused.json()["errors"] == {"spec.provisioned_concurrency": [message]}
    wrong_kind = post(client, url, {"spec": {"kind": "ecs", "desired_count": 1}}, headers)
    assert wrong_kind.status_code == 422 and "spec.kind" in wrong_kind.json()["errors"]
    response = post(client, url, {"spec": {"kind": "lambda", "timeout": 30}}, headers)
    assert response.status_code == 201, response.content
    _finished(client, headers, response.json()["id"])
    config = lam.get_function(FunctionName="orders-fn-dev")["Configuration"]
    assert (config["Timeout"], config["MemorySize"]) == (30, 256)

    body = launch_body("orders-api", api_in(throttle={"rate": 20, "burst": 10}))
    response = post(client, "/api/v1/launches", body, headers)
    assert response.status_code == 201, response.content
    _finished(client, headers, response.json()["id"])
    apis = aws_client("apigateway").get_rest_apis()["items"]
    assert [a["name"] for a in apis] == ["orders-api-dev"]

    response = post(
        client,
        "/api/v1/services/orders-api/environments/dev/scale",
        {"spec": {"kind": "apigateway", "throttle": {"rate": 40, "burst": 20}}},
        headers,
    )
    assert response.status_code == 201, response.content
    _finished(client, headers, response.json()["id"])
    stage = aws_client("apigateway").get_stage(restApiId=apis[0]["id"], stageName="dev")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 40

    # Any token holder may read the services; no answer carries the variable's value.
    reader = bearer(personas["charlie"])
    for path in ("/api/v1/services/orders-fn", "/api/v1/services", "/api/v1/services/orders-api"):
        page = client.get(path, headers=reader)
        assert page.status_code == 200 and SECRET_VALUE not in page.content.decode()
    detail = client.get("/api/v1/services/orders-fn", headers=reader).json()
    assert detail["instances"][0]["applied_spec"]["environment"] == ["LOG_LEVEL"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_typed_ecs_create_and_scale_through_the_api(client, personas, aws_clean, celery_worker):
    headers = bearer(personas["alice"])
    response = post(client, "/api/v1/launches", launch_body("orders", ecs_in()), headers)
    assert response.status_code == 201, response.content
    _finished(client, headers, response.json()["id"])
    ecs = aws_client("ecs")
    personas["dev"].refresh_from_db()  # the first deploy recorded the environment's cluster
    service = ecs.describe_services(cluster=personas["dev"].ecs_cluster, services=["orders-dev"])
    assert service["services"][0]["desiredCount"] == 2
    task = ecs.describe_task_definition(taskDefinition=service["services"][0]["taskDefinition"])
    container = task["taskDefinition"]["containerDefinitions"][0]
    assert container["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SSM_ARN}]

    url = "/api/v1/services/orders/environments/dev/scale"
    refused = post(client, url, {"spec": {"kind": "ecs", "desired_count": 9}}, headers)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"spec.desired_count": ["Pick a count between 1 and 4."]}
    memory = post(client, url, {"spec": {"kind": "ecs", "memory": 1024}}, headers)
    assert memory.status_code == 422  # scale takes the scaling fields only
    response = post(client, url, {"spec": {"kind": "ecs", "desired_count": 3}}, headers)
    assert response.status_code == 201, response.content
    _finished(client, headers, response.json()["id"])
    service = ecs.describe_services(cluster=personas["dev"].ecs_cluster, services=["orders-dev"])
    assert service["services"][0]["desiredCount"] == 3
    body = client.get("/api/v1/services/orders", headers=bearer(personas["charlie"])).content
    assert SECRET_VALUE not in body.decode() and SSM_ARN not in body.decode()
