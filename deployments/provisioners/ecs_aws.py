"""The AWS calls behind the ECS provisioner: reading what exists and one "ensure" per change.

Every handler first describes what is there, so running it twice (a retried task, a worker that
died mid-step) adopts the resource instead of creating a second one.
"""

from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError
from django.conf import settings

from deployments.provisioners import ecs_adopted
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
HEALTH_CHECK_RE = re.compile(r"^curl -fsS http://localhost:\d+(?P<path>/\S*) \|\| exit 1$")
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# Inline, like the Lambda role: pull images, write logs, and read the secrets tasks reference.
EXECUTION_POLICY_NAME = "slipway-ecs-execution"
EXECUTION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "ssm:GetParameters",
                    "secretsmanager:GetSecretValue",
                ],
                "Resource": "*",
            }
        ],
    }
)


def _client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


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


def network_provided_by_slipway() -> bool:
    """Whether Slipway sets the environment's network up itself (see portal/embedded.py)."""
    from portal.embedded import network_provided_by_slipway

    return network_provided_by_slipway()


def cluster_active(ctx: Context, refs: Refs) -> bool:
    found = _client(ctx, "ecs").describe_clusters(clusters=[refs.cluster])["clusters"]
    return any(c["status"] == "ACTIVE" for c in found)


