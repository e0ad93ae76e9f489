"""Usage plans and API keys of a REST API: callers must send a key; the plan meters them.

Both live outside the API (account-level), so they are found by name and Slipway's tags even
when the API itself is gone, and torn down first: key → plan (detached from its stages).
Only REST APIs have them; the form refuses keys for HTTP APIs.
"""

from __future__ import annotations

from deployments.provisioners.apigateway_rest import (
    client,
    ignore_missing,
    is_ours,
    pages,
    resource_arn,
)
from deployments.provisioners.base import Change, Context, field_diff


def _tags(ctx: Context) -> dict:
    from deployments.provisioners.apigateway import tags

    return tags(ctx)


# --- observe -------------------------------------------------------------------------------------
def may_exist(ctx: Context, specs: list[dict]) -> bool:
    """Whether the instance can own a usage plan or key: its specs (requested, applied) or its
    recorded resources (a run that created one records it at once) say so."""
    own = ctx.resources or {}
    return (
        any(s.get("require_api_key") for s in specs)
        or bool(own.get("usage_plan_arn") or own.get("api_key_arn"))
        or not ctx.spec.get("api_type")  # no spec to go by: look
    )


def observe(ctx: Context, values: dict) -> None:
    """The usage plan and API key named for this service, and whether the key is in the plan."""
    apigw = client(ctx)
    values["usage_plan"] = values["api_key"] = None
    for plan in pages(apigw.get_usage_plans, "items", limit=500):
        if plan["name"] == values["usage_plan_name"] and is_ours(plan, values):
            throttle = plan.get("throttle") or {}
            values["usage_plan"] = {
                "id": plan["id"],
                "rate": int(throttle["rateLimit"]) if "rateLimit" in throttle else None,
                "burst": throttle.get("burstLimit"),
                "quota_limit": (plan.get("quota") or {}).get("limit"),
                "quota_period": (plan.get("quota") or {}).get("period"),
                "api_stages": [f"{s['apiId']}:{s['stage']}" for s in plan.get("apiStages", [])],
            }
            values["usage_plan_arn"] = resource_arn(values, f"/usageplans/{plan['id']}")
            break
    for key in pages(apigw.get_api_keys, "items", nameQuery=values["api_key_name"], limit=500):
        if key["name"] == values["api_key_name"] and is_ours(key, values):
            values["api_key"] = {"id": key["id"], "in_plan": False}
            values["api_key_arn"] = resource_arn(values, f"/apikeys/{key['id']}")
            break
    if values["usage_plan"] and values["api_key"]:
        plan_keys = pages(
            apigw.get_usage_plan_keys, "items", usagePlanId=values["usage_plan"]["id"], limit=500
        )
        values["api_key"]["in_plan"] = any(k["id"] == values["api_key"]["id"] for k in plan_keys)


# --- plan ----------------------------------------------------------------------------------------
def plan(spec: dict, values: dict) -> list[Change]:
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
def apply(ctx: Context, apigw, values: dict, action: str) -> str:
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
            tags=_tags(ctx),
        )
        ctx.record_resource("usage_plan_arn", resource_arn(values, f"/usageplans/{created['id']}"))
        values["usage_plan"] = {**wanted, "id": created["id"], "api_stages": [_stage_key(values)]}
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
                tags=_tags(ctx),
            )
            ctx.record_resource("api_key_arn", resource_arn(values, f"/apikeys/{key['id']}"))
        if not key.get("in_plan"):
            apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        values["api_key"] = {"id": key["id"], "in_plan": True}
        return f"API key {key['id']} is in usage plan {plan['id']}"
    if action == "api_key.delete":
        if key is None:
            return "already gone"
        if plan and key["in_plan"]:
            ignore_missing(apigw.delete_usage_plan_key, usagePlanId=plan["id"], keyId=key["id"])
        return ignore_missing(apigw.delete_api_key, apiKey=key["id"])
    if action == "usage_plan.delete":
        if plan is None:
            return "already gone"
        # A stage still attached to a plan blocks deleting either, so detach first.
        ops = [{"op": "remove", "path": "/apiStages", "value": s} for s in plan["api_stages"]]
        if ops:
            apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=ops)
        return ignore_missing(apigw.delete_usage_plan, usagePlanId=plan["id"])
    raise ValueError(f"Unknown REST API change {action!r}")
