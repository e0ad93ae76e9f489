"""An ECS service's access to DynamoDB tables: a task role of its own and its table policy.

The task execution role (pulling images, writing logs, reading secrets) is the environment's,
shared. What the containers themselves may call is the task role: a service that uses tables
gets one (`names.ecs_task_role`) with the least-privilege `slipway-tables` policy, set as the
task definition's `taskRoleArn`. Dropping the last table registers a revision without it and
deletes the role.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from deployments import names
from deployments.provisioners import table_access
from deployments.provisioners.base import Change, Context
from deployments.provisioners.ecs_setup import TRUST_POLICY  # ECS tasks assume both roles
from portal.aws import aws_client, error_code, is_not_found

KEYS = ("taskrole.ensure", "tables.policy", "taskrole.delete")


def _iam(ctx: Context):
    return aws_client("iam", environment=ctx.environment, actor=ctx.actor)


def role_name(ctx: Context) -> str:
    return names.ecs_task_role(ctx.service.slug, ctx.environment.slug)


def role_arn(ctx: Context) -> str:
    try:
        return _iam(ctx).get_role(RoleName=role_name(ctx))["Role"]["Arn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return ""


def observe(ctx: Context, values: dict) -> None:
    """Add the grants, the tables' ARNs, and (only when relevant) the task role and policy."""
    grants = table_access.grants_of(ctx.spec)
    values["grants"] = grants
    values["environment_slug"] = ctx.environment.slug
    values["table_arns"] = table_access.table_arns(ctx.environment, grants)
    has_role = (values.get("task") or {}).get("task_role") or (values.get("latest_task") or {}).get(
        "task_role"
    )
    if not grants and not has_role:
        return  # no extra AWS calls for services that use no tables
    values["task_role_name"] = role_name(ctx)
    values["task_role_arn"] = role_arn(ctx)
    values["table_policy"] = (
        table_access.observe(_iam(ctx), values["task_role_name"])
        if values["task_role_arn"]
        else None
    )


def plan(values: dict) -> list[Change]:
    """Before the task definition: the task role and its table policy."""
    grants = values.get("grants") or []
    if not grants:
        return []
    changes = []
    if not values.get("task_role_arn"):
        name = values.get("task_role_name") or "its task role"
        changes.append(Change("taskrole.ensure", f"Create the service's task role {name}"))
    changes += table_access.policy_change(values, subject="service", role_label="its task role")
    return changes


def plan_cleanup(values: dict) -> list[Change]:
    """After the service moved to a revision without a task role: delete the role."""
    if values.get("grants") or not values.get("task_role_arn"):
        return []
    return [Change("taskrole.delete", f"Delete the service's task role {values['task_role_name']}")]


def apply(ctx: Context, key: str) -> str:
    iam = _iam(ctx)
    name = role_name(ctx)
    if key == "taskrole.ensure":
        try:
            arn = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=TRUST_POLICY,
                Description=f"Task role of ECS service {ctx.service.slug} (Slipway)",
                Tags=[
                    {"Key": k, "Value": v}
                    for k, v in names.tags(
                        service_slug=ctx.service.slug,
                        environment_slug=ctx.environment.slug,
                        team_slug=ctx.service.owner.slug,
                    ).items()
                ],
            )["Role"]["Arn"]
            ctx.created_roles.append("task_role_arn")
        except ClientError as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            arn = role_arn(ctx)
        return f"role {arn}"
    if key == "tables.policy":
        grants = table_access.grants_of(ctx.spec)
        arns = table_access.table_arns(ctx.environment, grants)
        return table_access.put(
            iam, name, table_access.document(grants, arns, ctx.environment.slug)
        )
    if key == "taskrole.delete":
        table_access.delete_role(iam, name)
        return f"role {name} deleted"
    raise ValueError(f"Unknown ECS access change {key!r}")
