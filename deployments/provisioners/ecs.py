"""ECS Fargate services: task definition, service, load balancing and auto-scaling.

What one instance owns (and delete removes, in reverse dependency order): its Application Auto
Scaling target and target-tracking policy, its listener rule on the environment's ALB, the ECS
service, its target group, its task definition revisions and its log group. What it shares and
never deletes: the environment's cluster, VPC, subnets, security groups, ALB and listener, and
the per-environment task execution role.

Reading AWS lives in `ecs_aws`, `ecs_setup` and `ecs_taskdef`, writing in `ecs_handlers` (one
step per change key); this module holds the decisions: what AWS holds (`observe`), what to
change (`plan`, pure), carrying one change out (`apply`) and whether the rollout finished
(`wait`).
"""

from __future__ import annotations

from deployments.errors import EnvironmentNotReady, LoadBalancerFull
from deployments.provisioners import ecs_access as access
from deployments.provisioners import ecs_adopted
from deployments.provisioners import ecs_aws as aws
from deployments.provisioners import ecs_setup as setup
from deployments.provisioners import ecs_taskdef as taskdef
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    Provisioner,
    WaitResult,
    field_diff,
    owned_from,
)
from deployments.provisioners.ecs_handlers import HANDLERS
from deployments.provisioners.ecs_taskdef import task_values
from deployments.specs import checked_spec

# Task definition spec fields → (label in the diff, unit).
TASK_FIELDS = {
    "image": ("image", ""),
    "cpu": ("cpu", ""),
    "memory": ("memory", "MiB"),
    "container_port": ("container port", ""),
    "environment": ("environment variables", ""),
    "secrets": ("secrets", ""),
    "health_check_path": ("health check path", ""),
    "task_role": ("own task role", ""),
}
METRIC_LABELS = {"cpu": "CPU", "memory": "memory", "requests": "ALB requests per target"}


def scale_values(spec: dict) -> dict[str, int | None]:
    """The numbers the environment's guardrails check."""
    autoscaling = spec.get("autoscaling") or {}
    return {
        "desired_count": spec.get("desired_count"),
        "min_count": autoscaling.get("min"),
        "max_count": autoscaling.get("max"),
    }


# --- observe -------------------------------------------------------------------------------------
def observe(ctx: Context) -> Observed:
    """What AWS holds for this instance now (plain values; `owned_resources` names its own)."""
    refs = aws.Refs.of(ctx)
    values: dict = {
        "service_name": refs.service,
        "cluster": refs.cluster,
        "log_group": refs.log_group,
        "target_group": refs.target_group,
    }
    # The environment's network (subnets, security groups, load balancer listener) is shared and
    # provided for the service: by an admin on AWS, by the embedded set-up in the emulator
    # (portal/embedded.py), which then shows as the plan's first step. The same checks either way.
    values["network_ready"], listener = aws.network(ctx, refs)
    if not values["network_ready"] and not setup.network_provided_by_slipway():
        raise EnvironmentNotReady(
            f"{ctx.environment.name} has no usable subnets, security groups or load balancer "
            "listener for ECS services; an admin sets them (and its cluster) in the admin."
        )
    # One DescribeServices answers for the service and the shared cluster both.
    cluster_ready, service = (
        aws.cluster_and_service(ctx, refs) if values["network_ready"] else (False, None)
    )
    values["cluster_ready"] = cluster_ready
    values["execution_role"] = setup.execution_role_arn(ctx, refs)
    values["log_group_arn"] = setup.log_group_arn(ctx, refs)
    # An adopted service's log group was there before Slipway, and other services often write
    # to the same group under their own stream prefix: a delete keeps it.
    values["log_group_kept"] = ecs_adopted.is_adopted(ctx)
    values.update(aws.load_balancing(ctx, refs, listener) if values["network_ready"] else {})
    latest = taskdef.latest_task_definition(ctx, refs)
    if latest:
        values["latest_task_definition"] = latest["arn"]
        values["latest_task"] = ecs_adopted.observed_health_path(
            ctx, latest["values"], values.get("target_group_health_path")
        )
    # Auto-scaling is read only when it may have to be removed: Slipway sets it on a service
    # it created (whose ARN it records at once), and the spec's own is set whatever is there
    # (registering the target and putting the policy overwrite both).
    ours = service is not None or bool((ctx.resources or {}).get("service_arn"))
    if (
        values["network_ready"]
        and ours
        and (service is not None or not ctx.spec.get("autoscaling"))
    ):
        values.update(aws.autoscaling(ctx, refs))
    if service is None:
        access.observe(ctx, values)
        return Observed(exists=False, values=values)
    values.update(service)
    values["environment_network"] = {
        "subnets": sorted(refs.subnets),
        "security_groups": sorted(refs.security_groups),
    }
    if latest and latest["arn"] == service["task_definition_arn"]:
        current = latest  # the usual case: one describe call, not two
    else:
        current = taskdef.task_definition(ctx, service["task_definition_arn"])
    values["task"] = ecs_adopted.observed_health_path(
        ctx, current["values"] if current else {}, values.get("target_group_health_path")
    )
    access.observe(ctx, values)
    return Observed(exists=True, values=values)


