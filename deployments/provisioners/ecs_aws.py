"""What AWS holds for an ECS service: its listener and rule, target group, service and
auto-scaling (`observe` reads them once per run; the steps in `ecs_handlers` work from that).

The set-up it depends on (network, cluster, execution role, log group) is read and ensured in
`ecs_setup`, its task definitions in `ecs_taskdef`.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from deployments.provisioners.base import Context
from deployments.provisioners.ecs_refs import Refs
from portal.aws import aws_client, error_code

SCALABLE_DIMENSION = "ecs:service:DesiredCount"
PREDEFINED_METRICS = {
    "cpu": "ECSServiceAverageCPUUtilization",
    "memory": "ECSServiceAverageMemoryUtilization",
    "requests": "ALBRequestCountPerTarget",
}
METRIC_BY_AWS_NAME = {v: k for k, v in PREDEFINED_METRICS.items()}
CIRCUIT_BREAKER = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def _client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


# --- reading -------------------------------------------------------------------------------------
def network(ctx: Context, refs: Refs) -> tuple[bool, list[dict]]:
    """(ready, the listener's rules). Ready when the environment (or an adopted service) names
    subnets and security groups, and its load balancer listener (when it has one) exists in AWS.
    (The embedded emulator forgets everything on a restart while the Environment row keeps the
    old ids: then it is not.) Listing the listener's rules is the existence check; the plan
    uses the list too (`load_balancing`)."""
    if not (refs.subnets and refs.security_groups):
        return False, []
    if not refs.listener:
        return True, []
    try:
        return True, listener_rules(ctx, refs)
    except ClientError as exc:
        if error_code(exc) in {"ListenerNotFound", "LoadBalancerNotFound"}:
            return False, []
        raise


def target_group(ctx: Context, refs: Refs) -> dict | None:
    try:
        groups = _client(ctx, "elbv2").describe_target_groups(Names=[refs.target_group])
    except ClientError as exc:
        if error_code(exc) != "TargetGroupNotFound":
            raise
        return None
    return groups["TargetGroups"][0]


def forwards_to(rule: dict, target_group_arn: str) -> bool:
    return target_group_arn in _forwarded_groups(rule)


# AWS's quota "Rules per Application Load Balancer (not counting default rules)": 100, not
# adjustable per listener (Elastic Load Balancing, "Quotas for your Application Load Balancers",
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
# The emulator does not enforce it (moto 5.2.5 has no TooManyRules); Slipway checks it itself.
MAX_RULES_PER_LOAD_BALANCER = 100
LOAD_BALANCER_FULL = (
    f"The environment's load balancer already has {MAX_RULES_PER_LOAD_BALANCER} listener rules, "
    "the most AWS allows per Application Load Balancer, so this service cannot get a rule on it. "
    "Slipway does not add load balancers of its own: remove another service's rule, ask an admin "
    "for another environment, or deploy this service without a path or host."
)


def listener_rules(ctx: Context, refs: Refs) -> list[dict]:
    """Every rule on the service's listener (the environment's, or an adopted service's own),
    its default rule included."""
    listener = refs.listener
    if not listener:
        return []
    paginator = _client(ctx, "elbv2").get_paginator("describe_rules")
    return [r for page in paginator.paginate(ListenerArn=listener) for r in page["Rules"]]


def rules_taken(rules: list[dict]) -> int:
    """How many of the load balancer's 100 rules these take (default rules do not count)."""
    return sum(1 for rule in rules if not rule.get("IsDefault"))


def listener_priorities(rules: list[dict]) -> list[int]:
    """The priorities these rules hold (one per rule that counts against the 100)."""
    return sorted(int(rule["Priority"]) for rule in rules if not rule.get("IsDefault"))


def rules_for(
    ctx: Context, refs: Refs, target_group_arn: str, rules: list[dict] | None = None
) -> list[dict]:
    rules = listener_rules(ctx, refs) if rules is None else rules
    return [r for r in rules if forwards_to(r, target_group_arn)]


def rule_condition(rule: dict) -> dict:
    for condition in rule.get("Conditions", []):
        field = condition.get("Field")
        values = condition.get("Values") or []
        if field == "path-pattern":
            values = values or condition.get("PathPatternConfig", {}).get("Values", [])
            return {"path": values[0]} if values else {}
        if field == "host-header":
            values = values or condition.get("HostHeaderConfig", {}).get("Values", [])
            return {"host": values[0]} if values else {}
    return {}


def _forwarded_groups(rule: dict) -> list[str]:
    arns = []
    for action in rule.get("Actions", []):
        arns.append(action.get("TargetGroupArn") or "")
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        arns.extend(g.get("TargetGroupArn") or "" for g in groups)
    return [arn for arn in arns if arn]


def forwards_to_name(rules: list[dict], name: str) -> bool:
    """Whether a rule forwards to a target group of this name (its ARN holds the name)."""
    return any(f":targetgroup/{name}/" in arn for rule in rules for arn in _forwarded_groups(rule))


def load_balancing(ctx: Context, refs: Refs, listener: list[dict], *, first: bool) -> dict:
    """The target group and the rule forwarding to it, from the listener's rules (`network`).

    On a `first` deployment (see `ecs.observe`) the group is only read when a rule on the
    listener forwards to a group of its name: otherwise none of ours can exist, and a leftover
    of that name is adopted by the create step (DuplicateTargetGroupName)."""
    if first and not forwards_to_name(listener, refs.target_group):
        group = None
    else:
        group = target_group(ctx, refs)
    if group is None and not ctx.spec.get("load_balancer"):
        return {}
    values: dict = {
        "listener_rules_taken": rules_taken(listener),
        # Kept for the rule step, which picks a free priority from them (`ecs_handlers`).
        "listener_priorities": listener_priorities(listener),
    }
    if group is None:
        return values
    values["target_group_arn"] = group["TargetGroupArn"]
    values["target_group_health_path"] = group.get("HealthCheckPath")
    rules = rules_for(ctx, refs, group["TargetGroupArn"], listener)
    if rules:
        values["rule_arn"] = rules[0]["RuleArn"]
        values["rule"] = rule_condition(rules[0])
    return values


def _number(value):
    value = float(value)
    return int(value) if value.is_integer() else value


def autoscaling(ctx: Context, refs: Refs) -> dict:
    client = _client(ctx, "application-autoscaling")
    targets = client.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[refs.scaling_id], ScalableDimension=SCALABLE_DIMENSION
    )["ScalableTargets"]
    if not targets:
        return {"scaling": None}
    scaling = {
        "min": targets[0]["MinCapacity"],
        "max": targets[0]["MaxCapacity"],
        "metric": None,
        "target": None,
    }
    policies = client.describe_scaling_policies(
        ServiceNamespace="ecs",
        ResourceId=refs.scaling_id,
        ScalableDimension=SCALABLE_DIMENSION,
        PolicyNames=[refs.policy],
    )["ScalingPolicies"]
    if policies:
        config = policies[0].get("TargetTrackingScalingPolicyConfiguration", {})
        metric = config.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
        scaling["metric"] = METRIC_BY_AWS_NAME.get(metric, metric)
        scaling["target"] = _number(config.get("TargetValue", 0))
    return {"scaling": scaling}


