"""Where a service instance's metrics, logs and alarms live in AWS.

Names come from deployments.names (one place for every AWS name); ARNs the provisioners recorded
on the instance win over derived names, so a resource adopted under another name is still found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.models import Service, ServiceInstance
from deployments import names

_ECS_SERVICE_ARN = re.compile(r"^arn:aws[\w-]*:ecs:[^:]*:\d*:service/([^/]+)/([^/]+)$")
_TARGET_GROUP_ARN = re.compile(r":(targetgroup/[^/]+/[0-9a-f]+)$")
_LOAD_BALANCER_ARN = re.compile(r":loadbalancer/(app/[^/]+/[0-9a-f]+)$")
_API_V2_ARN = re.compile(r"/apis/([a-z0-9]+)$")


@dataclass(frozen=True)
class Target:
    """The CloudWatch coordinates of one instance."""

    kind: str
    dimensions: dict[str, list[dict[str, str]]]  # namespace → dimensions
    log_group: str  # "" for kinds that write no logs (DynamoDB tables)
    alarm_prefix: str
    # namespace → why the instance has nothing there to watch (an SNS service with no topic of
    # its own): expected, not an error; the default alarms on it are left out.
    unwatched: dict[str, str] = field(default_factory=dict)


def _resource_values(instance: ServiceInstance) -> list[str]:
    return [str(v) for v in (instance.resources or {}).values() if isinstance(v, str)]


def _first_match(pattern: re.Pattern, values: list[str]) -> re.Match | None:
    for value in values:
        match = pattern.search(value)
        if match:
            return match
    return None


def _dims(**pairs: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in pairs.items()]


def _ecs(instance: ServiceInstance, service: str, env: str) -> dict:
    values = _resource_values(instance)
    arn = _first_match(_ECS_SERVICE_ARN, values)
    if arn:
        cluster, name = arn.group(1), arn.group(2)
    else:
        # The ECS provisioner's naming (names.ecs_cluster / names.ecs_service).
        cluster = instance.environment.ecs_cluster or f"slipway-{env}"
        name = f"{service}-{env}"
    cluster = cluster.rsplit("/", 1)[-1]  # the environment may hold the cluster's ARN
    dims = {"AWS/ECS": _dims(ClusterName=cluster, ServiceName=name)}
    target_group = _first_match(_TARGET_GROUP_ARN, values)
    balancer = _first_match(_LOAD_BALANCER_ARN, [instance.environment.alb_arn, *values])
    if target_group and balancer:
        dims["AWS/ApplicationELB"] = _dims(
            LoadBalancer=balancer.group(1), TargetGroup=target_group.group(1)
        )
    return dims


def api_stage(instance: ServiceInstance, spec: dict | None = None) -> str:
    spec = (instance.applied_spec if spec is None else spec) or {}
    # One stage per environment, named after it (the API Gateway provisioner's convention),
    # unless the API was adopted with a stage of its own (kept on the instance).
    own = (instance.resources or {}).get("stage_name")
    return own or spec.get("stage_name") or spec.get("stage") or instance.environment.slug


def _apigateway(instance: ServiceInstance, spec: dict, service: str, env: str) -> dict:
    stage = api_stage(instance, spec)
    v2 = _first_match(_API_V2_ARN, _resource_values(instance))
    if v2:
        return {"AWS/ApiGateway": _dims(ApiId=v2.group(1), Stage=stage)}
    name = (instance.resources or {}).get("api_name") or names.api_name(service, env)
    return {"AWS/ApiGateway": _dims(ApiName=name, Stage=stage)}


def target_for(instance: ServiceInstance, spec: dict | None = None) -> Target:
    """The metric dimensions, log group and alarm-name prefix of `instance`.

    `spec` is the spec the instance runs: by default the applied one; a deployment passes the
    spec it is applying (a first deployment has no applied spec yet, a redeploy's may differ).
    """
    service, env = instance.service.slug, instance.environment.slug
    kind = instance.service.kind
    spec = (instance.applied_spec if spec is None else spec) or {}
    unwatched: dict[str, str] = {}
    if kind == Service.Kind.LAMBDA:
        # An adopted function keeps its own name (interop/adopt_lambda.py records it).
        function = instance.resources.get("function_name") or names.lambda_function(service, env)
        dims = {"AWS/Lambda": _dims(FunctionName=function)}
        log_group = names.lambda_log_group(function)
    elif kind == Service.Kind.ECS:
        dims = _ecs(instance, service, env)
        # An adopted service keeps its own log group (interop/adopt_ecs.py records it).
        log_group = instance.resources.get("log_group") or names.ecs_log_group(service, env)
    elif kind == Service.Kind.DYNAMODB:
        table = instance.resources.get("table_name") or names.dynamodb_table(service, env)
        dims = {"AWS/DynamoDB": _dims(TableName=table)}
        log_group = ""  # a table writes no log lines of its own
    elif kind == Service.Kind.STEPFUNCTIONS:
        arn = instance.resources.get("state_machine_arn") or (
            f"arn:aws:states:{instance.environment.region}:{instance.environment.aws_account_id}"
            f":stateMachine:{names.state_machine(service, env)}"
        )
        dims = {"AWS/States": _dims(StateMachineArn=arn)}
        log_group = ""  # execution history is on the Executions page
    elif kind == Service.Kind.SNS:
        topics = spec.get("topics") or []
        dims = {}
        if topics:
            dims["AWS/SNS"] = _dims(TopicName=names.sns_topic(service, env, topics[0]["name"]))
        else:
            unwatched["AWS/SNS"] = "the service has no topic of its own, only queues"
        log_group = ""  # delivery logs are not switched on
    else:
        dims = _apigateway(instance, spec, service, env)
        log_group = names.api_access_log_group(service, env)
    return Target(
        kind=kind,
        dimensions=dims,
        log_group=log_group,
        alarm_prefix=names.alarm_prefix(service, env),
        unwatched=unwatched,
    )
