"""API Gateway APIs in front of other catalog services: REST (v1) or HTTP (v2).

An API routes `METHOD /path` to a Lambda function (proxy integration) or to an ECS service
(HTTP proxy to the environment's shared load balancer, same path). One stage per environment,
named after it, with stage-wide throttling (rate, burst). REST APIs may require API keys: then a
usage plan (quota + throttle) and one API key in it are managed as well. Every Lambda target gets
a `lambda:InvokeFunction` grant for this API (one statement per API and function, stable id).

The AWS calls for each API type live in `apigateway_rest` and `apigateway_http`, the Lambda
grants in `apigateway_grants`, target resolution and the routes a spec asks for in
`apigateway_routes`; this module holds what both types share: the plan (the diff a human
reads) and dispatch.

An API adopted through Discovery keeps its own id, name and stage: the instance's resources
carry them (`api_id`, `api_name`, `stage_name`) and they win over Slipway's names (`_names`).

Spec: {"kind": "apigateway", "api_type": "rest"|"http", "stage": "<environment slug>",
"routes": [{"method": "GET", "path": "/orders", "target": "<service slug>"}],
"throttle": {"rate": 100, "burst": 50}, "require_api_key": false,
"usage_plan": {"quota_limit": 10000, "quota_period": "DAY", "rate": 50, "burst": 20} | null}
"""

from __future__ import annotations

from deployments import names
from deployments.provisioners import apigateway_auth, apigateway_http, apigateway_keys
from deployments.provisioners import apigateway_grants as grants
from deployments.provisioners.apigateway_routes import (
    TYPES,
    desired_routes,
    resolve_targets,
    target_slugs,
)
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    WaitResult,
    owned_from,
)
from deployments.specs import checked_spec

TYPE_LABELS = {"rest": "REST API", "http": "HTTP API"}


def scale_values(spec: dict) -> dict[str, int | None]:
    """Stage throttling, checked by the environment's guardrails."""
    throttle = spec.get("throttle") or {}
    return {"rate_limit": throttle.get("rate"), "burst_limit": throttle.get("burst")}


# --- observe -------------------------------------------------------------------------------------
def _names(ctx: Context) -> dict:
    """Slipway's names for the instance's API, or an adopted API's own (kept on the instance:
    its id, name and stage, and the deployment that served the stage when it was adopted)."""
    service, env = ctx.service.slug, ctx.environment.slug
    own = ctx.resources or {}
    return {
        "api_name": own.get("api_name") or names.apigateway_api(service, env),
        "stage_name": own.get("stage_name") or names.apigateway_stage(env),
        "adopted_api_id": own.get("api_id") or None,
        "adopted_deployment": {
            "id": own.get("adopted_deployment_id") or None,
            "fingerprint": own.get("adopted_fingerprint") or "",
        },
        "usage_plan_name": names.apigateway_usage_plan(service, env),
        "api_key_name": names.apigateway_api_key(service, env),
        "statement_id": names.apigateway_permission_statement(service, env),
        "environment": env,
        "region": ctx.environment.region,
        "service": service,
    }


def tags(ctx: Context) -> dict:
    return names.tags(
        service_slug=ctx.service.slug,
        environment_slug=ctx.environment.slug,
        team_slug=ctx.service.owner.slug,
    )


def observe(ctx: Context, *, keys: bool = True, permissions: bool = True) -> Observed:
    """What AWS holds: the API (of either type), its routes, stage, usage plan, key, grants.

    `apply` and `wait` leave out the parts a step does not need (fewer calls per step).
    """
    values = _names(ctx)
    applied = ctx.instance.applied_spec
    values["targets"] = resolve_targets(ctx, target_slugs(ctx.spec, applied))
    values["api_type"] = None
    values["usage_plan"] = values["api_key"] = None
    values["permissions"] = {}
    if keys and apigateway_keys.may_exist(ctx, _known_specs(ctx)):
        # Usage plans and API keys live outside any API: look for them even if the API is gone.
        apigateway_keys.observe(ctx, values)
    for api_type in _types_to_look_up(ctx):
        if TYPES[api_type].observe(ctx, values):
            values["api_type"] = api_type
            break
    if permissions and (values["api_type"] or ctx.instance.applied_spec):
        # A first deployment whose API does not exist yet can hold no grant for it: every
        # grant is added, and a stale statement with Slipway's id is replaced (grants.apply).
        values["permissions"] = grants.observe(ctx, values)
    return Observed(exists=values["api_type"] is not None, values=values)


