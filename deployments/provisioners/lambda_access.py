"""A Lambda function's access to DynamoDB tables: its own role and that role's table policy.

A function that uses no tables runs with the environment's shared execution role. One that uses
tables gets a role of its own (`names.lambda_own_role`, with the same logs policy) carrying the
least-privilege `slipway-tables` policy, so no other function gains its access. Dropping the
last table moves the function back to the shared role and deletes its own.
"""

from __future__ import annotations

from deployments import names
from deployments.provisioners import lambda_steps as steps
from deployments.provisioners import table_access
from deployments.provisioners.base import Change, Context

KEYS = ("tables.policy", "role.own.delete")


def role_name(ctx: Context) -> str:
    """The role the function should run with under `ctx.spec`."""
    env, service = ctx.environment.slug, ctx.service.slug
    if table_access.grants_of(ctx.spec):
        return names.lambda_own_role(service, env)
    return names.lambda_role(env)


def observe(ctx: Context, values: dict, function_role_arn: str) -> None:
    """Add to `values`: the function's current role, its own role and table policy, and
    the ARNs of the tables the spec names (resolved in this environment)."""
    grants = table_access.grants_of(ctx.spec)
    own = names.lambda_own_role(ctx.service.slug, ctx.environment.slug)
    values["function_role"] = function_role_arn.rsplit("/", 1)[-1] if function_role_arn else ""
    values["grants"] = grants
    values["environment_slug"] = ctx.environment.slug
    values["table_arns"] = table_access.table_arns(ctx.environment, grants)
    if not grants and values["function_role"] != own:
        return  # nothing of its own to look at: no extra AWS calls for plain functions
    values["own_role"] = own
    same_role = values.get("role_name") == own
    own_arn = values.get("role_arn", "") if same_role else _role_arn(ctx, own)
    values["own_role_arn"] = own_arn
    values["table_policy"] = (
        table_access.observe(steps.client(ctx, "iam"), own) if own_arn else None
    )


def _role_arn(ctx: Context, role: str) -> str:
    from botocore.exceptions import ClientError

    from portal.aws import is_not_found

    try:
        return steps.client(ctx, "iam").get_role(RoleName=role)["Role"]["Arn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return ""


def plan_policy(values: dict) -> list[Change]:
    """The table policy change, before the function is pointed at the role (PlanFailed when a
    table is not deployed in this environment)."""
    return table_access.policy_change(values, subject="function", role_label="its own role")


def role_detail(values: dict) -> str | None:
    """The configuration line when the function must change role, else None."""
    current, wanted = values.get("function_role"), values.get("role_name")
    if current and wanted and current != wanted:
        return f"execution role {current} → {wanted}"
    return None


def plan_cleanup(values: dict) -> list[Change]:
    """After moving back to the shared role: delete the function's own role."""
    if values.get("grants") or not values.get("own_role_arn"):
        return []
    return [Change("role.own.delete", f"Delete the function's own role {values['own_role']}")]


def apply(ctx: Context, key: str) -> str:
    iam = steps.client(ctx, "iam")
    own = names.lambda_own_role(ctx.service.slug, ctx.environment.slug)
    if key == "tables.policy":
        return table_access.apply_policy(ctx, iam, own)
    if key == "role.own.delete":
        table_access.delete_role(iam, own)
        return f"role {own} deleted"
    raise ValueError(f"Unknown Lambda access change {key!r}")
