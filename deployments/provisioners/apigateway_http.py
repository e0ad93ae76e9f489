"""HTTP APIs (API Gateway v2): one integration per route, an auto-deploy stage per environment.

Why auto-deploy: with `AutoDeploy=True` AWS makes a new deployment after every route or
integration change by itself, so "a deployment per change" needs no call of ours (and the
emulator answers `CreateDeployment` with 404). Throttling is the stage's default route settings
(rate, burst), set when the stage is created and changed with `UpdateStage`.

A stage without `LastDeploymentStatusMessage`/`DeploymentId` (real AWS before its first
automatic deployment; the embedded emulator always) counts as "nothing failed" in `wait`.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from deployments.provisioners import apigateway_auth
from deployments.provisioners.apigateway_rest import adopted_api
from deployments.provisioners.base import Change, Context, WaitResult, field_diff
from portal.aws import aws_client, is_not_found

NO_API_KEYS = "HTTP APIs have no API keys or usage plans"


def _client(ctx: Context):
    return aws_client("apigatewayv2", environment=ctx.environment, actor=ctx.actor)


def integration_uri(route: dict, target: dict, region: str) -> str:
    # An HTTP API's Lambda integration takes the function ARN itself; path variables such as
    # {id} in an HTTP proxy URI are filled in by API Gateway from the route's path.
    if target["kind"] == "lambda":
        return target["function_arn"]
    return f"http://{target['dns']}{route['path']}"


def pages(call, key: str, **kwargs):
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


# --- observe -------------------------------------------------------------------------------------
def observe(ctx: Context, values: dict) -> bool:
    """Fill `values` with the HTTP API's routes and stage; False if there is no such API."""
    v2 = _client(ctx)
    api = adopted_api(v2.get_api, values, "ApiId") or next(
        (
            a
            for a in pages(v2.get_apis, "Items", MaxResults="500")
            if a["Name"] == values["api_name"]
            and (a.get("Tags") or {}).get("slipway:service") == values["service"]
        ),
        None,
    )
    if api is None:
        return False
    api_id = values["api_id"] = api["ApiId"]
    values["api_arn"] = f"arn:aws:apigateway:{values['region']}::/apis/{api_id}"
    integrations = {
        i["IntegrationId"]: i for i in pages(v2.get_integrations, "Items", ApiId=api_id)
    }
    values["routes"], used = {}, set()
    for route in pages(v2.get_routes, "Items", ApiId=api_id):
        integration_id = (route.get("Target") or "").removeprefix("integrations/")
        used.add(integration_id)
        values["routes"][route["RouteKey"]] = {
            "uri": integrations.get(integration_id, {}).get("IntegrationUri", ""),
            "api_key_required": bool(route.get("ApiKeyRequired")),
            "route_id": route["RouteId"],
            "integration_id": integration_id,
            "auth_type": route.get("AuthorizationType") or "NONE",
            "authorizer_id": route.get("AuthorizerId") or None,
            "scopes": sorted(route.get("AuthorizationScopes") or []),
        }
    # Integrations no route uses: left by a run interrupted between the two create calls.
    values["spare_integrations"] = {
        i["IntegrationUri"]: iid for iid, i in integrations.items() if iid not in used
    }
    apigateway_auth.observe_http(v2, values, pages)
    values["stage"] = _observe_stage(v2, api_id, values["stage_name"])
    return True


