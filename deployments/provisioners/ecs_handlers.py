"""ECS provisioner steps for load balancing, the service and auto-scaling (`ecs_teardown` deletes).

One function per change key (see `HANDLERS`). Each works from the run's observation (what the
plan or this attempt read, kept current by the steps: `Context.seen`/`remember`) and describes
only without one; a retry observes afresh, so a re-run adopts what an interrupted run left.
"""

from __future__ import annotations

import functools
import itertools
import secrets

import redis
from botocore.exceptions import ClientError
from django.conf import settings

from deployments.errors import LoadBalancerFull
from deployments.provisioners import ecs_aws as aws
from deployments.provisioners import ecs_setup as setup
from deployments.provisioners import ecs_taskdef as taskdef
from deployments.provisioners import ecs_teardown as teardown
from deployments.provisioners.base import Context
from deployments.provisioners.ecs_refs import Refs
from deployments.provisioners.ecs_taskdef import task_values
from portal.aws import error_code

MAX_RULE_PRIORITY = 50000
RULE_TRIES = 8
HEALTH_CHECK_GRACE_SECONDS = 60
DEREGISTRATION = "30"  # seconds a draining task keeps its connections


def _client(ctx: Context, service: str):
    return aws._client(ctx, service)


# --- load balancing ------------------------------------------------------------------------------
def _group_arn(ctx: Context, refs: Refs) -> str:
    """Our target group's ARN: as this run observed or created it, else as AWS has it now."""
    return ctx.seen("target_group_arn") or aws.target_group(ctx, refs)["TargetGroupArn"]


def ensure_target_group(ctx: Context, refs: Refs) -> str:
    # The run's observation found none: create it (AWS answers "duplicate name" if one
    # appeared since, which is then adopted). Without an observation, look first.
    group = None if ctx.observed is not None else aws.target_group(ctx, refs)
    if group is not None:
        message = f"adopted {group['TargetGroupArn']}"
    else:
        group, message = _create_target_group(ctx, refs)
    ctx.record_resource("target_group_arn", group["TargetGroupArn"])
    ctx.remember("target_group_arn", group["TargetGroupArn"])
    # AWS waits 300 s by default before a replaced task leaves the group; every rollout would
    # then take five minutes longer than the new tasks need. Set on adoption too (idempotent).
    _client(ctx, "elbv2").modify_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": DEREGISTRATION}],
    )
    return message


def _create_target_group(ctx: Context, refs: Refs) -> tuple[dict, str]:
    want = task_values(ctx.spec)
    try:
        group = _client(ctx, "elbv2").create_target_group(
            Name=refs.target_group,
            Protocol="HTTP",
            Port=want["container_port"],
            VpcId=ctx.environment.vpc_id,
            TargetType="ip",  # Fargate tasks (awsvpc) register by IP address
            HealthCheckProtocol="HTTP",
            HealthCheckPath=want["health_check_path"] or "/",
            Matcher={"HttpCode": "200-399"},
            Tags=refs.tag_list(),
        )["TargetGroups"][0]
    except ClientError as exc:
        if error_code(exc) != "DuplicateTargetGroupName":
            raise
        group = aws.target_group(ctx, refs)
        # Made before this run (a first deployment does not look first): it may check
        # another path than the spec's.
        path = want["health_check_path"] or "/"
        if group.get("HealthCheckPath") != path:
            _client(ctx, "elbv2").modify_target_group(
                TargetGroupArn=group["TargetGroupArn"], HealthCheckPath=path
            )
        return group, f"adopted {group['TargetGroupArn']}"
    ctx.created_roles.append("target_group_arn")
    return group, f"created {group['TargetGroupArn']}"


def update_target_group(ctx: Context, refs: Refs) -> str:
    path = task_values(ctx.spec)["health_check_path"] or "/"
    _client(ctx, "elbv2").modify_target_group(
        TargetGroupArn=_group_arn(ctx, refs), HealthCheckPath=path
    )
    return f"health check {path}"


def _conditions(spec: dict) -> list[dict]:
    lb = spec["load_balancer"]
    if lb.get("path"):
        return [{"Field": "path-pattern", "Values": [lb["path"]]}]
    return [{"Field": "host-header", "Values": [lb["host"]]}]


def ensure_rule(ctx: Context, refs: Refs) -> str:
    """One rule on the environment's listener forwarding the path or host to our target group.

    Priorities are unique per listener: take a free one, and try again if another service's
    deploy took it at the same moment.
    """
    elb = _client(ctx, "elbv2")
    group_arn = _group_arn(ctx, refs)
    conditions = _conditions(ctx.spec)
    if ctx.observed is not None:
        # The run's observation listed the rules forwarding to our group (none to a group
        # this run created); a retry observes afresh.
        existing = [{"RuleArn": ctx.seen("rule_arn")}] if ctx.seen("rule_arn") else []
    else:
        existing = aws.rules_for(ctx, refs, group_arn)
    if existing:
        elb.modify_rule(RuleArn=existing[0]["RuleArn"], Conditions=conditions)
        ctx.record_resource("rule_arn", existing[0]["RuleArn"])
        return f"rule {existing[0]['RuleArn']} now matches {conditions[0]['Values'][0]}"
    try:
        with _rules_lock(refs.listener):
            return _create_rule(ctx, refs, group_arn, conditions)
    except LoadBalancerFull as refused:
        left = teardown.take_back_created(ctx, refs)
        if left:
            raise LoadBalancerFull(f"{refused} {left}") from refused
        raise


