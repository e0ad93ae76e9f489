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
from deployments.provisioners import ecs_diff as diff
from deployments.provisioners import ecs_setup as setup
from deployments.provisioners import ecs_taskdef as taskdef
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    WaitResult,
    field_diff,
    owned_from,
)
from deployments.provisioners.ecs_handlers import HANDLERS
from deployments.provisioners.ecs_taskdef import task_values
from deployments.specs import checked_spec


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
    # A first deployment (never applied, nothing recorded, no service): Slipway made nothing of
    # its own yet. Each run records what it creates at once, and the log group comes first, so
    # an interrupted first attempt has left a record and its retry reads everything. A first
    # deployment creates its log group and target group without looking them up (what AWS has
    # by those names is adopted on "already exists") and registers its task definition without
    # looking for a revision to reuse (none of its own can exist).
    first = service is None and not ctx.resources and ctx.instance.applied_spec is None
    values["log_group_arn"] = "" if first else setup.log_group_arn(ctx, refs)
    # An adopted service's log group was there before Slipway, and other services often write
    # to the same group under their own stream prefix: a delete keeps it.
    values["log_group_kept"] = ecs_adopted.is_adopted(ctx)
    if values["network_ready"]:
        values.update(aws.load_balancing(ctx, refs, listener, first=first))
    latest = None if first else taskdef.latest_task_definition(ctx, refs)
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

    want_rule = diff.want_rule(spec)
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
                diff.rule_text(values.get("rule")) if values.get("rule") else None,
                diff.rule_text(want_rule),
            )
            changes.append(
                Change("rule.ensure", "Route the load balancer to the service", (detail,))
            )

    # Registered after the route: a service the load balancer refuses (its 100th rule taken
    # meanwhile) spends none of AWS's 1/s task definition budget and leaves no revision.
    if have_task != want_task:
        adoptable = values.get("latest_task") == want_task
        summary = "Register task definition revision" + (" (reuse latest)" if adoptable else "")
        changes.append(Change("taskdef.register", summary, diff.task_details(want_task, have_task)))

    if not observed.exists:
        details = (
            f"desired count: {spec['desired_count']}",
            "launch type FARGATE, awsvpc in the environment's subnets",
            "deployment circuit breaker with rollback: on",
        )
        changes.append(Change("service.create", f"Create ECS service {name}", details))
    else:
        details = diff.service_details(spec, values, want_task, have_task)
        if details:
            changes.append(Change("service.update", f"Update ECS service {name}", details))

    changes.extend(diff.scaling_changes(spec, values))
    changes.extend(access.plan_cleanup(values))
    if not want_rule and values.get("rule_arn"):
        changes.append(Change("rule.delete", "Remove the listener rule"))
    if not want_rule and values.get("target_group_arn"):
        changes.append(
            Change("target_group.delete", f"Delete target group {values['target_group']}")
        )
    return changes


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