def _observe_stage(v2, api_id: str, stage_name: str) -> dict | None:
    try:
        stage = v2.get_stage(ApiId=api_id, StageName=stage_name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    settings_ = stage.get("DefaultRouteSettings") or {}
    rate = settings_.get("ThrottlingRateLimit")
    return {
        "rate": int(rate) if rate is not None else None,
        "burst": settings_.get("ThrottlingBurstLimit"),
        "auto_deploy": bool(stage.get("AutoDeploy")),
        "deployment_id": stage.get("DeploymentId"),
        "status_message": stage.get("LastDeploymentStatusMessage", ""),
    }


# --- plan ----------------------------------------------------------------------------------------
def plan_stage(spec: dict, values: dict, desired: dict, exists: bool) -> list[Change]:
    from deployments.provisioners.apigateway_rest import plan_throttle

    if spec.get("require_api_key"):
        raise ValueError(f"{NO_API_KEYS}; use a REST API to require keys.")
    stage = values.get("stage") if exists else None
    throttle = spec["throttle"]
    if stage is None:
        return [
            Change(
                "stage.create",
                f"Create stage {values['stage_name']} (deploys every change automatically)",
                (
                    field_diff("stage throttling rate", None, throttle["rate"]),
                    field_diff("stage throttling burst", None, throttle["burst"]),
                ),
            )
        ]
    changes = plan_throttle(throttle, stage)
    if not stage["auto_deploy"]:
        changes.append(
            Change("stage.auto_deploy", f"Turn on auto-deploy for {values['stage_name']}")
        )
    return changes


# --- apply ---------------------------------------------------------------------------------------
def apply(ctx: Context, values: dict, action: str, arg: str, desired: dict) -> str:
    from deployments.provisioners.apigateway import tags

    v2 = _client(ctx)
    if action == "api.create":
        api = v2.create_api(
            Name=values["api_name"],
            ProtocolType="HTTP",
            Description=f"{ctx.service.slug} in {ctx.environment.slug}, managed by Slipway",
            Tags=tags(ctx),
        )
        arn = f"arn:aws:apigateway:{values['region']}::/apis/{api['ApiId']}"
        ctx.record_resource("api_arn", arn)
        _note_created(ctx, values, api["ApiId"], arn)
        return f"created HTTP API {api['ApiId']} ({api.get('ApiEndpoint', '')})"
    api_id = values["api_id"]
    current = values["routes"].get(arg)
    if action == "route.create" and current:
        # Created by an earlier, interrupted run: adopt it (or retarget it below).
        if current["uri"] == desired[arg]["uri"] and not apigateway_auth.auth_differs(
            current, desired[arg], values
        ):
            return f"adopted existing route {arg}"
        action = "route.update"
    if action == "route.create":
        route = desired[arg]
        integration_id = values["spare_integrations"].pop(
            route["uri"], None
        ) or _create_integration(v2, api_id, route)
        created = v2.create_route(
            ApiId=api_id,
            RouteKey=arg,
            Target=f"integrations/{integration_id}",
            **apigateway_auth.route_kwargs_http(route, values),
        )
        _note_route(values, arg, route, created["RouteId"], integration_id)
        return f"created {arg} → {route['uri']} ({route['protection']})"
    if action == "route.update":
        return _update_route(v2, values, arg, current, desired[arg])
    if action == "route.delete":
        if current is None:
            return "already gone"
        v2.delete_route(ApiId=api_id, RouteId=current["route_id"])
        _delete_integration(v2, api_id, current["integration_id"])
        del values["routes"][arg]
        return f"removed {arg}"
    if action == "stage.create":
        if values.get("stage"):
            return _update_stage(ctx, v2, values)  # an interrupted run created it already
        return _create_stage(ctx, v2, values)
    if action in ("stage.throttle", "stage.auto_deploy"):
        return _update_stage(ctx, v2, values)
    if action == "stage.delete":
        try:
            v2.delete_stage(ApiId=api_id, StageName=values["stage_name"])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            return "already gone"
        return "deleted"
    raise ValueError(f"Unknown HTTP API change {action!r}")


def _update_route(v2, values: dict, key: str, current: dict, route: dict) -> str:
    """A new integration when the target changed, then the route moves to it: the type may
    change (Lambda ↔ HTTP), and the route never points at a half-updated integration.
    Protection that loses its authorizer or scopes is set by recreating the route:
    `UpdateRoute` cannot clear either (the emulator keeps them)."""
    api_id = values["api_id"]
    integration_id = current["integration_id"]
    if current["uri"] != route["uri"]:
        integration_id = _create_integration(v2, api_id, route)
    auth = apigateway_auth.route_kwargs_http(route, values)
    clears = (current["authorizer_id"] and not route["authorizer"]) or (
        current["scopes"] and not route["scopes"]
    )
    target = f"integrations/{integration_id}"
    route_id = current["route_id"]
    if clears:
        v2.delete_route(ApiId=api_id, RouteId=route_id)
        route_id = v2.create_route(ApiId=api_id, RouteKey=key, Target=target, **auth)["RouteId"]
    else:
        v2.update_route(ApiId=api_id, RouteId=route_id, Target=target, **auth)
    if integration_id != current["integration_id"]:
        _delete_integration(v2, api_id, current["integration_id"])
    _note_route(values, key, route, route_id, integration_id)
    return f"{key} → {route['uri']} ({route['protection']})"


def apply_authorizer(ctx: Context, values: dict, action: str, name: str) -> str:
    return apigateway_auth.apply_http(_client(ctx), values, action, name, ctx.spec)


def _note_created(ctx: Context, values: dict, api_id: str, arn: str) -> None:
    """What a new, empty HTTP API holds, into the run's observation (from CreateApi's answer,
    not read again), so the steps after it find the API."""
    values.update(
        api_id=api_id,
        api_type="http",
        api_arn=arn,
        routes={},
        spare_integrations={},
        authorizers={},
        stage=None,
    )
    if ctx.observed is not None and ctx.observed.values is values:
        ctx.observed.exists = True


def _note_route(values: dict, key: str, route: dict, route_id: str, integration_id: str) -> None:
    """A route this run wrote, as `observe` would read it back."""
    values["routes"][key] = {
        "uri": route["uri"],
        "api_key_required": False,
        "route_id": route_id,
        "integration_id": integration_id,
        "auth_type": route["auth_type"],
        "authorizer_id": apigateway_auth.route_kwargs_http(route, values).get("AuthorizerId"),
        "scopes": sorted(route["scopes"] or []),
    }


def _create_integration(v2, api_id: str, route: dict) -> str:
    if route["uri"].startswith("arn:"):
        kwargs = {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"}
    else:
        kwargs = {
            "IntegrationType": "HTTP_PROXY",
            "IntegrationMethod": route["method"],
            "PayloadFormatVersion": "1.0",  # the only version HTTP proxy integrations accept
        }
    return v2.create_integration(ApiId=api_id, IntegrationUri=route["uri"], **kwargs)[
        "IntegrationId"
    ]


def _delete_integration(v2, api_id: str, integration_id: str) -> None:
    try:
        v2.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    except ClientError as exc:
        if not is_not_found(exc):
            raise


def _route_settings(ctx: Context) -> dict:
    throttle = ctx.spec["throttle"]
    return {
        "ThrottlingRateLimit": float(throttle["rate"]),
        "ThrottlingBurstLimit": int(throttle["burst"]),
    }


def _create_stage(ctx: Context, v2, values: dict) -> str:
    from deployments.provisioners.apigateway import tags

    v2.create_stage(
        ApiId=values["api_id"],
        StageName=values["stage_name"],
        AutoDeploy=True,
        Description=f"Environment {ctx.environment.slug}",
        DefaultRouteSettings=_route_settings(ctx),
        Tags=tags(ctx),
    )
    _note_stage(ctx, values)
    throttle = ctx.spec["throttle"]
    return (
        f"stage {values['stage_name']}: auto-deploy on, rate {throttle['rate']} req/s, "
        f"burst {throttle['burst']}"
    )


def _update_stage(ctx: Context, v2, values: dict) -> str:
    v2.update_stage(
        ApiId=values["api_id"],
        StageName=values["stage_name"],
        AutoDeploy=True,
        DefaultRouteSettings=_route_settings(ctx),
    )
    _note_stage(ctx, values)
    throttle = ctx.spec["throttle"]
    return f"rate {throttle['rate']} req/s, burst {throttle['burst']}"


def _note_stage(ctx: Context, values: dict) -> None:
    """The stage as this run set it; its deployment is AWS's to report (the check reads it)."""
    throttle = ctx.spec["throttle"]
    values["stage"] = {
        **(values.get("stage") or {"deployment_id": None, "status_message": ""}),
        "rate": int(throttle["rate"]),
        "burst": int(throttle["burst"]),
        "auto_deploy": True,
    }


def read_stage(ctx: Context, values: dict) -> None:
    """Read the stage again: AWS deploys it by itself after the run's last change."""
    values["stage"] = _observe_stage(_client(ctx), values["api_id"], values["stage_name"])


def delete_api(ctx: Context, values: dict) -> str:
    try:
        _client(ctx).delete_api(ApiId=values["api_id"])
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return "already gone"
    return "deleted"


# --- wait ----------------------------------------------------------------------------------------
def wait(ctx: Context, values: dict, desired: dict) -> WaitResult:
    """Done when the auto-deploy stage exists and its last automatic deployment did not fail."""
    stage = values.get("stage")
    if stage is None:
        return WaitResult(done=False, detail=f"Stage {values['stage_name']} not created yet")
    message = stage["status_message"] or ""
    if "fail" in message.lower():
        return WaitResult(done=False, error=f"Auto-deployment failed: {message}")
    missing = sorted(set(desired) - set(values["routes"]))
    if missing:
        return WaitResult(done=False, detail="Routes not there yet: " + ", ".join(missing))
    if stage["deployment_id"]:
        detail = (
            f"API GW: deployment {stage['deployment_id']} created, live on stage "
            f"{values['stage_name']}"
        )
    else:  # no automatic deployment reported (yet)
        detail = f"API GW: stage {values['stage_name']} ready; AWS deploys each change itself"
    return WaitResult(done=True, detail=detail)
