"""API authorizers against the emulator over HTTP: REST (Cognito, Lambda TOKEN/REQUEST, IAM)
and HTTP APIs (JWT, Lambda, IAM), witnessed with plain boto3 (`get_authorizers`, each method's
or route's authorization). The emulator stores and describes authorizers; it enforces nothing.
"""

from __future__ import annotations

import pytest

from deployments.tests.test_provision_apigateway import (
    api_spec,
    change,
    http_api,
    launch,
    make_target,
    plan_lines,
    policy_statements,
    replan,
    rest_api,
    run,
)
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]

POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Orders1"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Orders1"
STATEMENT = "slipway-apigw-shop-api-dev"


def auth_spec(api_type="rest", *, authorizers, routes) -> dict:
    return {**api_spec(api_type), "authorizers": authorizers, "routes": routes}


def routes(*items) -> list[dict]:
    return [
        {"method": m, "path": p, "target": "orders-fn", "auth": auth, "scopes": list(scopes)}
        for m, p, auth, scopes in items
    ]


def rest_methods(api_id: str) -> dict[str, dict]:
    apigw = aws_client("apigateway")
    found = {}
    for resource in apigw.get_resources(restApiId=api_id)["items"]:
        for method in resource.get("resourceMethods") or {}:
            found[f"{method} {resource['path']}"] = apigw.get_method(
                restApiId=api_id, resourceId=resource["id"], httpMethod=method
            )
    return found


def rest_authorizers(api_id: str) -> dict[str, dict]:
    items = aws_client("apigateway").get_authorizers(restApiId=api_id)["items"]
    return {a["name"]: a for a in items}


def test_rest_cognito_lambda_and_iam_authorizers_then_changed(personas, aws_clean):
    make_target(personas, "orders-fn")
    auth_fn = make_target(personas, "auth-fn").resources["function_arn"]
    authorizers = [
        {"name": "users", "type": "cognito", "user_pool_arn": POOL},
        {"name": "tokens", "type": "lambda", "function": "auth-fn", "lambda_type": "token"},
    ]
    spec = auth_spec(
        authorizers=authorizers,
        routes=routes(
            ("GET", "/orders", "users", ["orders.read"]),
            ("POST", "/orders", "tokens", []),
            ("DELETE", "/orders", "iam", []),
            ("GET", "/health", "public", []),
        ),
    )
    done = launch(personas, spec)
    lines = plan_lines(done)
    assert "GET /orders: Cognito (orders.read)" in lines
    assert "POST /orders: Lambda auth-fn" in lines
    assert "DELETE /orders: IAM" in lines
    assert "GET /health: public" in lines
    assert any(line.startswith("Create authorizer users: Cognito user pool") for line in lines)

    api_id = rest_api()["id"]
    found = rest_authorizers(api_id)
    assert found["users"]["type"] == "COGNITO_USER_POOLS"
    assert found["users"]["providerARNs"] == [POOL]
    assert found["tokens"]["type"] == "TOKEN"
    assert auth_fn in found["tokens"]["authorizerUri"]
    assert found["tokens"]["identitySource"] == "method.request.header.Authorization"
    methods = rest_methods(api_id)
    assert methods["GET /orders"]["authorizationType"] == "COGNITO_USER_POOLS"
    assert methods["GET /orders"]["authorizerId"] == found["users"]["id"]
    assert methods["GET /orders"]["authorizationScopes"] == ["orders.read"]
    assert methods["POST /orders"]["authorizationType"] == "CUSTOM"
    assert methods["POST /orders"]["authorizerId"] == found["tokens"]["id"]
    assert methods["DELETE /orders"]["authorizationType"] == "AWS_IAM"
    assert methods["GET /health"]["authorizationType"] == "NONE"
    # The Lambda authorizer may be invoked by this API.
    (grant,) = [s for s in policy_statements("auth-fn-dev") if s["Sid"] == STATEMENT]
    assert grant["Principal"]["Service"] == "apigateway.amazonaws.com"
    assert grant["Action"] == "lambda:InvokeFunction"
    replan(done, done.spec)

    # Change: the Lambda authorizer reads a request header; GET /orders moves to it, the
    # Cognito authorizer goes, DELETE becomes public on purpose.
    authorizers = [
        {
            "name": "tokens",
            "type": "lambda",
            "function": "auth-fn",
            "lambda_type": "request",
            "header": "X-Token",
        }
    ]
    changed = auth_spec(
        authorizers=authorizers,
        routes=routes(
            ("GET", "/orders", "tokens", []),
            ("POST", "/orders", "tokens", []),
            ("DELETE", "/orders", "public", []),
            ("GET", "/health", "public", []),
        ),
    )
    second = run(change(done, changed))
    lines = plan_lines(second)
    assert "Change authorizer tokens" in lines
    assert "type: TOKEN → REQUEST" in lines
    assert "GET /orders: Lambda auth-fn (was users (orders.read))" in lines
    assert "Delete authorizer users" in lines
    found = rest_authorizers(api_id)
    assert set(found) == {"tokens"}
    assert found["tokens"]["type"] == "REQUEST"
    assert found["tokens"]["identitySource"] == "method.request.header.X-Token"
    methods = rest_methods(api_id)
    assert methods["GET /orders"]["authorizationType"] == "CUSTOM"
    assert methods["GET /orders"]["authorizerId"] == found["tokens"]["id"]
    assert not methods["GET /orders"].get("authorizationScopes")
    assert methods["DELETE /orders"]["authorizationType"] == "NONE"
    replan(second, second.spec)

    # Protection alone is deployed: the stage serves a deployment made after the change.
    stage = aws_client("apigateway").get_stage(restApiId=api_id, stageName="dev")
    assert stage["deploymentId"] != ""


