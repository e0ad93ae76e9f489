"""REST APIs (API Gateway v1): resources, methods, integrations, deployments, stage, keys.

A REST API serves nothing until it is deployed: every change to routes ends in a new deployment
on the environment's stage. The deployment's description carries a fingerprint of the routes it
was made from, so a run interrupted between "route changed" and "deployed" is noticed and
finished by the next one. Stage throttling is the stage-wide method setting `*/*`.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from deployments.provisioners import apigateway_auth
from deployments.provisioners.base import Change, Context, WaitResult, field_diff
from portal.aws import aws_client, is_not_found

LAMBDA_URI = "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
PATH_PARAM = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")
THROTTLE_PATHS = {"rate": "/*/*/throttling/rateLimit", "burst": "/*/*/throttling/burstLimit"}
FINGERPRINT_PREFIX = "slipway routes "


def client(ctx: Context):
    return aws_client("apigateway", environment=ctx.environment, actor=ctx.actor)


def integration_uri(route: dict, target: dict, region: str) -> str:
    if target["kind"] == "lambda":
        return LAMBDA_URI.format(region=region, arn=target["function_arn"])
    return f"http://{target['dns']}{route['path']}"


def resource_arn(values: dict, path: str) -> str:
    return f"arn:aws:apigateway:{values['region']}::{path}"


def is_ours(item: dict, values: dict) -> bool:
    # Same name is not enough: only adopt what Slipway tagged for this very service.
    return (item.get("tags") or {}).get("slipway:service") == values["service"]


def pages(call, key: str, **kwargs):
    position = None
    while True:
        page = call(**kwargs, **({"position": position} if position else {}))
        yield from page.get(key, [])
        position = page.get("position")
        if not position:
            return


# --- observe -------------------------------------------------------------------------------------
def observe(ctx: Context, values: dict) -> bool:
    """Fill `values` with the REST API's routes and stage; False if there is no such API."""
    apigw = client(ctx)
    api = adopted_api(apigw.get_rest_api, values, "restApiId") or next(
        (
            a
            for a in pages(apigw.get_rest_apis, "items", limit=500)
            if a["name"] == values["api_name"] and is_ours(a, values)
        ),
        None,
    )
    if api is None:
        return False
    api_id = values["api_id"] = api["id"]
    values["api_arn"] = resource_arn(values, f"/restapis/{api_id}")
    values["resources"], values["routes"] = {}, {}
    for resource in pages(
        apigw.get_resources, "items", restApiId=api_id, embed=["methods"], limit=500
    ):
        values["resources"][resource["path"]] = {
            "id": resource["id"],
            "parent_id": resource.get("parentId"),
            "methods": sorted(resource.get("resourceMethods") or {}),
        }
        for method, detail in (resource.get("resourceMethods") or {}).items():
            values["routes"][f"{method} {resource['path']}"] = {
                "uri": (detail.get("methodIntegration") or {}).get("uri", ""),
                "api_key_required": bool(detail.get("apiKeyRequired")),
                "resource_id": resource["id"],
                "auth_type": detail.get("authorizationType") or "NONE",
                "authorizer_id": detail.get("authorizerId") or None,
                "scopes": sorted(detail.get("authorizationScopes") or []),
            }
    apigateway_auth.observe_rest(apigw, values, pages)
    values["stage"] = _observe_stage(apigw, api_id, values["stage_name"], values)
    if values["stage"]:
        values["stage_arn"] = resource_arn(
            values, f"/restapis/{api_id}/stages/{values['stage_name']}"
        )
    return True