def execution_role_arn(ctx: Context, refs: Refs) -> str:
    try:
        return _client(ctx, "iam").get_role(RoleName=refs.role)["Role"]["Arn"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return ""


def log_group_arn(ctx: Context, refs: Refs) -> str:
    groups = _client(ctx, "logs").describe_log_groups(logGroupNamePrefix=refs.log_group)
    for group in groups["logGroups"]:
        if group["logGroupName"] == refs.log_group:
            return group["arn"]
    return ""


def target_group(ctx: Context, refs: Refs) -> dict | None:
    try:
        groups = _client(ctx, "elbv2").describe_target_groups(Names=[refs.target_group])
    except ClientError as exc:
        if error_code(exc) != "TargetGroupNotFound":
            raise
        return None
    return groups["TargetGroups"][0]


def forwards_to(rule: dict, target_group_arn: str) -> bool:
    for action in rule.get("Actions", []):
        if action.get("TargetGroupArn") == target_group_arn:
            return True
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if any(g.get("TargetGroupArn") == target_group_arn for g in groups):
            return True
    return False


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


def load_balancing(ctx: Context, refs: Refs, listener: list[dict]) -> dict:
    """The target group and the rule forwarding to it, from the listener's rules (`network`)."""
    group = target_group(ctx, refs)
    if group is None and not ctx.spec.get("load_balancer"):
        return {}
    values: dict = {"listener_rules_taken": rules_taken(listener)}
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


def _task_values(task_definition: dict, container_name: str) -> dict:
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
    try:
        found = _client(ctx, "ecs").describe_task_definition(taskDefinition=arn_or_family)
    except ClientError as exc:
        if error_code(exc) not in {"ClientException", "InvalidParameterException"}:
            raise
        return None
    definition = found["taskDefinition"]
    if definition.get("status") != "ACTIVE":
        return None
    values = _task_values(definition, Refs.of(ctx).container)
    own_role = ecs_adopted.own_task_role(ctx)
    if own_role and definition.get("taskRoleArn") == own_role:
        values["task_role"] = False  # the adopted service's own role, not Slipway's table role
    return {"arn": definition["taskDefinitionArn"], "values": values, "raw": definition}


def latest_task_definition(ctx: Context, refs: Refs) -> dict | None:
    """The family's newest ACTIVE revision (a run that registered one and then died left it)."""
    return task_definition(ctx, refs.family)


def describe_service(ctx: Context, refs: Refs) -> dict | None:
    """The raw ECS service while it is ACTIVE or DRAINING; None once gone (INACTIVE)."""
    try:
        found = _client(ctx, "ecs").describe_services(cluster=refs.cluster, services=[refs.service])
    except ClientError as exc:
        if error_code(exc) != "ClusterNotFoundException":
            raise
        return None
    for service in found["services"]:
        if service["status"] in ("ACTIVE", "DRAINING"):
            return service
    return None


def service(ctx: Context, refs: Refs) -> dict | None:
    raw = describe_service(ctx, refs)
    if raw is None or raw["status"] != "ACTIVE":
        return None
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


# --- writing: one handler per change key ---------------------------------------------------------
def ensure_network(ctx: Context, refs: Refs) -> str:
    from portal.embedded import embedded_network_ensure

    values = embedded_network_ensure(environment=ctx.environment)
    return f"cluster {values['ecs_cluster']}, subnets {', '.join(values['subnet_ids'])}"


def ensure_role(ctx: Context, refs: Refs) -> str:
    iam = _client(ctx, "iam")
    arn = ctx.seen("execution_role") or execution_role_arn(ctx, refs)
    if arn:
        return f"role {arn} exists"
    try:
        arn = iam.create_role(
            RoleName=refs.role,
            AssumeRolePolicyDocument=TRUST_POLICY,
            Description="Task execution role for ECS services deployed by Slipway",
            Tags=[
                {"Key": "slipway:environment", "Value": ctx.environment.slug},
                {"Key": "managed-by", "Value": "slipway"},
            ],
        )["Role"]["Arn"]
    except ClientError as exc:
        if error_code(exc) != "EntityAlreadyExists":
            raise
        arn = execution_role_arn(ctx, refs)
    iam.put_role_policy(
        RoleName=refs.role, PolicyName=EXECUTION_POLICY_NAME, PolicyDocument=EXECUTION_POLICY
    )
    ctx.remember("execution_role", arn)
    return f"created role {arn}"


def ensure_logs(ctx: Context, refs: Refs) -> str:
    logs = _client(ctx, "logs")
    try:
        logs.create_log_group(logGroupName=refs.log_group, tags=refs.tags)
        message = f"created {refs.log_group}"
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        message = f"{refs.log_group} exists"
    logs.put_retention_policy(logGroupName=refs.log_group, retentionInDays=30)
    arn = _log_group_arn_from_role(ctx, refs) or log_group_arn(ctx, refs)
    ctx.record_resource("log_group_arn", arn)
    ctx.remember("log_group_arn", arn)
    return message


def _log_group_arn_from_role(ctx: Context, refs: Refs) -> str:
    """The log group's ARN as DescribeLogGroups gives it, built from the partition and account
    of the execution role this run observed or created ("" without one: then it is read)."""
    parts = (ctx.seen("execution_role") or "").split(":")
    if len(parts) < 6 or not parts[4]:
        return ""
    region = ctx.environment.region
    return f"arn:{parts[1]}:logs:{region}:{parts[4]}:log-group:{refs.log_group}:*"


def _container(ctx: Context, refs: Refs) -> dict:
    want = task_values(ctx.spec)
    container = {
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
        container["healthCheck"] = {
            "command": ["CMD-SHELL", f"{check} || exit 1"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 60,
        }
    return container


def register_task_definition(ctx: Context, refs: Refs) -> str:
    if ctx.observed is not None and not refs.adopted:  # the run read the newest revision
        arn = ctx.seen("latest_task_definition")
        latest = {"arn": arn, "values": ctx.seen("latest_task")} if arn else None
    else:
        latest = latest_task_definition(ctx, refs)
    if latest and latest["values"] == task_values(ctx.spec):
        ctx.record_resource("task_definition_arn", latest["arn"])
        return f"reusing {latest['arn']}"
    role_arn = ctx.seen("execution_role") or execution_role_arn(ctx, refs)
    if not role_arn:
        ensure_role(ctx, refs)
        role_arn = ctx.seen("execution_role") or execution_role_arn(ctx, refs)
    extra = {}
    if ctx.spec.get("tables"):
        from deployments.provisioners import ecs_access

        extra["taskRoleArn"] = ecs_access.role_arn(ctx)
    shape = {
        **extra,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "executionRoleArn": role_arn,
        "containerDefinitions": [_container(ctx, refs)],
    }
    base = ecs_adopted.base_definition(ctx, refs) if refs.adopted else None
    if base is not None:  # an adopted service: start from the revision it runs
        shape = {"executionRoleArn": role_arn, **ecs_adopted.overlay(ctx, base, shape)}
    definition = _client(ctx, "ecs").register_task_definition(
        **shape,
        family=refs.family,
        cpu=str(ctx.spec["cpu"]),
        memory=str(ctx.spec["memory"]),
        tags=refs.tag_list("key", "value"),
    )["taskDefinition"]
    ctx.record_resource("task_definition_arn", definition["taskDefinitionArn"])
    return f"registered {definition['taskDefinitionArn']}"
