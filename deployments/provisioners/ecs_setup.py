"""What an ECS service needs before it can run, read and ensured: the environment's network,
cluster and task execution role (shared by its services, never deleted by one) and the
service's own log group.

Each "ensure" adopts what exists ("already exists" from AWS, or the run's observation), so
running it twice creates nothing twice.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError
from django.core.cache import cache

from deployments.provisioners.base import Context
from deployments.provisioners.ecs_refs import Refs
from portal.aws import aws_client, error_code

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
LOG_RETENTION_DAYS = 30
ROLE_MEMORY_SECONDS = 600


def _client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


# --- reading -------------------------------------------------------------------------------------
def network_provided_by_slipway() -> bool:
    """Whether Slipway sets the environment's network up itself (see portal/embedded.py)."""
    from portal.embedded import network_provided_by_slipway

    return network_provided_by_slipway()


def cluster_active(ctx: Context, refs: Refs) -> bool:
    found = _client(ctx, "ecs").describe_clusters(clusters=[refs.cluster])["clusters"]
    return any(c["status"] == "ACTIVE" for c in found)


def _role_key(ctx: Context, refs: Refs) -> str:
    return f"ecs-execution-role:{ctx.environment.pk}:{refs.role}"


def execution_role_arn(ctx: Context, refs: Refs, *, fresh: bool = False) -> str:
    """The environment's task execution role, or "" when it is missing. It is shared by the
    environment's services and Slipway never deletes it, so once seen it is remembered for
    ROLE_MEMORY_SECONDS: a burst of deploys in one environment reads it once, as a script
    deploying them would (a role deleted by hand is recreated after that at the latest, and
    meanwhile the stability check reports the tasks that cannot start)."""
    key = _role_key(ctx, refs)
    if not fresh and (arn := cache.get(key)):
        return arn
    try:
        arn = _client(ctx, "iam").get_role(RoleName=refs.role)["Role"]["Arn"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return ""
    cache.set(key, arn, ROLE_MEMORY_SECONDS)
    return arn


def log_group_arn(ctx: Context, refs: Refs) -> str:
    groups = _client(ctx, "logs").describe_log_groups(logGroupNamePrefix=refs.log_group)
    for group in groups["logGroups"]:
        if group["logGroupName"] == refs.log_group:
            return group["arn"]
    return ""


# --- ensuring ------------------------------------------------------------------------------------
def ensure_network(ctx: Context, refs: Refs) -> str:
    from portal.embedded import embedded_network_ensure

    values = embedded_network_ensure(environment=ctx.environment)
    return f"cluster {values['ecs_cluster']}, subnets {', '.join(values['subnet_ids'])}"


def ensure_cluster(ctx: Context, refs: Refs) -> str:
    """The environment's shared cluster: created once, never deleted by a service."""
    if cluster_active(ctx, refs):
        return f"cluster {refs.cluster} exists"
    environment = ctx.environment
    cluster = _client(ctx, "ecs").create_cluster(
        clusterName=refs.cluster,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=[
            {"key": "slipway:environment", "value": environment.slug},
            {"key": "managed-by", "value": "slipway"},
        ],
    )["cluster"]
    if not environment.ecs_cluster:
        environment.ecs_cluster = refs.cluster
        environment.save(update_fields=["ecs_cluster"])
    return f"created {cluster['clusterArn']}"


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
        arn = execution_role_arn(ctx, refs, fresh=True)
    iam.put_role_policy(
        RoleName=refs.role, PolicyName=EXECUTION_POLICY_NAME, PolicyDocument=EXECUTION_POLICY
    )
    ctx.remember("execution_role", arn)
    cache.set(_role_key(ctx, refs), arn, ROLE_MEMORY_SECONDS)
    return f"created role {arn}"


def ensure_logs(ctx: Context, refs: Refs) -> str:
    logs = _client(ctx, "logs")
    try:
        logs.create_log_group(logGroupName=refs.log_group, tags=refs.tags)
        ctx.created_roles.append("log_group_arn")
        message = f"created {refs.log_group}"
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        message = f"{refs.log_group} exists"
    # Without a retention policy CloudWatch keeps a service's logs (and bills them) for ever.
    logs.put_retention_policy(logGroupName=refs.log_group, retentionInDays=LOG_RETENTION_DAYS)
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