def adopted_api(get, values: dict, id_param: str) -> dict | None:
    """An adopted API, by the id it had when adopted (`get` is GetRestApi or GetApi). None when
    it is gone: then it is looked for by name, as one Slipway recreated under that name."""
    if not values.get("adopted_api_id"):
        return None
    try:
        return get(**{id_param: values["adopted_api_id"]})
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def _observe_stage(apigw, api_id: str, stage_name: str, values: dict) -> dict | None:
    try:
        stage = apigw.get_stage(restApiId=api_id, stageName=stage_name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    settings = (stage.get("methodSettings") or {}).get("*/*", {})
    deployed = ""
    adopted = values["adopted_deployment"]
    if adopted["id"] and stage.get("deploymentId") == adopted["id"]:
        # The deployment that served the stage when the API was adopted: it holds the routes
        # adoption read (their fingerprint was recorded then).
        deployed = adopted["fingerprint"]
    elif stage.get("deploymentId"):
        description = apigw.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"])
        deployed = (description.get("description") or "").removeprefix(FINGERPRINT_PREFIX)
    rate = settings.get("throttlingRateLimit")
    return {
        "deployment_id": stage.get("deploymentId"),
        "deployed_fingerprint": deployed,
        "rate": int(rate) if rate is not None else None,
        "burst": settings.get("throttlingBurstLimit"),
    }


# --- plan ----------------------------------------------------------------------------------------
def plan_stage(spec: dict, values: dict, desired: dict, exists: bool) -> list[Change]:
    """A new deployment when the routes differ from the deployed ones; then stage throttling."""
    from deployments.provisioners.apigateway_routes import fingerprint

    stage = values.get("stage") if exists else None
    stage_name = values["stage_name"]
    changes = []
    routes = tuple(sorted(desired))
    if stage is None:
        changes.append(
            Change(
                "deployment.create", f"Create stage {stage_name} with a first deployment", routes
            )
        )
    elif stage["deployed_fingerprint"] != fingerprint(desired):
        changes.append(Change("deployment.create", f"New deployment to stage {stage_name}", routes))
    changes += plan_throttle(spec["throttle"], stage)
    return changes


# What a stage without throttling of its own gets: the account's limits (AWS's defaults).
ACCOUNT_THROTTLE = {"rate": 10000, "burst": 5000}


def plan_throttle(throttle: dict, stage: dict | None) -> list[Change]:
    """Stage throttling; an existing stage with none set runs at the account's limits, so a spec
    asking for exactly those (an adopted API without stage throttling) changes nothing."""
    stage = stage or {}
    now = {field: stage.get(field) for field in ("rate", "burst")}
    if stage:
        now = {field: ACCOUNT_THROTTLE[field] if v is None else v for field, v in now.items()}
    details = tuple(
        field_diff(f"stage throttling {field}", now[field], throttle[field])
        for field in ("rate", "burst")
        if now[field] != throttle[field]
    )
    return [Change("stage.throttle", "; ".join(details), details)] if details else []


# --- apply ---------------------------------------------------------------------------------------
def apply(ctx: Context, values: dict, action: str, arg: str, desired: dict) -> str:
    apigw = client(ctx)
    from deployments.provisioners.apigateway import tags
    from deployments.provisioners.apigateway_routes import fingerprint

    if action == "api.create":
        api = apigw.create_rest_api(
            name=values["api_name"],
            description=f"{ctx.service.slug} in {ctx.environment.slug}, managed by Slipway",
            endpointConfiguration={"types": ["REGIONAL"]},
            apiKeySource="HEADER",
            tags=tags(ctx),
        )
        ctx.record_resource("api_arn", resource_arn(values, f"/restapis/{api['id']}"))
        _note_created(ctx, values, api)
        return f"created REST API {api['id']}"
    api_id = values.get("api_id")
    if action in ("route.create", "route.update"):
        return _put_route(apigw, values, desired[arg], create=action == "route.create")
    if action == "route.delete":
        return _delete_route(apigw, values, arg)
    if action == "deployment.create":
        fp = fingerprint(desired)
        deployment = apigw.create_deployment(restApiId=api_id, description=FINGERPRINT_PREFIX + fp)
        if values.get("stage"):
            apigw.update_stage(
                restApiId=api_id,
                stageName=values["stage_name"],
                patchOperations=[
                    {"op": "replace", "path": "/deploymentId", "value": deployment["id"]}
                ],
            )
            values["stage"] = {
                **values["stage"],
                "deployment_id": deployment["id"],
                "deployed_fingerprint": fp,
            }
            return f"API GW: deployment {deployment['id']} created and on stage"
        apigw.create_stage(
            restApiId=api_id,
            stageName=values["stage_name"],
            deploymentId=deployment["id"],
            description=f"Environment {ctx.environment.slug}",
            tags=tags(ctx),
        )
        ctx.record_resource(
            "stage_arn", resource_arn(values, f"/restapis/{api_id}/stages/{values['stage_name']}")
        )
        values["stage"] = {
            "deployment_id": deployment["id"],
            "deployed_fingerprint": fp,
            "rate": None,
            "burst": None,
        }
        return (
            f"API GW: deployment {deployment['id']} created; stage {values['stage_name']} created"
        )
    if action == "stage.throttle":
        throttle = ctx.spec["throttle"]
        apigw.update_stage(
            restApiId=api_id,
            stageName=values["stage_name"],
            patchOperations=[
                {"op": "replace", "path": path, "value": str(throttle[field])}
                for field, path in THROTTLE_PATHS.items()
            ],
        )
        return f"rate {throttle['rate']} req/s, burst {throttle['burst']}"
    if action == "stage.delete":
        return ignore_missing(apigw.delete_stage, restApiId=api_id, stageName=values["stage_name"])
    from deployments.provisioners import apigateway_keys

    return apigateway_keys.apply(ctx, apigw, values, action)


def _note_created(ctx: Context, values: dict, api: dict) -> None:
    """What a new, empty REST API holds, into the run's observation (read from the answer to
    CreateRestApi, not from AWS again), so the steps after it find the API and its root."""
    api_id = values["api_id"] = api["id"]
    values.update(
        api_type="rest",
        api_arn=resource_arn(values, f"/restapis/{api_id}"),
        resources={"/": {"id": api["rootResourceId"], "parent_id": None, "methods": []}},
        routes={},
        authorizers={},
        stage=None,
    )
    if ctx.observed is not None and ctx.observed.values is values:
        ctx.observed.exists = True


def apply_authorizer(ctx: Context, values: dict, action: str, name: str) -> str:
    return apigateway_auth.apply_rest(client(ctx), values, action, name, ctx.spec)


def ignore_missing(call, **kwargs) -> str:
    try:
        call(**kwargs)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return "already gone"
    return "deleted"


def _ensure_resource(apigw, values: dict, path: str) -> str:
    """The id of the resource at `path`, creating missing parents one segment at a time."""
    resources = values["resources"]
    if path in resources:
        return resources[path]["id"]
    parent_path = path.rsplit("/", 1)[0] or "/"
    parent_id = _ensure_resource(apigw, values, parent_path)
    created = apigw.create_resource(
        restApiId=values["api_id"], parentId=parent_id, pathPart=path.rsplit("/", 1)[1]
    )
    resources[path] = {"id": created["id"], "parent_id": parent_id, "methods": []}
    return created["id"]


def _put_route(apigw, values: dict, route: dict, *, create: bool) -> str:
    api_id, method = values["api_id"], route["method"]
    resource_id = _ensure_resource(apigw, values, route["path"])
    params = PATH_PARAM.findall(route["path"])
    if method in values["resources"][route["path"]]["methods"]:
        # Replace the method rather than patch it: UpdateMethod is missing from the emulator,
        # and on AWS nobody sees the gap, since callers get the stage's deployed snapshot
        # until the new deployment that follows every route change.
        ignore_missing(
            apigw.delete_method, restApiId=api_id, resourceId=resource_id, httpMethod=method
        )
    apigw.put_method(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=method,
        apiKeyRequired=route["api_key_required"],
        **apigateway_auth.route_kwargs_rest(route, values),
        requestParameters={f"method.request.path.{p}": True for p in params},
    )
    lambda_target = ":lambda:path/" in route["uri"]
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=method,
        # Lambda proxy integrations are always invoked with POST, whatever the route's method.
        type="AWS_PROXY" if lambda_target else "HTTP_PROXY",
        integrationHttpMethod="POST" if lambda_target else method,
        uri=route["uri"],
        requestParameters=(
            {}
            if lambda_target
            else {f"integration.request.path.{p}": f"method.request.path.{p}" for p in params}
        ),
    )
    return f"{'created' if create else 'updated'} {method} {route['path']} → {route['uri']}"