def http_authorizers(api_id: str) -> dict[str, dict]:
    items = aws_client("apigatewayv2").get_authorizers(ApiId=api_id)["Items"]
    return {a["Name"]: a for a in items}


def http_routes(api_id: str) -> dict[str, dict]:
    items = aws_client("apigatewayv2").get_routes(ApiId=api_id)["Items"]
    return {r["RouteKey"]: r for r in items}


def test_http_jwt_lambda_and_iam_authorizers_then_changed(personas, aws_clean):
    make_target(personas, "orders-fn")
    auth_fn = make_target(personas, "auth-fn").resources["function_arn"]
    authorizers = [
        {"name": "users", "type": "jwt", "issuer": ISSUER, "audience": ["web", "app"]},
        {"name": "gate", "type": "lambda", "function": "auth-fn"},
    ]
    spec = auth_spec(
        "http",
        authorizers=authorizers,
        routes=routes(
            ("GET", "/orders", "users", ["orders.read"]),
            ("POST", "/orders", "gate", []),
            ("DELETE", "/orders", "iam", []),
            ("GET", "/health", "public", []),
        ),
    )
    done = launch(personas, spec)
    lines = plan_lines(done)
    assert "GET /orders: JWT (orders.read)" in lines
    assert "POST /orders: Lambda auth-fn" in lines

    api_id = http_api()["ApiId"]
    found = http_authorizers(api_id)
    assert found["users"]["AuthorizerType"] == "JWT"
    assert found["users"]["JwtConfiguration"]["Issuer"] == ISSUER
    assert sorted(found["users"]["JwtConfiguration"]["Audience"]) == ["app", "web"]
    assert found["gate"]["AuthorizerType"] == "REQUEST"
    assert auth_fn in found["gate"]["AuthorizerUri"]
    assert found["gate"]["IdentitySource"] == ["$request.header.Authorization"]
    got = http_routes(api_id)
    assert got["GET /orders"]["AuthorizationType"] == "JWT"
    assert got["GET /orders"]["AuthorizerId"] == found["users"]["AuthorizerId"]
    assert got["GET /orders"]["AuthorizationScopes"] == ["orders.read"]
    assert got["POST /orders"]["AuthorizationType"] == "CUSTOM"
    assert got["POST /orders"]["AuthorizerId"] == found["gate"]["AuthorizerId"]
    assert got["DELETE /orders"]["AuthorizationType"] == "AWS_IAM"
    assert got["GET /health"]["AuthorizationType"] == "NONE"
    assert [s for s in policy_statements("auth-fn-dev") if s["Sid"] == STATEMENT]
    replan(done, done.spec)

    # Change: another audience and scope set; POST drops its Lambda authorizer (then unused,
    # so it goes, and so does its invoke grant); DELETE moves from IAM to JWT.
    authorizers = [{"name": "users", "type": "jwt", "issuer": ISSUER, "audience": ["web"]}]
    changed = auth_spec(
        "http",
        authorizers=authorizers,
        routes=routes(
            ("GET", "/orders", "users", ["orders.read", "orders.list"]),
            ("POST", "/orders", "public", []),
            ("DELETE", "/orders", "users", ["orders.admin"]),
            ("GET", "/health", "public", []),
        ),
    )
    second = run(change(done, changed))
    lines = plan_lines(second)
    assert "audience: app, web → web" in lines
    assert "DELETE /orders: JWT (orders.admin) (was IAM)" in lines
    assert "Delete authorizer gate" in lines
    found = http_authorizers(api_id)
    assert set(found) == {"users"}
    assert found["users"]["JwtConfiguration"]["Audience"] == ["web"]
    got = http_routes(api_id)
    assert sorted(got["GET /orders"]["AuthorizationScopes"]) == ["orders.list", "orders.read"]
    assert got["POST /orders"]["AuthorizationType"] == "NONE"
    assert not got["POST /orders"].get("AuthorizerId")
    assert got["DELETE /orders"]["AuthorizationType"] == "JWT"
    assert got["DELETE /orders"]["AuthorizationScopes"] == ["orders.admin"]
    assert not [s for s in policy_statements("auth-fn-dev") if s["Sid"] == STATEMENT]
    replan(second, second.spec)

    # Scopes removed from a JWT route: the route keeps JWT and loses its scopes.
    third = run(
        change(
            second,
            auth_spec(
                "http",
                authorizers=authorizers,
                routes=routes(
                    ("GET", "/orders", "users", []),
                    ("POST", "/orders", "public", []),
                    ("DELETE", "/orders", "users", ["orders.admin"]),
                    ("GET", "/health", "public", []),
                ),
            ),
        )
    )
    got = http_routes(api_id)
    assert got["GET /orders"]["AuthorizationType"] == "JWT"
    assert not got["GET /orders"].get("AuthorizationScopes")
    replan(third, third.spec)
