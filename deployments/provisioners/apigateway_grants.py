"""Lambda invoke grants of an API: `lambda:InvokeFunction` for every Lambda target and Lambda
authorizer, one statement per API and function with a stable id (names.py), withdrawn from
functions the API no longer uses.

A statement made before Slipway managed the API (an adopted one) that already lets every stage,
method and path of this API invoke counts as the grant: the first plan after adoption asks for
nothing, and removing the grant later removes that statement.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from deployments.provisioners import apigateway_auth
from deployments.provisioners.apigateway_rest import ignore_missing
from deployments.provisioners.base import Change, Context
from portal.aws import aws_client, error_code, is_not_found


def observe(ctx: Context, values: dict) -> dict[str, dict]:
    """Function ARN → our grant on it ({"source_arn"} or None), for every Lambda target."""
    lam = aws_client("lambda", environment=ctx.environment, actor=ctx.actor)
    grants = {}
    for target in values["targets"].values():
        arn = target.get("function_arn")
        if not arn or arn in grants:
            continue
        try:
            policy = json.loads(lam.get_policy(FunctionName=arn)["Policy"])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            grants[arn] = None  # no policy at all (or the function is gone)
            continue
        grants[arn] = None
        for statement in policy.get("Statement", []):
            if statement.get("Sid") == values["statement_id"]:
                condition = statement.get("Condition", {}).get("ArnLike", {})
                grants[arn] = {
                    "source_arn": condition.get("AWS:SourceArn", ""),
                    "sid": values["statement_id"],
                }
                break
            if grants[arn] is None and covers_api(statement, values, arn):
                # A grant made before Slipway managed the API (an adopted one) that already lets
                # every stage, method and path of it invoke: as good as Slipway's own.
                grants[arn] = {"source_arn": source_arn(values, arn), "sid": statement["Sid"]}
    return grants


def covers_api(statement: dict, values: dict, function_arn: str) -> bool:
    """Whether a policy statement lets API Gateway invoke from any route of this API."""
    if not values.get("api_id") or statement.get("Effect") != "Allow" or not statement.get("Sid"):
        return False
    principal = statement.get("Principal") or {}
    service = principal.get("Service") if isinstance(principal, dict) else principal
    if service != "apigateway.amazonaws.com":
        return False
    if statement.get("Action") not in ("lambda:InvokeFunction", "lambda:*"):
        return False
    arn = (statement.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn", "")
    prefix = source_arn(values, function_arn).removesuffix("*")
    return arn.startswith(prefix) and all(p == "*" for p in arn[len(prefix) :].split("/"))


def source_arn(values: dict, function_arn: str) -> str:
    """Which API may invoke: any stage, method and path of this API (account from the function)."""
    account = function_arn.split(":")[4]
    return f"arn:aws:execute-api:{values['region']}:{account}:{values['api_id']}/*"


def function_name(function_arn: str) -> str:
    return function_arn.split(":")[6]


def plan(values: dict, desired: dict, api_exists: bool, spec: dict | None = None) -> list[Change]:
    """Grant every Lambda target and Lambda authorizer; withdraw the grant from functions no
    longer used."""
    wanted = {
        values["targets"][r["target"]]["function_arn"]
        for r in desired.values()
        if values["targets"][r["target"]]["kind"] == "lambda"
    }
    if spec is not None:
        wanted |= {
            config["function_arn"]
            for config in apigateway_auth.desired_authorizers(spec, values).values()
            if config.get("function_arn")
        }
    changes = []
    for arn in sorted(wanted):
        grant = values["permissions"].get(arn)
        if grant and api_exists and grant["source_arn"] == source_arn(values, arn):
            continue
        changes.append(
            Change(
                f"permission.add:{arn}",
                f"allow API Gateway to invoke {function_name(arn)} (lambda:AddPermission)",
            )
        )
    for arn, grant in sorted(values["permissions"].items()):
        if grant and arn not in wanted:
            changes.append(
                Change(
                    f"permission.remove:{arn}",
                    f"withdraw API Gateway's permission to invoke {function_name(arn)}",
                )
            )
    return changes


def apply(ctx: Context, values: dict, action: str, function_arn: str) -> str:
    lam = aws_client("lambda", environment=ctx.environment, actor=ctx.actor)
    sid = values["statement_id"]
    grant = values["permissions"].get(function_arn)
    if action == "permission.remove":
        if not grant:
            return "no permission to withdraw"
        ignore_missing(lam.remove_permission, FunctionName=function_arn, StatementId=grant["sid"])
        values["permissions"][function_arn] = None  # the run's observation stays current
        return f"removed statement {grant['sid']}"
    wanted = source_arn(values, function_arn)
    if grant and grant["source_arn"] == wanted:
        return f"statement {grant['sid']} already allows {wanted}"
    if grant:  # the API was recreated: the old grant names an API that no longer exists
        lam.remove_permission(FunctionName=function_arn, StatementId=grant["sid"])
    try:
        _add(lam, function_arn, sid, wanted)
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
        # A statement with this id was left by an API that is gone (a first deployment does
        # not read the function's policy): replace it.
        ignore_missing(lam.remove_permission, FunctionName=function_arn, StatementId=sid)
        _add(lam, function_arn, sid, wanted)
    values["permissions"][function_arn] = {"source_arn": wanted, "sid": sid}
    return f"statement {sid}: apigateway.amazonaws.com may invoke from {wanted}"


def _add(lam, function_arn: str, sid: str, source: str) -> None:
    lam.add_permission(
        FunctionName=function_arn,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=source,
    )