def _known_specs(ctx: Context) -> list[dict]:
    return [s for s in (ctx.spec, ctx.instance.applied_spec) if s]


def _types_to_look_up(ctx: Context) -> list[str]:
    """The API types the instance's API can be: the spec's first, then the applied spec's and
    the recorded API's (an API cannot change type: the plan refuses). Both when unknown."""
    arn = (ctx.resources or {}).get("api_arn") or ""
    recorded = "rest" if "/restapis/" in arn else "http" if "/apis/" in arn else None
    known = [s.get("api_type") for s in _known_specs(ctx)] + [recorded]
    order = [t for t in dict.fromkeys(known) if t in TYPES]
    return order or list(TYPES)


# --- plan ----------------------------------------------------------------------------------------
def plan(spec: dict, observed: Observed) -> list[Change]:
    """The changes that take AWS from `observed` to `spec`, in dependency order."""
    checked_spec(spec)  # the typed spec's rules (deployments/specs/apigateway.py); ValueError
    values = observed.values
    api_type = spec["api_type"]
    module = TYPES[api_type]
    if observed.exists and values["api_type"] != api_type:
        raise ValueError(
            f"{values['api_name']} is a {TYPE_LABELS[values['api_type']]}; an API cannot change "
            "type. Delete it and create a new service instead."
        )
    desired = desired_routes(spec, values)
    changes = []
    if not observed.exists:
        changes.append(Change("api.create", f"Create {TYPE_LABELS[api_type]} {values['api_name']}"))
    authorizers_first, authorizers_last = apigateway_auth.plan(spec, values)
    changes += authorizers_first
    changes += _route_changes(desired, values.get("routes", {}), values)
    changes += grants.plan(values, desired, observed.exists, spec)
    changes += module.plan_stage(spec, values, desired, observed.exists)
    changes += authorizers_last
    if api_type == "rest":
        changes += apigateway_keys.plan(spec, values)
    return changes


KIND_LABELS = {"lambda": "Lambda", "ecs": "ECS"}


def _label(slug: str, targets: dict) -> str:
    return f"{slug} ({KIND_LABELS[targets[slug]['kind']]})"


def _describe_target(uri: str, targets: dict) -> str:
    """Which target an integration URI points at, for the diff (the raw URI if none)."""
    for slug, target in targets.items():
        arn, dns = target.get("function_arn"), target.get("dns")
        if arn and (uri == arn or uri.endswith(f"/functions/{arn}/invocations")):
            return _label(slug, targets)
        if dns and uri.startswith(f"http://{dns}/"):
            return _label(slug, targets)
    return uri


def _route_changes(desired: dict, current: dict, values: dict) -> list[Change]:
    targets = values["targets"]
    changes = []
    for key, route in desired.items():
        target = _label(route["target"], targets)
        now = current.get(key)
        if now is None:
            changes.append(
                Change(
                    f"route.create:{key}",
                    f"new route {key} → {target}",
                    (f"uri: {route['uri']}", f"{key}: {route['protection']}"),
                )
            )
            continue
        details = []
        if now["uri"] != route["uri"]:
            details.append(f"target {_describe_target(now['uri'], targets)} → {target}")
        was_required = bool(now.get("api_key_required"))
        if was_required != route["api_key_required"]:
            details.append(f"API key required {was_required} → {route['api_key_required']}")
        if apigateway_auth.auth_differs(now, route, values):
            was = apigateway_auth.observed_protection(now, values)
            details.append(f"{key}: {route['protection']} (was {was})")
        if details:
            changes.append(Change(f"route.update:{key}", f"change route {key}", tuple(details)))
    for key in sorted(set(current) - set(desired)):
        changes.append(Change(f"route.delete:{key}", f"remove route {key}"))
    return changes