# --- plan ----------------------------------------------------------------------------------------
def _show(key: str, value):
    if key in ("environment", "secrets"):
        # Keys only: values may be sensitive and never belong in a diff or a log.
        return ", ".join(sorted(value or {})) or "(none)"
    if key == "health_check_path":
        return value or "(none)"
    return value


def _pairs_diff(label: str, before: dict, after: dict) -> str:
    """'environment variables: added NEW; changed LOG_LEVEL' — names only, never values."""
    parts = []
    for verb, keys in (
        ("added", sorted(set(after) - set(before))),
        ("removed", sorted(set(before) - set(after))),
        ("changed", sorted(k for k in set(before) & set(after) if before[k] != after[k])),
    ):
        if keys:
            parts.append(f"{verb} {', '.join(keys)}")
    return f"{label}: {'; '.join(parts)}"


def _task_details(want: dict, have: dict | None) -> tuple[str, ...]:
    details = []
    for key, (label, unit) in TASK_FIELDS.items():
        if have is not None and want[key] == have.get(key):
            continue
        label = f"task definition {label}"
        if have is not None and key in ("environment", "secrets"):
            details.append(_pairs_diff(label, have.get(key) or {}, want[key]))
        else:
            before = None if have is None else _show(key, have.get(key))
            details.append(field_diff(label, before, _show(key, want[key]), unit))
    return tuple(details)


def _rule_text(rule: dict | None) -> str:
    if not rule:
        return "(none)"
    return f"path {rule['path']}" if rule.get("path") else f"host {rule['host']}"


def _want_rule(spec: dict) -> dict | None:
    lb = spec.get("load_balancer") or None
    if not lb:
        return None
    return {"path": lb["path"]} if lb.get("path") else {"host": lb["host"]}


