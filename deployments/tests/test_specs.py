"""The typed specs on their own: limits, cross-field rules, messages and the stored shape."""

import pytest
from pydantic import ValidationError

from deployments.specs import parse_spec, redacted, spec_errors
from deployments.specs.apigateway import ApiGatewayInput
from deployments.specs.lambda_ import LambdaInput

SHA = "ab" * 32
SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/db"


def lambda_spec(**overrides):
    return {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 256,
        "timeout": 10,
        "code_sha256": SHA,
        **overrides,
    }


def ecs_spec(**overrides):
    return {
        "kind": "ecs",
        "image": "nginx:1.27",
        "cpu": 256,
        "memory": 512,
        "container_port": 8080,
        "desired_count": 2,
        **overrides,
    }


def api_spec(**overrides):
    return {
        "kind": "apigateway",
        "api_type": "rest",
        "stage": "dev",
        "routes": [{"method": "GET", "path": "/orders", "target": "orders-fn"}],
        "throttle": {"rate": 100, "burst": 50},
        **overrides,
    }


def errors(data) -> dict[str, str]:
    """{dotted location: message} of a spec that must be refused."""
    with pytest.raises(ValidationError) as caught:
        parse_spec(data)
    return {".".join(map(str, loc)): message for loc, message in spec_errors(caught.value.errors())}


def test_a_stored_lambda_spec_keeps_the_shape_the_provisioner_reads():
    stored = parse_spec(lambda_spec(environment={"MODE": "live"})).to_json()
    assert stored == {
        "kind": "lambda",
        "description": "",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 256,
        "timeout": 10,
        "architecture": "x86_64",
        "environment": {"MODE": "live"},
        "reserved_concurrency": None,
        "provisioned_concurrency": 0,
        "triggers": {"s3": [], "eventbridge": []},
        "code_sha256": SHA,
    }
    assert parse_spec(stored).to_json() == stored  # a round trip changes nothing


@pytest.mark.parametrize(
    ("overrides", "where", "message"),
    [
        ({"memory_size": 127}, "memory_size", "greater than or equal to 128"),
        ({"memory_size": 10241}, "memory_size", "less than or equal to 10240"),
        ({"timeout": 0}, "timeout", "greater than or equal to 1"),
        ({"timeout": 901}, "timeout", "less than or equal to 900"),
        ({"runtime": "python2.7"}, "runtime", "Select one of"),
        ({"handler": "nodot"}, "handler", "module.function"),
        ({"environment": {"AWS_REGION": "x"}}, "environment", "reserved by AWS Lambda"),
        ({"environment": {"1BAD": "x"}}, "environment", "not a variable name"),
        ({"environment": {"BIG": "x" * 5000}}, "environment", "at most 4 KB"),
        ({"reserved_concurrency": -1}, "reserved_concurrency", "greater than or equal to 0"),
        (
            {"reserved_concurrency": 2, "provisioned_concurrency": 3},
            "provisioned_concurrency",
            "Provisioned concurrency 3 exceeds reserved concurrency 2.",
        ),
        (
            {"triggers": {"s3": [{"bucket": "a..b"}]}},
            "triggers.s3.0.bucket",
            "not a valid bucket name",
        ),
        (
            {"triggers": {"s3": [{"bucket": "10.0.0.1"}]}},
            "triggers.s3.0.bucket",
            "looks like an IP address",
        ),
        (
            {"triggers": {"s3": [{"bucket": "in-box", "events": ["s3:Nope"]}]}},
            "triggers.s3.0.events.0",
            "not an S3 event type",
        ),
        (
            {"triggers": {"s3": [{"bucket": "in-box"}, {"bucket": "in-box"}]}},
            "triggers.s3",
            "Bucket in-box is listed twice.",
        ),
        (
            {"triggers": {"eventbridge": [{"bus": "default", "pattern": {"source": ["a"]}}]}},
            "triggers.eventbridge.0.bus",
            "custom event bus",
        ),
        (
            {"triggers": {"eventbridge": [{"bus": "b", "pattern": {"source": "a"}}]}},
            "triggers.eventbridge.0.pattern",
            "non-empty list",
        ),
        (
            {"triggers": {"eventbridge": [{"bus": "b", "pattern": ["a"]}]}},
            "triggers.eventbridge.0.pattern",
            "JSON object",
        ),
        (
            {"code_s3": {"bucket": "code-box", "key": "a.zip"}},
            "code_s3",
            "not both",
        ),
        ({"surprise": 1}, "surprise", "Unknown field."),
    ],
)
def test_lambda_limits_and_rules(overrides, where, message):
    found = errors(lambda_spec(**overrides))
    assert where in found, found
    assert message in found[where]


def test_a_deep_event_pattern_is_refused_without_recursing():
    pattern: dict = {"source": ["a"]}
    node = pattern
    for _ in range(50):
        node["x"] = {}
        node = node["x"]
    spec = lambda_spec(triggers={"eventbridge": [{"bus": "b", "pattern": pattern}]})
    assert "nested deeper than 16" in errors(spec)["triggers.eventbridge.0.pattern"]


def test_lambda_input_needs_code_that_can_be_zipped():
    base = {k: v for k, v in lambda_spec().items() if k != "code_sha256"}
    with pytest.raises(ValidationError) as caught:
        LambdaInput.model_validate(base)
    assert spec_errors(caught.value.errors()) == [
        (("source",), "Write the handler's source, upload a zip, or name an S3 zip.")
    ]
    with pytest.raises(ValidationError) as caught:
        LambdaInput.model_validate({**base, "runtime": "java21", "source": "class A {}"})
    assert spec_errors(caught.value.errors()) == [(("source",), "java21 needs a zip upload.")]
    assert LambdaInput.model_validate({**base, "source": "def handler(e, c): pass"})