def plan_delete(observed: Observed) -> list[Change]:
    """Teardown in reverse dependency order: key → usage plan → stage → API → Lambda grants."""
    values = observed.values
    changes = []
    if values.get("api_key"):
        changes.append(Change("api_key.delete", f"Delete API key {values['api_key_name']}"))
    if values.get("usage_plan"):
        changes.append(
            Change("usage_plan.delete", f"Delete usage plan {values['usage_plan_name']}")
        )
    if values.get("stage"):
        changes.append(Change("stage.delete", f"Delete stage {values['stage_name']}"))
    if observed.exists:
        label = TYPE_LABELS[values["api_type"]]
        changes.append(Change("api.delete", f"Delete {label} {values['api_name']}"))
    for arn, grant in sorted(values.get("permissions", {}).items()):
        if grant:
            changes.append(
                Change(
                    f"permission.remove:{arn}",
                    f"withdraw API Gateway's permission to invoke {grants.function_name(arn)}",
                )
            )
    return changes


# --- apply ---------------------------------------------------------------------------------------
def apply(ctx: Context, change: Change) -> str:
    """Carry out one change. Steps apply against the run's observation, which each step keeps
    current (what it creates goes into it); a change applied without an observation re-reads
    what it needs. A retry observes afresh, so a re-run adopts, never doubles.

    Returns a short message for the step log.
    """
    action, _, arg = change.key.partition(":")
    observed = _observed_for(ctx, action)
    values = observed.values
    # Only REST APIs have usage plans and keys, which may outlive a half-deleted API.
    api_type = values["api_type"] or ctx.spec.get("api_type") or "rest"
    module = TYPES[api_type]
    if action.startswith("permission."):
        return grants.apply(ctx, values, action, arg)
    if action in ("api.delete", "stage.delete", "route.delete") and not observed.exists:
        return "already gone"
    if action == "api.delete":
        return module.delete_api(ctx, values)
    if action == "api.create" and observed.exists:
        return f"adopted existing API {values['api_id']}"
    if action != "api.create" and not observed.exists and not action.endswith(".delete"):
        raise RuntimeError(f"{values['api_name']} disappeared during the deployment")
    if action.startswith("authorizer."):
        return module.apply_authorizer(ctx, values, action, arg)
    desired = {} if action.endswith(".delete") else desired_routes(ctx.spec, values)
    return module.apply(ctx, values, action, arg, desired)


def _observed_for(ctx: Context, action: str) -> Observed:
    """The run's observation (each step keeps it current); else what AWS holds now."""
    if ctx.observed is not None:
        return ctx.observed
    return observe(
        ctx,
        keys=action.startswith(("usage_plan.", "api_key.")),
        permissions=action.startswith("permission."),
    )


# --- wait ----------------------------------------------------------------------------------------
def wait(ctx: Context) -> WaitResult:
    """Done when the stage serves what the spec asks for (see each type's `wait`). Right after
    a run, its own observation says what the stage serves (it wrote it); an HTTP API's stage,
    which AWS deploys by itself, is read again."""
    observed = ctx.observed
    if observed is None or not observed.exists:
        observed = observe(ctx, keys=False, permissions=False)
    elif observed.values.get("api_type") == "http":
        apigateway_http.read_stage(ctx, observed.values)
    if not observed.exists:
        return WaitResult(done=False, error=f"{observed.values['api_name']} does not exist")
    module = TYPES[observed.values["api_type"]]
    return module.wait(ctx, observed.values, desired_routes(ctx.spec, observed.values))


def wait_deleted(ctx: Context) -> WaitResult:
    observed = observe(ctx)
    values = observed.values
    left = [
        label
        for label, present in (
            ("API", observed.exists),
            ("usage plan", values.get("usage_plan")),
            ("API key", values.get("api_key")),
            ("Lambda permission", any(values.get("permissions", {}).values())),
        )
        if present
    ]
    if left:
        return WaitResult(done=False, detail="Still present: " + ", ".join(left))
    return WaitResult(done=True, detail="API GW: API, stage, usage plan and key deleted")


# --- what the instance owns ----------------------------------------------------------------------
OWNED = {"api_arn": "API", "usage_plan_arn": "Usage plan", "api_key_arn": "API key"}


def owned_resources(observed: Observed) -> list[OwnedResource]:
    """The API (with its stage and routes), usage plan and key. The Lambda functions and load
    balancer it routes to belong to other services or to the environment."""
    return owned_from(observed.values, OWNED)