def _delete_route(apigw, values: dict, key: str) -> str:
    """Delete the method, then any resource left with neither methods nor children."""
    method, path = key.split(" ", 1)
    current = values["routes"].get(key)
    if current is None:
        return "already gone"
    api_id = values["api_id"]
    ignore_missing(
        apigw.delete_method, restApiId=api_id, resourceId=current["resource_id"], httpMethod=method
    )
    values["resources"][path]["methods"].remove(method)
    while path != "/":
        resource = values["resources"][path]
        children = [p for p, r in values["resources"].items() if r["parent_id"] == resource["id"]]
        if resource["methods"] or children:
            break
        ignore_missing(apigw.delete_resource, restApiId=api_id, resourceId=resource["id"])
        del values["resources"][path]
        path = path.rsplit("/", 1)[0] or "/"
    return f"removed {key}"


def delete_api(ctx: Context, values: dict) -> str:
    apigw = client(ctx)
    return ignore_missing(apigw.delete_rest_api, restApiId=values["api_id"])


# --- wait ----------------------------------------------------------------------------------------
def wait(ctx: Context, values: dict, desired: dict) -> WaitResult:
    """REST deployments are synchronous: done once the stage serves a deployment of these routes."""
    from deployments.provisioners.apigateway_routes import fingerprint

    stage = values.get("stage")
    if stage is None:
        return WaitResult(done=False, detail=f"Stage {values['stage_name']} not created yet")
    if stage["deployed_fingerprint"] != fingerprint(desired):
        return WaitResult(
            done=False, detail=f"Stage serves deployment {stage['deployment_id']}, an older one"
        )
    return WaitResult(
        done=True,
        detail=f"API GW: deployment {stage['deployment_id']} created, live on stage "
        f"{values['stage_name']}",
    )
