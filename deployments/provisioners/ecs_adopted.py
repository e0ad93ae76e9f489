"""ECS services Slipway adopted (interop/adopt_ecs.py) rather than created.

An adopted service keeps its own names: cluster, service, task family, container, log group,
target group, listener, scaling policy, execution role and network. Adoption records them on the
instance (`resources`, with `"adopted": True`); `Refs.of` takes them from there instead of
deriving them from slugs, so observe, plan, apply and delete act on the adopted resources.

A new task definition revision of an adopted service starts from the revision it runs: only the
fields the spec holds change (cpu, memory, and the main container's image, port, environment,
secrets and Slipway's health check); other containers, volumes, its own task role and anything
else Slipway does not model stay as they were.
"""

from __future__ import annotations

import copy

from deployments.provisioners.base import Context

# Resource keys an adopted instance records (interop/adopt_ecs.py writes them).
NAME_KEYS = (
    "cluster",
    "service_name",
    "task_family",
    "container",
    "log_group",
    "target_group",
    "scaling_policy",
    "execution_role",
    "listener_arn",
)
# Task definition fields a new revision copies from the one the service runs.
KEPT_FIELDS = (
    "taskRoleArn",
    "executionRoleArn",
    "volumes",
    "placementConstraints",
    "runtimePlatform",
    "ephemeralStorage",
    "proxyConfiguration",
    "pidMode",
    "ipcMode",
)


def is_adopted(ctx: Context) -> bool:
    return bool((ctx.resources or {}).get("adopted")) and ctx.service.kind == "ecs"


def names_of(ctx: Context) -> dict[str, str]:
    """The adopted resource names (empty for a service Slipway created)."""
    if not is_adopted(ctx):
        return {}
    resources = ctx.resources
    return {key: resources[key] for key in NAME_KEYS if resources.get(key)}


def network_of(ctx: Context) -> dict | None:
    """The adopted service's own awsvpc network: subnets, security groups, public IP."""
    return (ctx.resources or {}).get("network") if is_adopted(ctx) else None


def own_task_role(ctx: Context) -> str:
    """The task role the service had when adopted ("" if none); not Slipway's table role."""
    return (ctx.resources or {}).get("own_task_role_arn", "") if is_adopted(ctx) else ""


def observed_health_path(ctx: Context, task: dict, target_group_path: str | None) -> dict:
    """An adopted container without Slipway's curl health check reports the target group's
    health check path as its own, as adoption read it into the spec (one field for both)."""
    if not is_adopted(ctx) or task.get("health_check_path"):
        return task
    return {**task, "health_check_path": target_group_path or ""}


def base_definition(ctx: Context, refs) -> dict | None:
    """The raw task definition the adopted service runs (or its family's latest)."""
    from deployments.provisioners import ecs_aws, ecs_taskdef

    raw = ecs_aws.describe_service(ctx, refs)
    current = ecs_taskdef.task_definition(ctx, raw["taskDefinition"]) if raw else None
    current = current or ecs_taskdef.latest_task_definition(ctx, refs)
    return current["raw"] if current else None


def _slipway_check(command: list) -> bool:
    from deployments.provisioners.ecs_taskdef import HEALTH_CHECK_RE

    return bool(HEALTH_CHECK_RE.match(" ".join(command[1:])))


def overlay(ctx: Context, base: dict, shape: dict) -> dict:
    """RegisterTaskDefinition arguments: `base` (the running revision) with the spec applied.

    `shape` holds the arguments Slipway would send for a service it created; its one container
    is the main container as Slipway writes it.
    """
    container = shape["containerDefinitions"][0]
    kwargs = {key: copy.deepcopy(base[key]) for key in KEPT_FIELDS if base.get(key)}
    containers = copy.deepcopy(base.get("containerDefinitions") or [])
    main = next((c for c in containers if c["name"] == container["name"]), None)
    if main is None:
        containers.insert(0, container)
    else:
        main.update({k: container[k] for k in ("image", "environment", "secrets")})
        ports = main.get("portMappings") or [{"protocol": "tcp"}]
        ports[0]["containerPort"] = container["portMappings"][0]["containerPort"]
        ports[0].pop("hostPort", None)  # awsvpc: the host port follows the container port
        main["portMappings"] = ports
        if "healthCheck" in container:
            main["healthCheck"] = container["healthCheck"]
        elif _slipway_check((main.get("healthCheck") or {}).get("command", [])):
            main.pop("healthCheck")
        main.setdefault("logConfiguration", container["logConfiguration"])
    if shape.get("taskRoleArn"):
        kwargs["taskRoleArn"] = shape["taskRoleArn"]  # Slipway's table role
    elif kwargs.get("taskRoleArn") != own_task_role(ctx):
        kwargs.pop("taskRoleArn", None)  # Slipway's table role, no longer needed
    return {
        **kwargs,
        "networkMode": base.get("networkMode") or "awsvpc",
        "requiresCompatibilities": base.get("requiresCompatibilities") or ["FARGATE"],
        "containerDefinitions": containers,
    }