def plan(spec: dict, observed: Observed) -> list[Change]:
    """The changes that take AWS from `observed` to `spec`, in dependency order (pure)."""
    checked_spec(spec)  # the typed spec's rules (deployments/specs/ecs.py); raises ValueError
    values = observed.values
    name = values["service_name"]
    changes: list[Change] = []
    if not values.get("network_ready"):
        changes.append(
            Change(
                "network.ensure",
                "Create the embedded network (VPC, subnets, security group, ALB, cluster)",
            )
        )
    elif not values.get("cluster_ready"):
        changes.append(Change("cluster.ensure", f"Create ECS cluster {values['cluster']}"))
    if not values.get("execution_role"):
        changes.append(Change("role.ensure", "Create the ECS task execution role"))
    if not values.get("log_group_arn"):
        changes.append(Change("logs.ensure", f"Create log group {values['log_group']}"))

    changes += access.plan(values)
    want_task = task_values(spec)
    have_task = values.get("task") if observed.exists else None
    if have_task != want_task:
        adoptable = values.get("latest_task") == want_task
        summary = "Register task definition revision" + (" (reuse latest)" if adoptable else "")
        changes.append(Change("taskdef.register", summary, _task_details(want_task, have_task)))

    want_rule = _want_rule(spec)
    hc_path = want_task["health_check_path"] or "/"
    if want_rule:
        if not values.get("target_group_arn"):
            changes.append(
                Change(
                    "target_group.ensure",
                    f"Create target group {values['target_group']}",
                    (f"health check {hc_path}",),
                )
            )
        elif values.get("target_group_health_path") != hc_path:
            detail = field_diff("health check", values.get("target_group_health_path"), hc_path)
            summary = f"Update target group {values['target_group']}"
            changes.append(Change("target_group.update", summary, (detail,)))
        if not values.get("rule") and (
            values.get("listener_rules_taken", 0) >= aws.MAX_RULES_PER_LOAD_BALANCER
        ):
            raise LoadBalancerFull(aws.LOAD_BALANCER_FULL)
        if values.get("rule") != want_rule:
            detail = field_diff(
                "listener rule",
                _rule_text(values.get("rule")) if values.get("rule") else None,
                _rule_text(want_rule),
            )
            changes.append(
                Change("rule.ensure", "Route the load balancer to the service", (detail,))
            )

    if not observed.exists:
        details = (
            f"desired count: {spec['desired_count']}",
            "launch type FARGATE, awsvpc in the environment's subnets",
            "deployment circuit breaker with rollback: on",
        )
        changes.append(Change("service.create", f"Create ECS service {name}", details))
    else:
        details = _service_details(spec, values, want_task, have_task)
        if details:
            changes.append(Change("service.update", f"Update ECS service {name}", details))

    changes.extend(_scaling_changes(spec, values))
    changes.extend(access.plan_cleanup(values))
    if not want_rule and values.get("rule_arn"):
        changes.append(Change("rule.delete", "Remove the listener rule"))
    if not want_rule and values.get("target_group_arn"):
        changes.append(
            Change("target_group.delete", f"Delete target group {values['target_group']}")
        )
    return changes


def _service_details(spec, values, want_task, have_task) -> tuple[str, ...]:
    details = []
    if have_task != want_task:
        details.append("new task definition revision")
    if values.get("desired_count") != spec["desired_count"]:
        details.append(
            field_diff("desired count", values.get("desired_count"), spec["desired_count"])
        )
    breaker = values.get("circuit_breaker")
    # None: the endpoint did not report deploymentConfiguration (the emulator drops it on
    # create). Re-sending it on every run would never converge, so only a reported breaker that
    # is off is corrected; every create and update sends it anyway.
    if breaker is not None and breaker != {"enable": True, "rollback": True}:
        details.append("deployment circuit breaker with rollback: off → on")
    network = values.get("network")
    if network is not None and network != values.get("environment_network"):
        details.append("network: the environment's subnets or security groups changed")
    have_lb = values.get("service_target_group_arn")
    if bool(have_lb) != bool(_want_rule(spec)) or (
        have_lb and values.get("service_container_port") != want_task["container_port"]
    ):
        details.append("load balancer attachment changes")
    return tuple(details)


def _scaling_changes(spec: dict, values: dict) -> list[Change]:
    want = spec.get("autoscaling") or None
    have = values.get("scaling")
    if not want:
        if have:
            return [Change("scaling.delete", "Remove auto-scaling")]
        return []
    want = {k: want[k] for k in ("min", "max", "metric", "target")}
    if have == want:
        return []
    labels = {
        "min": "minimum tasks",
        "max": "maximum tasks",
        "metric": "scale on",
        "target": "target",
    }
    details = tuple(
        field_diff(
            labels[key],
            None if not have else _show_metric(key, have.get(key)),
            _show_metric(key, want[key]),
            "%" if key == "target" and want["metric"] != "requests" else "",
        )
        for key in ("min", "max", "metric", "target")
        if not have or have.get(key) != want[key]
    )
    return [Change("scaling.ensure", "Set auto-scaling", details)]


def _show_metric(key: str, value):
    return METRIC_LABELS.get(value, value) if key == "metric" else value


