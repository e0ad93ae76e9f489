"""ECS task definitions: the spec's fields as a revision holds them, reading and registering.

`task_values` is the one shape both sides compare in: what a spec asks for and what a revision
in AWS has (`values_of`), so the plan sees a change exactly when a new revision is needed.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError
from django.conf import settings

from deployments.provisioners import ecs_adopted
from deployments.provisioners.base import Context
from deployments.provisioners.ecs_refs import Refs
from portal.aws import aws_client, error_code

HEALTH_CHECK_RE = re.compile(r"^curl -fsS http://localhost:\d+(?P<path>/\S*) \|\| exit 1$")


def task_values(spec: dict) -> dict:
    """The task definition fields of a spec, normalised as `observe` reports them."""
    return {
        "image": spec["image"],
        "cpu": int(spec["cpu"]),
        "memory": int(spec["memory"]),
        "container_port": int(spec["container_port"]),
        "environment": dict(spec.get("environment") or {}),
        "secrets": dict(spec.get("secrets") or {}),
        "health_check_path": spec.get("health_check_path") or "",
        "task_role": bool(spec.get("tables")),  # its own task role, for table access
    }


def values_of(task_definition: dict, container_name: str) -> dict:
    """`task_values` of a revision as AWS describes it (its main container's view)."""
    containers = task_definition.get("containerDefinitions", [])
    container = next((c for c in containers if c["name"] == container_name), containers[0])
    ports = container.get("portMappings") or [{}]
    command = " ".join((container.get("healthCheck") or {}).get("command", [])[1:])
    match = HEALTH_CHECK_RE.match(command)
    return {
        "image": container.get("image"),
        "cpu": int(task_definition.get("cpu") or 0),
        "memory": int(task_definition.get("memory") or 0),
        "container_port": ports[0].get("containerPort"),
        "environment": {e["name"]: e["value"] for e in container.get("environment", [])},
        "secrets": {s["name"]: s["valueFrom"] for s in container.get("secrets", [])},
        "health_check_path": match.group("path") if match else "",
        "task_role": bool(task_definition.get("taskRoleArn")),
    }


def task_definition(ctx: Context, arn_or_family: str) -> dict | None:
    """{"arn", "values" (as `task_values` reports a spec), "raw"} of an ACTIVE revision."""
    ecs = aws_client("ecs", environment=ctx.environment, actor=ctx.actor)
    try:
        found = ecs.describe_task_definition(taskDefinition=arn_or_family)
    except ClientError as exc:
        if error_code(exc) not in {"ClientException", "InvalidParameterException"}:
            raise
        return None
    definition = found["taskDefinition"]
    if definition.get("status") != "ACTIVE":
        return None
    values = values_of(definition, Refs.of(ctx).container)
    own_role = ecs_adopted.own_task_role(ctx)
    if own_role and definition.get("taskRoleArn") == own_role:
        values["task_role"] = False  # the adopted service's own role, not Slipway's table role
    return {"arn": definition["taskDefinitionArn"], "values": values, "raw": definition}


def latest_task_definition(ctx: Context, refs: Refs) -> dict | None:
    """The family's newest ACTIVE revision (a run that registered one and then died left it)."""
    return task_definition(ctx, refs.family)


def container(ctx: Context, refs: Refs) -> dict:
    """The service's one container as Slipway writes it (logs to its own log group)."""
    want = task_values(ctx.spec)
    found = {
        "name": refs.container,
        "image": want["image"],
        "essential": True,
        "portMappings": [{"containerPort": want["container_port"], "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(want["environment"].items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(want["secrets"].items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": refs.log_group,
                "awslogs-region": ctx.environment.region or settings.AWS_DEFAULT_REGION,
                "awslogs-stream-prefix": "ecs",
            },
        },
    }
    if want["health_check_path"]:
        # The image must have curl; the path is the one the load balancer checks too.
        check = f"curl -fsS http://localhost:{want['container_port']}{want['health_check_path']}"
        found["healthCheck"] = {
            "command": ["CMD-SHELL", f"{check} || exit 1"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 60,
        }
    return found


def register_task_definition(ctx: Context, refs: Refs) -> str:
    """Register the spec's revision, or reuse the family's newest when it is the same (a run
    that registered it and then died)."""
    from deployments.provisioners import ecs_setup

    if ctx.observed is not None and not refs.adopted:  # the run read the newest revision
        arn = ctx.seen("latest_task_definition")
        latest = {"arn": arn, "values": ctx.seen("latest_task")} if arn else None
    else:
        latest = latest_task_definition(ctx, refs)
    if latest and latest["values"] == task_values(ctx.spec):
        ctx.record_resource("task_definition_arn", latest["arn"])
        return f"reusing {latest['arn']}"
    role_arn = ctx.seen("execution_role") or ecs_setup.execution_role_arn(ctx, refs)
    if not role_arn:
        ecs_setup.ensure_role(ctx, refs)
        role_arn = ctx.seen("execution_role") or ecs_setup.execution_role_arn(ctx, refs)
    extra = {}
    if ctx.spec.get("tables"):
        from deployments.provisioners import ecs_access

        extra["taskRoleArn"] = ecs_access.role_arn(ctx)
    shape = {
        **extra,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "executionRoleArn": role_arn,
        "containerDefinitions": [container(ctx, refs)],
    }
    base = ecs_adopted.base_definition(ctx, refs) if refs.adopted else None
    if base is not None:  # an adopted service: start from the revision it runs
        shape = {"executionRoleArn": role_arn, **ecs_adopted.overlay(ctx, base, shape)}
    ecs = aws_client("ecs", environment=ctx.environment, actor=ctx.actor)
    definition = ecs.register_task_definition(
        **shape,
        family=refs.family,
        cpu=str(ctx.spec["cpu"]),
        memory=str(ctx.spec["memory"]),
        tags=refs.tag_list("key", "value"),
    )["taskDefinition"]
    ctx.record_resource("task_definition_arn", definition["taskDefinitionArn"])
    return f"registered {definition['taskDefinitionArn']}"