@pytest.mark.parametrize(
    ("overrides", "where", "message"),
    [
        ({"image": "Not An Image!"}, "image", "Not an image reference"),
        ({"cpu": 300}, "cpu", "Select one of"),
        (
            {"cpu": 256, "memory": 4096},
            "memory",
            "Fargate does not run 256 CPU units with 4096 MiB; with 256 pick 512, 1024 or "
            "2048 MiB.",
        ),
        ({"container_port": 70000}, "container_port", "less than or equal to 65535"),
        ({"environment": {"ECS_AGENT": "x"}}, "environment", "reserved by ECS"),
        ({"secrets": {"DB": "hunter2"}}, "secrets", "must reference an SSM parameter ARN"),
        (
            {"environment": {"DB": "x"}, "secrets": {"DB": SSM}},
            "secrets",
            "DB is also an environment variable.",
        ),
        ({"load_balancer": {"path": "orders/*"}}, "load_balancer.path", "starting with /"),
        ({"load_balancer": {"host": "not a host"}}, "load_balancer.host", "host name"),
        ({"load_balancer": {}}, "load_balancer.path", "a path or a host"),
        (
            {"autoscaling": {"min": 5, "max": 2, "target": 50}},
            "autoscaling.max",
            "The maximum must be at least the minimum.",
        ),
        (
            {"desired_count": 9, "autoscaling": {"min": 1, "max": 4, "target": 50}},
            "desired_count",
            "Pick a count between 1 and 4.",
        ),
        (
            {"autoscaling": {"min": 1, "max": 4, "target": 150, "metric": "memory"}},
            "autoscaling.target",
            "percentage",
        ),
        (
            {"autoscaling": {"min": 1, "max": 4, "target": 50, "metric": "requests"}},
            "autoscaling.metric",
            "Scaling on requests needs a load balancer.",
        ),
    ],
)
def test_ecs_limits_and_rules(overrides, where, message):
    found = errors(ecs_spec(**overrides))
    assert where in found, found
    assert message in found[where]


def test_ecs_load_balancer_is_stored_as_one_key():
    stored = parse_spec(ecs_spec(load_balancer={"host": "Orders.Example.com"})).to_json()
    assert stored["load_balancer"] == {"host": "orders.example.com"}
    assert stored["autoscaling"] is None and stored["secrets"] == {}


@pytest.mark.parametrize(
    ("overrides", "where", "message"),
    [
        ({"routes": []}, "routes", "Add at least one route."),
        (
            {"routes": [{"method": "GET", "path": f"/r{i}", "target": "a"} for i in range(51)]},
            "routes",
            "At most 50 routes per API.",
        ),
        (
            {"routes": [{"method": "FETCH", "path": "/a", "target": "a"}]},
            "routes.0.method",
            "FETCH is not an HTTP method",
        ),
        (
            {"routes": [{"method": "GET", "path": "a", "target": "a"}]},
            "routes.0.path",
            "a is not a valid path",
        ),
        (
            {"routes": [{"method": "GET", "path": "/{p+}/x", "target": "a"}]},
            "routes.0.path",
            "A greedy {name+} must come last.",
        ),
        (
            {"routes": [{"method": "GET", "path": "/a", "target": "a"}] * 2},
            "routes.1",
            "GET /a is listed twice.",
        ),
        ({"throttle": {"rate": -1, "burst": 1}}, "throttle.rate", "greater than or equal to 0"),
        ({"throttle": {"rate": 1, "burst": 5001}}, "throttle.burst", "less than or equal to 5000"),
        (
            {"api_type": "http", "require_api_key": True},
            "require_api_key",
            "HTTP APIs have no API keys or usage plans; choose a REST API.",
        ),
        ({"require_api_key": True}, "usage_plan", "Required when the API requires keys."),
    ],
)
def test_apigateway_limits_and_rules(overrides, where, message):
    found = errors(api_spec(**overrides))
    assert where in found, found
    assert message in found[where]


def test_apigateway_input_has_no_stage():
    data = {k: v for k, v in api_spec().items() if k != "stage"}
    assert ApiGatewayInput.model_validate(data).api_type == "rest"
    assert "stage" in errors(data)  # a stored spec names its stage


def test_unknown_kind_is_named():
    from deployments.specs import SPECS

    assert errors({"kind": "mainframe"}) == {"": f"Unknown kind; use one of: {', '.join(SPECS)}."}


def test_redacted_keeps_names_only():
    spec = parse_spec(
        ecs_spec(environment={"MODE": "live"}, secrets={"DB_PASSWORD": SSM})
    ).to_json()
    shown = redacted(spec)
    assert shown["environment"] == ["MODE"] and shown["secrets"] == ["DB_PASSWORD"]
    assert "live" not in str(shown) and SSM not in str(shown)
    assert spec["environment"] == {"MODE": "live"}  # the stored spec is untouched


def test_source_zip_refuses_a_handler_aws_would_refuse_before_zipping():
    from pydantic_core import PydanticCustomError

    from deployments.specs.lambda_ import source_zip

    with pytest.raises(PydanticCustomError, match="at most 128 characters"):
        source_zip("python3.12", "m" * 70_000 + ".handler", "def handler(e, c):\n    return 1\n")
    with pytest.raises(PydanticCustomError, match="module.function"):
        source_zip("python3.12", "../../etc/passwd", "x = 1\n")
    assert source_zip("python3.12", "app.handler", "x = 1\n")[:2] == b"PK"