def plan_delete(observed: Observed) -> list[Change]:
    """Teardown in reverse dependency order; shared cluster, ALB and network stay."""
    values = observed.values
    changes = []
    if values.get("scaling"):
        changes.append(Change("scaling.delete", "Remove auto-scaling"))
    if values.get("rule_arn"):
        changes.append(Change("rule.delete", "Remove the listener rule"))
    if observed.exists:
        changes.append(Change("service.delete", f"Delete ECS service {values['service_name']}"))
    if values.get("target_group_arn"):
        changes.append(
            Change("target_group.delete", f"Delete target group {values['target_group']}")
        )
    if values.get("latest_task_definition"):
        changes.append(Change("taskdef.deregister", "Deregister task definition revisions"))
    if values.get("log_group_arn") and not values.get("log_group_kept"):
        changes.append(Change("logs.delete", f"Delete log group {values['log_group']}"))
    if values.get("task_role_arn"):
        changes.append(Change("taskrole.delete", f"Delete task role {values['task_role_name']}"))
    return changes


# --- apply and wait ------------------------------------------------------------------------------
def apply(ctx: Context, change: Change) -> str:
    """Carry out one change; each step describes first, so a re-run adopts what exists."""
    if change.key in access.KEYS:
        return access.apply(ctx, change.key)
    handler = HANDLERS.get(change.key)
    if handler is None:
        raise ValueError(f"Unknown ECS change {change.key!r}")
    return handler(ctx, aws.Refs.of(ctx))


def wait(ctx: Context) -> WaitResult:
    """Stable when the PRIMARY deployment is COMPLETED on our task definition and the service
    runs as many tasks as it wants. A FAILED rollout (the circuit breaker tripped and rolled
    back) is an error with ECS's reason."""
    refs = aws.Refs.of(ctx)
    service = aws.describe_service(ctx, refs)
    if service is None:
        return WaitResult(done=False, error=f"ECS service {refs.service} does not exist")
    for deployment in service.get("deployments", []):
        if deployment.get("rolloutState") == "FAILED":
            reason = deployment.get("rolloutStateReason") or "no reason given"
            return WaitResult(done=False, error=f"ECS deployment failed: {reason}")
    primary = next((d for d in service["deployments"] if d["status"] == "PRIMARY"), None)
    expected = ctx.resources.get("task_definition_arn")
    if primary and expected and primary.get("taskDefinition") != expected:
        return WaitResult(
            done=False,
            error=f"ECS rolled back to {primary.get('taskDefinition')} (circuit breaker)",
        )
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    state = primary.get("rolloutState") if primary else "no primary deployment"
    detail = f"rollout {state}, {running}/{desired} tasks running"
    if state == "COMPLETED" and running == desired and len(service["deployments"]) == 1:
        return WaitResult(done=True, detail=detail)
    return WaitResult(done=False, detail=detail)


def wait_deleted(ctx: Context) -> WaitResult:
    """Done when the service is inactive and its target group and rule are gone."""
    refs = aws.Refs.of(ctx)
    service = aws.describe_service(ctx, refs)
    if service is not None:
        return WaitResult(done=False, detail=f"service {service['status']}")
    leftovers = aws.leftover_load_balancing(ctx, refs)
    if leftovers:
        return WaitResult(done=False, detail=f"still there: {', '.join(leftovers)}")
    return WaitResult(done=True, detail="service, target group and listener rule removed")


# --- what the instance owns ----------------------------------------------------------------------
OWNED = {
    "service_arn": "ECS service",
    "task_definition_arn": "Task definition",
    "target_group_arn": "Target group",
    "rule_arn": "Listener rule",
    "log_group_arn": "Log group",
    "task_role_arn": "Task role (its own, for table access)",
}


def owned_resources(observed: Observed) -> list[OwnedResource]:
    """The service, its task definition, target group, listener rule and log group. The
    cluster, load balancer, network and execution role are the environment's, shared; an
    adopted service's log group is kept as it was found (see `observe`)."""
    values = observed.values
    if values.get("log_group_kept"):
        values = {key: value for key, value in values.items() if key != "log_group_arn"}
    return owned_from(values, OWNED)


class EcsProvisioner:
    """The ecs provisioner: this module's functions behind the `Provisioner` protocol
    (registered in `deployments.provisioners`)."""

    kind = "ecs"
    scale_values = staticmethod(scale_values)
    observe = staticmethod(observe)
    plan = staticmethod(plan)
    apply = staticmethod(apply)
    wait = staticmethod(wait)
    plan_delete = staticmethod(plan_delete)
    wait_deleted = staticmethod(wait_deleted)
    owned_resources = staticmethod(owned_resources)


PROVISIONER: Provisioner = EcsProvisioner()
