"""REST APIs (API Gateway v1): resources, methods, integrations, deployments, stage, keys.

A REST API serves nothing until it is deployed: every change to routes ends in a new deployment
on the environment's stage. The deployment's description carries a fingerprint of the routes it
was made from, so a run interrupted between "route changed" and "deployed" is noticed and
finished by the next one. Stage throttling is the stage-wide method setting `*/*`.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from deployments.provisioners.base import Change, Context, WaitResult, field_diff
from portal.aws import aws_client, is_not_found

LAMBDA_URI = "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
PATH_PARAM = re.compile(r"\{([A-Za-z0-9_]+)\+?\}")
THROTTLE_PATHS = {"rate": "/*/*/throttling/rateLimit", "burst": "/*/*/throttling/burstLimit"}
FINGERPRINT_PREFIX = "slipway routes "


def _client(ctx: Context):
    return aws_client("apigateway", environment=ctx.environment, actor=ctx.actor)


def integration_uri(route: dict, target: dict, region: str) -> str:
    if target["kind"] == "lambda":
        return LAMBDA_URI.format(region=region, arn=target["function_arn"])
    return f"http://{target['dns']}{route['path']}"


def _arn(values: dict, path: str) -> str:
    return f"arn:aws:apigateway:{values['region']}::{path}"


def _ours(item: dict, values: dict) -> bool:
    # Same name is not enough: only adopt what Slipway tagged for this very service.
    return (item.get("tags") or {}).get("slipway:service") == values["service"]


def _pages(call, key: str, **kwargs):
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
    apigw = _client(ctx)
    api = next(
        (
            a
            for a in _pages(apigw.get_rest_apis, "items", limit=500)
            if a["name"] == values["api_name"] and _ours(a, values)
        ),
        None,
    )
    if api is None:
        return False
    api_id = values["api_id"] = api["id"]
    values["api_arn"] = _arn(values, f"/restapis/{api_id}")
    values["resources"], values["routes"] = {}, {}
    for resource in _pages(
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
            }
    values["stage"] = _observe_stage(apigw, api_id, values["stage_name"])
    if values["stage"]:
        values["stage_arn"] = _arn(values, f"/restapis/{api_id}/stages/{values['stage_name']}")
    return True


def _observe_stage(apigw, api_id: str, stage_name: str) -> dict | None:
    try:
        stage = apigw.get_stage(restApiId=api_id, stageName=stage_name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    settings = (stage.get("methodSettings") or {}).get("*/*", {})
    deployed = ""
    if stage.get("deploymentId"):
        description = apigw.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"])
        deployed = (description.get("description") or "").removeprefix(FINGERPRINT_PREFIX)
    rate = settings.get("throttlingRateLimit")
    return {
        "deployment_id": stage.get("deploymentId"),
        "deployed_fingerprint": deployed,
        "rate": int(rate) if rate is not None else None,
        "burst": settings.get("throttlingBurstLimit"),
    }


def observe_keys(ctx: Context, values: dict) -> None:
    """The usage plan and API key named for this service, and whether the key is in the plan."""
    apigw = _client(ctx)
    values["usage_plan"] = values["api_key"] = None
    for plan in _pages(apigw.get_usage_plans, "items", limit=500):
        if plan["name"] == values["usage_plan_name"] and _ours(plan, values):
            values["usage_plan"] = {
                "id": plan["id"],
                "rate": int((plan.get("throttle") or {}).get("rateLimit", 0)) or None,
                "burst": (plan.get("throttle") or {}).get("burstLimit"),
                "quota_limit": (plan.get("quota") or {}).get("limit"),
                "quota_period": (plan.get("quota") or {}).get("period"),
                "api_stages": [f"{s['apiId']}:{s['stage']}" for s in plan.get("apiStages", [])],
            }
            values["usage_plan_arn"] = _arn(values, f"/usageplans/{plan['id']}")
            break
    for key in _pages(apigw.get_api_keys, "items", nameQuery=values["api_key_name"], limit=500):
        if key["name"] == values["api_key_name"] and _ours(key, values):
            values["api_key"] = {"id": key["id"], "in_plan": False}
            values["api_key_arn"] = _arn(values, f"/apikeys/{key['id']}")
            break
    if values["usage_plan"] and values["api_key"]:
        plan_keys = _pages(
            apigw.get_usage_plan_keys, "items", usagePlanId=values["usage_plan"]["id"], limit=500
        )
        values["api_key"]["in_plan"] = any(k["id"] == values["api_key"]["id"] for k in plan_keys)


# --- plan ----------------------------------------------------------------------------------------
def plan_stage(spec: dict, values: dict, desired: dict, exists: bool) -> list[Change]:
    """A new deployment when the routes differ from the deployed ones; then stage throttling."""
    from deployments.provisioners.apigateway import fingerprint

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


def plan_throttle(throttle: dict, stage: dict | None) -> list[Change]:
    stage = stage or {}
    details = tuple(
        field_diff(f"stage throttling {field}", stage.get(field), throttle[field])
        for field in ("rate", "burst")
        if stage.get(field) != throttle[field]
    )
    return [Change("stage.throttle", "; ".join(details), details)] if details else []


def plan_usage_plan(spec: dict, values: dict) -> list[Change]:
    """Usage plan + API key while the API requires keys; removed when it no longer does."""
    wanted = spec.get("usage_plan") if spec.get("require_api_key") else None
    plan, key = values.get("usage_plan"), values.get("api_key")
    name = values["usage_plan_name"]
    changes = []
    if wanted is None:
        if key:
            changes.append(Change("api_key.delete", f"Delete API key {values['api_key_name']}"))
        if plan:
            changes.append(Change("usage_plan.delete", f"Delete usage plan {name}"))
        return changes
    labels = {
        "quota_limit": "quota",
        "quota_period": "quota period",
        "rate": "usage plan rate",
        "burst": "usage plan burst",
    }
    if plan is None:
        details = tuple(field_diff(label, None, wanted[k]) for k, label in labels.items())
        changes.append(Change("usage_plan.create", f"Create usage plan {name}", details))
    else:
        details = [
            field_diff(label, plan[k], wanted[k])
            for k, label in labels.items()
            if plan[k] != wanted[k]
        ]
        # A new API (or one recreated) has a stage the plan does not know yet.
        if not values.get("api_id") or _stage_key(values) not in plan["api_stages"]:
            details.append(f"attach stage {values['stage_name']}")
        if details:
            changes.append(Change("usage_plan.update", f"Change usage plan {name}", tuple(details)))
    if not key or not key["in_plan"]:
        changes.append(
            Change(
                "api_key.ensure", f"Create API key {values['api_key_name']} in usage plan {name}"
            )
        )
    return changes


def _stage_key(values: dict) -> str:
    return f"{values['api_id']}:{values['stage_name']}"


# --- apply ---------------------------------------------------------------------------------------
def apply(ctx: Context, values: dict, action: str, arg: str, desired: dict) -> str:
    apigw = _client(ctx)
    from deployments.provisioners.apigateway import fingerprint, tags

    if action == "api.create":
        api = apigw.create_rest_api(
            name=values["api_name"],
            description=f"{ctx.service.slug} in {ctx.environment.slug}, managed by Slipway",
            endpointConfiguration={"types": ["REGIONAL"]},
            apiKeySource="HEADER",
            tags=tags(ctx),
        )
        ctx.record_resource("api_arn", _arn(values, f"/restapis/{api['id']}"))
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
            return f"API GW: deployment {deployment['id']} created and on stage"
        apigw.create_stage(
            restApiId=api_id,
            stageName=values["stage_name"],
            deploymentId=deployment["id"],
            description=f"Environment {ctx.environment.slug}",
            tags=tags(ctx),
        )
        ctx.record_resource(
            "stage_arn", _arn(values, f"/restapis/{api_id}/stages/{values['stage_name']}")
        )
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
        return _ignore_missing(apigw.delete_stage, restApiId=api_id, stageName=values["stage_name"])
    return _apply_keys(ctx, apigw, values, action)


def _ignore_missing(call, **kwargs) -> str:
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
        _ignore_missing(
            apigw.delete_method, restApiId=api_id, resourceId=resource_id, httpMethod=method
        )
    apigw.put_method(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=method,
        authorizationType="NONE",
        apiKeyRequired=route["api_key_required"],
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
    _ignore_missing(
        apigw.delete_method, restApiId=api_id, resourceId=current["resource_id"], httpMethod=method
    )
    values["resources"][path]["methods"].remove(method)
    while path != "/":
        resource = values["resources"][path]
        children = [p for p, r in values["resources"].items() if r["parent_id"] == resource["id"]]
        if resource["methods"] or children:
            break
        _ignore_missing(apigw.delete_resource, restApiId=api_id, resourceId=resource["id"])
        del values["resources"][path]
        path = path.rsplit("/", 1)[0] or "/"
    return f"removed {key}"


def _apply_keys(ctx: Context, apigw, values: dict, action: str) -> str:
    from deployments.provisioners.apigateway import tags

    wanted = ctx.spec.get("usage_plan") or {}
    plan, key = values.get("usage_plan"), values.get("api_key")
    if action == "usage_plan.create":
        if plan:
            return f"adopted usage plan {plan['id']}"
        created = apigw.create_usage_plan(
            name=values["usage_plan_name"],
            description=f"Callers of {values['api_name']}",
            apiStages=[{"apiId": values["api_id"], "stage": values["stage_name"]}],
            throttle={"rateLimit": float(wanted["rate"]), "burstLimit": wanted["burst"]},
            quota={"limit": wanted["quota_limit"], "period": wanted["quota_period"]},
            tags=tags(ctx),
        )
        ctx.record_resource("usage_plan_arn", _arn(values, f"/usageplans/{created['id']}"))
        return f"created usage plan {created['id']}"
    if action == "usage_plan.update":
        ops = [
            {"op": "replace", "path": "/throttle/rateLimit", "value": str(wanted["rate"])},
            {"op": "replace", "path": "/throttle/burstLimit", "value": str(wanted["burst"])},
            {"op": "replace", "path": "/quota/limit", "value": str(wanted["quota_limit"])},
            {"op": "replace", "path": "/quota/period", "value": wanted["quota_period"]},
        ]
        if _stage_key(values) not in plan["api_stages"]:
            ops.append({"op": "add", "path": "/apiStages", "value": _stage_key(values)})
        apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=ops)
        return f"updated usage plan {plan['id']}"
    if action == "api_key.ensure":
        if key is None:
            key = apigw.create_api_key(
                name=values["api_key_name"],
                description=f"Key for {values['api_name']}; its value is shown in the AWS console",
                enabled=True,
                tags=tags(ctx),
            )
            ctx.record_resource("api_key_arn", _arn(values, f"/apikeys/{key['id']}"))
        if not key.get("in_plan"):
            apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        return f"API key {key['id']} is in usage plan {plan['id']}"
    if action == "api_key.delete":
        if key is None:
            return "already gone"
        if plan and key["in_plan"]:
            _ignore_missing(apigw.delete_usage_plan_key, usagePlanId=plan["id"], keyId=key["id"])
        return _ignore_missing(apigw.delete_api_key, apiKey=key["id"])
    if action == "usage_plan.delete":
        if plan is None:
            return "already gone"
        # A stage still attached to a plan blocks deleting either, so detach first.
        ops = [{"op": "remove", "path": "/apiStages", "value": s} for s in plan["api_stages"]]
        if ops:
            apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=ops)
        return _ignore_missing(apigw.delete_usage_plan, usagePlanId=plan["id"])
    raise ValueError(f"Unknown REST API change {action!r}")


def delete_api(ctx: Context, values: dict) -> str:
    apigw = _client(ctx)
    return _ignore_missing(apigw.delete_rest_api, restApiId=values["api_id"])


# --- wait ----------------------------------------------------------------------------------------
def wait(ctx: Context, values: dict, desired: dict) -> WaitResult:
    """REST deployments are synchronous: done once the stage serves a deployment of these routes."""
    from deployments.provisioners.apigateway import fingerprint

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
