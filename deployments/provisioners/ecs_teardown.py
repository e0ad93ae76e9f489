"""ECS provisioner steps that delete: the teardown of a service (one function per change key,
in `ecs_handlers.HANDLERS`), and taking back what a run created when the load balancer refuses
its route."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from deployments.provisioners import ecs_access as access
from deployments.provisioners import ecs_aws as aws
from deployments.provisioners import table_access
from deployments.provisioners.base import Context
from deployments.provisioners.ecs_refs import Refs
from portal.aws import error_code, error_message


def _client(ctx: Context, service: str):
    return aws._client(ctx, service)


def delete_rule(ctx: Context, refs: Refs) -> str:
    group = aws.target_group(ctx, refs)
    rules = aws.rules_for(ctx, refs, group["TargetGroupArn"]) if group else []
    for rule in rules:
        _client(ctx, "elbv2").delete_rule(RuleArn=rule["RuleArn"])
    return f"{len(rules)} rule(s) removed"


def delete_service(ctx: Context, refs: Refs) -> str:
    if aws.describe_service(ctx, refs) is None:
        return "already gone"
    # force: stop the tasks and delete in one call, whatever the desired count.
    _client(ctx, "ecs").delete_service(cluster=refs.cluster, service=refs.service, force=True)
    return f"{refs.service} deleted"


def delete_target_group(ctx: Context, refs: Refs) -> str:
    group = aws.target_group(ctx, refs)
    if group is None:
        return "already gone"
    _client(ctx, "elbv2").delete_target_group(TargetGroupArn=group["TargetGroupArn"])
    return f"{refs.target_group} deleted"


def deregister_task_definitions(ctx: Context, refs: Refs) -> str:
    ecs = _client(ctx, "ecs")
    pages = ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=refs.family, status="ACTIVE"
    )
    # familyPrefix matches prefixes ("orders-dev" also finds "orders-dev2"): keep exact ones.
    arns = [
        arn
        for page in pages
        for arn in page["taskDefinitionArns"]
        if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == refs.family
    ]
    for arn in arns:
        ecs.deregister_task_definition(taskDefinition=arn)
    return f"{len(arns)} revision(s) deregistered"


def delete_logs(ctx: Context, refs: Refs) -> str:
    try:
        _client(ctx, "logs").delete_log_group(logGroupName=refs.log_group)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return "already gone"
    return f"{refs.log_group} deleted"


def take_back_created(ctx: Context, refs: Refs) -> str:
    """The load balancer refused the route: delete what this run created for it (its target
    group, log group, task role), newest first, and forget them, so that AWS and the catalog
    agree that nothing is left of the refused deployment. What the run found (adopted, made
    before it) is never touched. Returns what could not be deleted ("" when all was)."""
    undo = {
        "target_group_arn": lambda: _client(ctx, "elbv2").delete_target_group(
            TargetGroupArn=ctx.seen("target_group_arn")
        ),
        "log_group_arn": lambda: delete_logs(ctx, refs),
        "task_role_arn": lambda: table_access.delete_role(
            _client(ctx, "iam"), access.role_name(ctx)
        ),
    }
    failed = []
    for role in reversed(ctx.created_roles):
        try:
            undo[role]()
        except (ClientError, BotoCoreError) as exc:
            failed.append(f"{role.removesuffix('_arn').replace('_', ' ')} ({error_message(exc)})")
            continue
        ctx.forget_resource(role)
        ctx.remember(role, "")
    ctx.created_roles.clear()
    if not failed:
        return ""
    return f"Slipway could not delete what it created for it: {', '.join(failed)}."