def _rules_lock(listener: str):
    """One rule creation at a time per listener (a Redis lock; no database transaction is open
    across the AWS calls): Slipway's own deploys never race each other to AWS's count of 100
    rules, and one that meets `PriorityInUse` re-reads while the others wait."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    return client.lock(f"{prefix}:listener-rules:{listener}", timeout=60, blocking_timeout=120)


def _create_rule(ctx: Context, refs: Refs, group_arn: str, conditions: list[dict]) -> str:
    """Create the rule at a free priority, the write itself being the guard.

    The first try picks from the listener's rules as this run observed them (the plan's
    reading on a first attempt); AWS refuses what no longer fits: `PriorityInUse` (another
    deploy took it since: read the rules afresh and try again) or `TooManyRules` (the load
    balancer filled up since: refused in the plan's words).
    """
    elb = _client(ctx, "elbv2")
    priorities = ctx.seen("listener_priorities")
    if priorities is None:  # no observation of the listener in this run: read it
        priorities = aws.listener_priorities(aws.listener_rules(ctx, refs))
    for _ in range(RULE_TRIES):
        if len(priorities) >= aws.MAX_RULES_PER_LOAD_BALANCER:
            raise LoadBalancerFull(aws.LOAD_BALANCER_FULL)
        taken = set(priorities)
        free = (p for p in range(1, MAX_RULE_PRIORITY) if p not in taken)
        # Any free priority will do (each service's path or host is its own): a random one of
        # the lowest free ones, so deploys creating rules at the same moment rarely collide.
        priority = secrets.choice(list(itertools.islice(free, aws.MAX_RULES_PER_LOAD_BALANCER)))
        try:
            rule = elb.create_rule(
                ListenerArn=refs.listener,
                Priority=priority,
                Conditions=conditions,
                Actions=[{"Type": "forward", "TargetGroupArn": group_arn}],
                Tags=refs.tag_list(),
            )["Rules"][0]
        except ClientError as exc:
            if error_code(exc) == "TooManyRules":
                raise LoadBalancerFull(aws.LOAD_BALANCER_FULL) from exc
            if error_code(exc) != "PriorityInUse":
                raise
            priorities = aws.listener_priorities(aws.listener_rules(ctx, refs))
            continue
        ctx.record_resource("rule_arn", rule["RuleArn"])
        ctx.remember("listener_priorities", sorted(taken | {priority}))
        return f"created rule (priority {priority}) for {conditions[0]['Values'][0]}"
    raise RuntimeError(f"Could not find a free listener rule priority after {RULE_TRIES} tries")


# --- the service ---------------------------------------------------------------------------------
def _task_definition_arn(ctx: Context, refs: Refs) -> str:
    recorded = ctx.resources.get("task_definition_arn")
    if recorded:
        return recorded
    return ctx.seen("latest_task_definition") or taskdef.latest_task_definition(ctx, refs)["arn"]


def _load_balancers(ctx: Context, refs: Refs) -> list[dict]:
    if not ctx.spec.get("load_balancer"):
        return []
    return [
        {
            "targetGroupArn": _group_arn(ctx, refs),
            "containerName": refs.container,
            "containerPort": task_values(ctx.spec)["container_port"],
        }
    ]


def _network(refs: Refs) -> dict:
    return {
        "awsvpcConfiguration": {
            "subnets": list(refs.subnets),
            "securityGroups": list(refs.security_groups),
            "assignPublicIp": refs.public_ip,
        }
    }


def create_service(ctx: Context, refs: Refs) -> str:
    # The run's observation says whether it exists (a retry observes afresh); without one, look.
    existing = None if ctx.observed is not None else aws.describe_service(ctx, refs)
    if existing is not None and existing["status"] == "ACTIVE":
        ctx.record_resource("service_arn", existing["serviceArn"])
        return f"adopted {existing['serviceArn']}"
    balancers = _load_balancers(ctx, refs)
    extra = {"healthCheckGracePeriodSeconds": HEALTH_CHECK_GRACE_SECONDS} if balancers else {}
    create = functools.partial(
        _client(ctx, "ecs").create_service,
        cluster=refs.cluster,
        serviceName=refs.service,
        taskDefinition=_task_definition_arn(ctx, refs),
        desiredCount=ctx.spec["desired_count"],
        launchType="FARGATE",
        platformVersion="LATEST",
        networkConfiguration=_network(refs),
        loadBalancers=balancers,
        # Always on: a revision whose tasks keep failing is rolled back by ECS itself.
        deploymentConfiguration=aws.CIRCUIT_BREAKER,
        propagateTags="SERVICE",
        enableECSManagedTags=True,
        tags=refs.tag_list("key", "value"),
        **extra,
    )
    try:
        service = create()["service"]
    except ClientError as exc:
        # The cluster was deleted since the plan read it (or it is INACTIVE, which
        # DescribeServices may not tell): the environment's cluster is ensured, then the service.
        if error_code(exc) != "ClusterNotFoundException":
            raise
        setup.ensure_cluster(ctx, refs)
        service = create()["service"]
    ctx.record_resource("service_arn", service["serviceArn"])
    return f"created {service['serviceArn']}"


def update_service(ctx: Context, refs: Refs) -> str:
    balancers = _load_balancers(ctx, refs)
    extra = {"healthCheckGracePeriodSeconds": HEALTH_CHECK_GRACE_SECONDS} if balancers else {}
    task_definition = _task_definition_arn(ctx, refs)
    _client(ctx, "ecs").update_service(
        cluster=refs.cluster,
        service=refs.service,
        taskDefinition=task_definition,
        desiredCount=ctx.spec["desired_count"],
        networkConfiguration=_network(refs),
        loadBalancers=balancers,
        deploymentConfiguration=aws.CIRCUIT_BREAKER,
        **extra,
    )
    return f"{task_definition.rsplit('/', 1)[-1]}, desired count {ctx.spec['desired_count']}"


# --- auto-scaling --------------------------------------------------------------------------------
def _resource_label(ctx: Context, refs: Refs) -> str:
    """ALBRequestCountPerTarget names the ALB and target group: app/<lb>/<id>/targetgroup/…"""
    group = aws.target_group(ctx, refs)
    # The load balancer the target group serves (an adopted service's may not be the env's).
    balancer = (group.get("LoadBalancerArns") or [ctx.environment.alb_arn])[0]
    lb_part = balancer.split(":loadbalancer/", 1)[1]
    return f"{lb_part}/{group['TargetGroupArn'].split(':', 5)[5]}"


def ensure_scaling(ctx: Context, refs: Refs) -> str:
    want = ctx.spec["autoscaling"]
    client = _client(ctx, "application-autoscaling")
    client.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=refs.scaling_id,
        ScalableDimension=aws.SCALABLE_DIMENSION,
        MinCapacity=want["min"],
        MaxCapacity=want["max"],
        Tags=refs.tags,
    )
    metric = {"PredefinedMetricType": aws.PREDEFINED_METRICS[want["metric"]]}
    if want["metric"] == "requests":
        metric["ResourceLabel"] = _resource_label(ctx, refs)
    client.put_scaling_policy(
        PolicyName=refs.policy,
        ServiceNamespace="ecs",
        ResourceId=refs.scaling_id,
        ScalableDimension=aws.SCALABLE_DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": float(want["target"]),
            "PredefinedMetricSpecification": metric,
            "ScaleInCooldown": 120,
            "ScaleOutCooldown": 60,
        },
    )
    return f"{want['min']}–{want['max']} tasks, target {want['metric']} {want['target']}"


def delete_scaling(ctx: Context, refs: Refs) -> str:
    client = _client(ctx, "application-autoscaling")
    key = {
        "ServiceNamespace": "ecs",
        "ResourceId": refs.scaling_id,
        "ScalableDimension": aws.SCALABLE_DIMENSION,
    }
    for call, kwargs in (
        (client.delete_scaling_policy, {"PolicyName": refs.policy, **key}),
        (client.deregister_scalable_target, key),
    ):
        try:
            call(**kwargs)
        except ClientError as exc:
            # Already gone (a retried teardown): the emulator says ValidationException.
            if error_code(exc) not in {"ObjectNotFoundException", "ValidationException"}:
                raise
    return "scaling policy and scalable target removed"


HANDLERS = {
    "network.ensure": setup.ensure_network,
    "cluster.ensure": setup.ensure_cluster,
    "role.ensure": setup.ensure_role,
    "logs.ensure": setup.ensure_logs,
    "taskdef.register": taskdef.register_task_definition,
    "target_group.ensure": ensure_target_group,
    "target_group.update": update_target_group,
    "rule.ensure": ensure_rule,
    "service.create": create_service,
    "service.update": update_service,
    "scaling.ensure": ensure_scaling,
    "scaling.delete": delete_scaling,
    "rule.delete": teardown.delete_rule,
    "service.delete": teardown.delete_service,
    "target_group.delete": teardown.delete_target_group,
    "taskdef.deregister": teardown.deregister_task_definitions,
    "logs.delete": teardown.delete_logs,
}
