"""An API's routes and their targets, for both API types: which catalog services a spec's
routes and authorizers name, what each resolves to in the environment (a Lambda function's
live alias, or the shared load balancer in front of ECS services), the routes a spec asks for
with their integration URIs, and the fingerprint a REST deployment carries."""

from __future__ import annotations

import hashlib
import json

from botocore.exceptions import ClientError

from deployments.errors import TargetUnavailable
from deployments.provisioners import apigateway_auth, apigateway_http, apigateway_rest
from deployments.provisioners.base import Context
from portal.aws import aws_client, is_not_found

TYPES = {"rest": apigateway_rest, "http": apigateway_http}


def route_key(route: dict) -> str:
    return f"{route['method']} {route['path']}"


def target_slugs(*specs: dict | None) -> set[str]:
    routes = {r["target"] for spec in specs if spec for r in spec.get("routes", [])}
    functions = {
        a["function"]
        for spec in specs
        if spec
        for a in spec.get("authorizers") or []
        if a.get("function")
    }
    return routes | functions


def resolve_targets(ctx: Context, slugs: set[str]) -> dict[str, dict]:
    """Target slug → {"kind", "function_arn"} or {"kind", "dns"}; unresolvable slugs are absent.

    A Lambda target is its instance's function ARN in this environment; an ECS target is
    reached through the environment's shared load balancer (the ECS service's listener rule
    routes the path to it).
    """
    from catalog.models import ServiceInstance

    instances = ServiceInstance.objects.filter(
        environment=ctx.environment, service__slug__in=slugs, applied_spec__isnull=False
    ).select_related("service")
    targets: dict[str, dict] = {}
    dns = None
    for instance in instances:
        kind = instance.service.kind
        if kind == "lambda" and instance.resources.get("function_arn"):
            # Route to the `live` alias when there is one: the version the last deployment
            # published (and its provisioned concurrency), never whatever $LATEST holds.
            targets[instance.service.slug] = {
                "kind": "lambda",
                "function_arn": instance.resources.get("alias_arn")
                or instance.resources["function_arn"],
            }
        elif kind == "ecs" and ctx.environment.alb_arn:
            if dns is None:
                dns = load_balancer_dns(ctx)
            if dns:
                targets[instance.service.slug] = {"kind": "ecs", "dns": dns}
    return targets


def load_balancer_dns(ctx: Context) -> str:
    elbv2 = aws_client("elbv2", environment=ctx.environment, actor=ctx.actor)
    try:
        balancers = elbv2.describe_load_balancers(LoadBalancerArns=[ctx.environment.alb_arn])
    except ClientError as exc:
        if is_not_found(exc) or "NotFound" in str(exc):
            return ""
        raise
    return balancers["LoadBalancers"][0]["DNSName"] if balancers["LoadBalancers"] else ""


def desired_routes(spec: dict, values: dict) -> dict[str, dict]:
    """Route key → {"uri", "method", "path", "target", "api_key_required"} for the spec.

    Raises PlanFailed when a target cannot be resolved in the environment.
    """
    module = TYPES[spec["api_type"]]
    routes = {}
    for route in spec.get("routes", []):
        target = values["targets"].get(route["target"])
        if target is None:
            raise TargetUnavailable(
                f"Route {route_key(route)}: {route['target']} is not deployed in "
                f"{values['environment']} (deploy it first, or change the route)."
            )
        routes[route_key(route)] = {
            **route,
            "uri": module.integration_uri(route, target, values["region"]),
            "api_key_required": bool(spec.get("require_api_key")),
            **apigateway_auth.route_auth(spec, route),
        }
    return routes


def fingerprint(routes: dict[str, dict]) -> str:
    """A short digest of what a REST deployment must contain; stored in its description."""
    canonical = sorted(
        (k, r["uri"], bool(r["api_key_required"]))
        # Protection joins the digest only when there is some, so older deployments still match.
        + (
            (r["auth_type"], r["authorizer"], r["scopes"])
            if r.get("auth_type", "NONE") != "NONE"
            else ()
        )
        for k, r in routes.items()
    )
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:16]