def describe_service(ctx: Context, refs: Refs) -> dict | None:
    """The raw ECS service while it is ACTIVE or DRAINING; None once gone (INACTIVE)."""
    return _describe_service(ctx, refs)[1]


def _describe_service(ctx: Context, refs: Refs) -> tuple[bool, dict | None]:
    """(whether the cluster is there, the raw service while ACTIVE or DRAINING)."""
    try:
        found = _client(ctx, "ecs").describe_services(cluster=refs.cluster, services=[refs.service])
    except ClientError as exc:
        # ECS's answer for a cluster that does not exist or was deleted (INACTIVE).
        if error_code(exc) != "ClusterNotFoundException":
            raise
        return False, None
    for service in found["services"]:
        if service["status"] in ("ACTIVE", "DRAINING"):
            return True, service
    return True, None


def cluster_and_service(ctx: Context, refs: Refs) -> tuple[bool, dict | None]:
    """(cluster ready, the service's values while ACTIVE) from one DescribeServices: the
    shared cluster's existence check costs no call of its own."""
    cluster_ready, raw = _describe_service(ctx, refs)
    if raw is None or raw["status"] != "ACTIVE":
        return cluster_ready, None
    return cluster_ready, service_values(raw)


def service_values(raw: dict) -> dict:
    """The values `observe` reports for a described service."""
    config = raw.get("deploymentConfiguration")
    balancers = raw.get("loadBalancers") or [{}]
    return {
        "service_arn": raw["serviceArn"],
        "desired_count": raw["desiredCount"],
        "task_definition_arn": raw["taskDefinition"],
        "circuit_breaker": None if config is None else config.get("deploymentCircuitBreaker", {}),
        "service_target_group_arn": balancers[0].get("targetGroupArn"),
        "service_container_port": balancers[0].get("containerPort"),
        "network": _network_of(raw),
    }


def _network_of(service: dict) -> dict:
    vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return {
        "subnets": sorted(vpc.get("subnets") or []),
        "security_groups": sorted(vpc.get("securityGroups") or []),
    }


def leftover_load_balancing(ctx: Context, refs: Refs) -> list[str]:
    group = target_group(ctx, refs)
    if group is None:
        return []
    leftovers = [f"target group {refs.target_group}"]
    if rules_for(ctx, refs, group["TargetGroupArn"]):
        leftovers.append("listener rule")
    return leftovers
