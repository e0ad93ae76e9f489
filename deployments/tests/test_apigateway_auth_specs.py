"""The API spec's authorizers and route protection: rules, the production "public" choice,
and how each route's protection reads."""

from __future__ import annotations

import pytest

from deployments.specs import context_errors, parse_spec
from deployments.specs.apigateway import protection
from deployments.tests.test_specs import api_spec, errors

POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Orders1"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Orders1"
JWT = {"name": "users", "type": "jwt", "issuer": ISSUER, "audience": ["web"]}
COGNITO = {"name": "users", "type": "cognito", "user_pool_arn": POOL}


def route(auth="none", scopes=(), method="GET", path="/orders"):
    return {
        "method": method,
        "path": path,
        "target": "orders-fn",
        "auth": auth,
        "scopes": [*scopes],
    }


@pytest.mark.parametrize(
    ("overrides", "where", "message"),
    [
        (
            {"authorizers": [JWT], "routes": [route("users")]},
            "authorizers.0.type",
            "REST APIs take Cognito or Lambda authorizers; JWT is for HTTP APIs.",
        ),
        (
            {"api_type": "http", "authorizers": [COGNITO], "routes": [route("users")]},
            "authorizers.0.type",
            "HTTP APIs take a Cognito user pool as a JWT issuer; choose jwt.",
        ),
        (
            {"routes": [route("users")]},
            "routes.0.auth",
            "GET /orders: there is no authorizer called users.",
        ),
        (
            {"routes": [route("iam", ["orders.read"])]},
            "routes.0.scopes",
            "Scopes need a JWT or Cognito authorizer.",
        ),
        (
            {"api_type": "http", "authorizers": [{**JWT, "audience": []}], "routes": [route()]},
            "authorizers.0.audience",
            "A JWT authorizer needs at least one audience.",
        ),
        (
            {
                "api_type": "http",
                "authorizers": [{**JWT, "issuer": "http://x"}],
                "routes": [route()],
            },
            "authorizers.0.issuer",
            "The issuer is an https:// URL",
        ),
        (
            {"authorizers": [{**COGNITO, "user_pool_arn": "pool-1"}], "routes": [route()]},
            "authorizers.0.user_pool_arn",
            "A Cognito authorizer needs its user pool's ARN",
        ),
        (
            {"authorizers": [{"name": "gate", "type": "lambda"}], "routes": [route()]},
            "authorizers.0.function",
            "Name the Lambda service that authorizes.",
        ),
        (
            {"authorizers": [COGNITO, COGNITO], "routes": [route()]},
            "authorizers.1.name",
            "users is used twice.",
        ),
    ],
)
def test_authorizer_rules(overrides, where, message):
    found = errors(api_spec(**overrides))
    assert where in found, found
    assert message in found[where]


def test_protection_reads_at_a_glance():
    authorizers = [JWT, {"name": "gate", "type": "lambda", "function": "auth-fn"}]
    assert protection(route("users", ["orders.read"]), authorizers) == "JWT (orders.read)"
    assert protection(route("gate"), authorizers) == "Lambda auth-fn"
    assert protection(route("iam"), authorizers) == "IAM"
    assert protection(route("public"), authorizers) == "public"
    assert protection(route(), authorizers) == "no authorizer"
    # Specs stored before authorizers existed read as "no authorizer".
    assert protection({"method": "GET", "path": "/", "target": "a"}, []) == "no authorizer"


@pytest.mark.django_db
def test_a_production_route_needs_an_explicit_public_choice(personas):
    spec = parse_spec(api_spec(stage="prod", routes=[route(), route("public", method="POST")]))
    found = dict(context_errors(spec, environment=personas["prod"]))
    assert found["routes.0.auth"] == (
        'GET /orders would be open to anyone in Production; choose an authorizer, or "public" '
        "if it is meant to be open."
    )
    assert "routes.1.auth" not in found  # chosen on purpose
    # Outside production no choice is needed.
    assert "routes.0.auth" not in dict(context_errors(spec, environment=personas["dev"]))


@pytest.mark.django_db
def test_a_lambda_authorizer_must_be_a_deployed_lambda_service(personas):
    spec = parse_spec(
        api_spec(
            authorizers=[{"name": "gate", "type": "lambda", "function": "auth-fn"}],
            routes=[route("gate")],
        )
    )
    found = dict(context_errors(spec, environment=personas["dev"]))
    assert found["authorizers.0.function"] == "there is no service called auth-fn in the catalog."


# --- the form ------------------------------------------------------------------------------------
def _deployed(personas, slug, environment="dev"):
    from deployments.tests.test_apigateway_form import deployed

    return deployed(personas, slug, environment=environment)


def _form(personas, **overrides):
    from deployments.tests.test_apigateway_form import form

    return form(personas, **overrides)


@pytest.mark.django_db
def test_the_form_reads_authorizers_and_route_protection(personas):
    from deployments.forms.apigateway import ApiGatewayUpdateForm

    _deployed(personas, "orders-fn")
    _deployed(personas, "auth-fn")
    f = _form(
        personas,
        api_type="http",
        authorizers=f"users jwt {ISSUER} web,app\ngate lambda auth-fn",
        routes="GET /orders -> orders-fn | users orders.read\n"
        "POST /orders -> orders-fn | gate\nGET /health -> orders-fn | public\n"
        "DELETE /orders -> orders-fn",
    )
    assert f.is_valid(), f.errors
    spec = f.spec()
    assert spec["authorizers"] == [
        {**JWT, "audience": ["web", "app"], "lambda_type": "token", "header": "Authorization"},
        {
            "name": "gate",
            "type": "lambda",
            "function": "auth-fn",
            "lambda_type": "token",
            "header": "Authorization",
        },
    ]
    assert spec["routes"][0] == route("users", ["orders.read"])
    assert spec["routes"][2]["auth"] == "public"
    assert "auth" not in spec["routes"][3]  # unprotected, stored as before
    # The update form starts from the same lines.
    update = ApiGatewayUpdateForm(spec=spec)
    assert update["authorizers"].value() == f"users jwt {ISSUER} web,app\ngate lambda auth-fn token"
    assert update["routes"].value().splitlines()[0] == (
        "GET /orders -> orders-fn | users orders.read"
    )


@pytest.mark.django_db
def test_the_form_refuses_an_unprotected_production_route_and_bad_authorizer_lines(personas):
    _deployed(personas, "orders-fn", environment="prod")
    f = _form(
        personas,
        environment=personas["prod"].pk,
        routes="GET /health -> orders-fn | public\nGET /orders -> orders-fn",
    )
    assert not f.is_valid()
    assert f.errors["routes"] == [
        "Line 2: GET /orders would be open to anyone in Production; choose an authorizer, or "
        '"public" if it is meant to be open.'
    ]
    f = _form(personas, authorizers="users oauth https://x", routes="GET /a -> orders-fn")
    assert not f.is_valid()
    assert f.errors["authorizers"][0].startswith("Line 1: One per line: NAME jwt")
    f = _form(personas, authorizers=f"users jwt {ISSUER} web", routes="GET /a -> orders-fn")
    assert not f.is_valid()
    assert f.errors["authorizers"] == [
        "Line 1: REST APIs take Cognito or Lambda authorizers; JWT is for HTTP APIs."
    ]
