"""Names of the AWS resources Slipway creates, derived from catalog slugs in this one place.

Every part of Slipway (provisioners, monitoring, discovery, cleanup) asks here, so they agree on
names, and a human can find a service's resources in the AWS console by its slug.
"""

LAMBDA_NAME_MAX = 64


def lambda_function(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def lambda_role(environment_slug: str) -> str:
    return f"slipway-{environment_slug}-lambda-exec"


def lambda_own_role(service_slug: str, environment_slug: str) -> str:
    """A function's own execution role, used when it needs more than the shared role allows
    (access to DynamoDB tables): its permissions are then its own, least-privilege."""
    return f"slipway-{environment_slug}-{service_slug}-fn"[:64]


def lambda_log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def tags(*, service_slug: str, environment_slug: str, team_slug: str) -> dict[str, str]:
    """The tags on every resource Slipway creates; discovery and cleanup rely on them."""
    return {
        "slipway:service": service_slug,
        "slipway:environment": environment_slug,
        "slipway:team": team_slug,
        "managed-by": "slipway",
    }


# --- Lambda versions and triggers ----------------------------------------------------------------
LAMBDA_ALIAS = "live"  # every deploy publishes a version and moves this alias to it


def lambda_s3_notification_id(function_name: str) -> str:
    """Id of the one entry per function that Slipway owns in a bucket's notification config."""
    return f"slipway-{function_name}"


def lambda_event_rule(function_name: str, bus: str, pattern_json: str) -> str:
    """EventBridge rule name (≤ 64): the function plus a digest of bus and canonical pattern.

    A changed pattern is a new rule (the old one is removed), so a name never lies about what
    the rule matches.
    """
    import hashlib

    digest = hashlib.sha256(f"{function_name}\n{bus}\n{pattern_json}".encode()).hexdigest()
    return f"{function_name[:51]}-{digest[:12]}"


def lambda_permission_sid(source: str, resource: str) -> str:
    """StatementId of a resource-policy permission Slipway adds ([A-Za-z0-9_-] only)."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in resource)
    return f"slipway-{source}-{cleaned}"[:100]


# --- Monitoring: log groups and alarms -----------------------------------------------------------
def api_name(service_slug: str, environment_slug: str) -> str:
    """The API Gateway API name (the `ApiName` metric dimension of REST APIs)."""
    return f"{service_slug}-{environment_slug}"


def api_access_log_group(service_slug: str, environment_slug: str) -> str:
    """The access log group of an API's stage."""
    return f"/slipway/{environment_slug}/{service_slug}/access"


def alarm_prefix(service_slug: str, environment_slug: str) -> str:
    """Every CloudWatch alarm Slipway creates for an instance starts with this."""
    return f"slipway-{environment_slug}-{service_slug}-"


def alarm_name(service_slug: str, environment_slug: str, key: str) -> str:
    return f"{alarm_prefix(service_slug, environment_slug)}{key}"


# --- API Gateway ---------------------------------------------------------------------------------
def apigateway_api(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def apigateway_stage(environment_slug: str) -> str:
    """One stage per environment, named after it (stage names allow [A-Za-z0-9_-])."""
    return environment_slug


def apigateway_usage_plan(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def apigateway_api_key(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def apigateway_permission_statement(service_slug: str, environment_slug: str) -> str:
    """The StatementId of the lambda:InvokeFunction grant on each Lambda an API routes to.

    Stable, so adding it again is recognised (idempotent) and removing it finds it.
    """
    return f"slipway-apigw-{service_slug}-{environment_slug}"


# --- ECS Fargate ---------------------------------------------------------------------------------
ECS_TARGET_GROUP_MAX = 32  # ELBv2 target group names: at most 32 letters, digits and hyphens


def ecs_cluster(environment_slug: str) -> str:
    """The environment's shared cluster (used when the Environment row names none)."""
    return f"slipway-{environment_slug}"


def ecs_task_role(service_slug: str, environment_slug: str) -> str:
    """An ECS service's own task role (what its containers may call), for table access."""
    return f"slipway-{environment_slug}-{service_slug}-task"[:64]


def ecs_service(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def ecs_task_family(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def ecs_container(service_slug: str) -> str:
    return service_slug


def ecs_log_group(service_slug: str, environment_slug: str) -> str:
    return f"/slipway/{environment_slug}/{service_slug}"


def ecs_execution_role(environment_slug: str) -> str:
    return f"slipway-{environment_slug}-ecs-exec"


def ecs_target_group(service_slug: str, environment_slug: str) -> str:
    """`<service>-<env>`, shortened with a stable hash when longer than ELBv2 allows."""
    import hashlib

    name = f"{service_slug}-{environment_slug}"
    if len(name) <= ECS_TARGET_GROUP_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: ECS_TARGET_GROUP_MAX - 7].rstrip('-')}-{digest}"


def ecs_scaling_policy(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}-target-tracking"


def ecs_scaling_resource_id(cluster: str, service_name: str) -> str:
    """Application Auto Scaling's id for an ECS service."""
    return f"service/{cluster}/{service_name}"


# --- the embedded network (emulator only; see portal/embedded.py) --------------------------------
def embedded_network(environment_slug: str) -> str:
    """Name (and Name tag) of the VPC, subnets, security group and ALB of an embedded env."""
    return f"slipway-{environment_slug}"


# --- DynamoDB ------------------------------------------------------------------------------------
def dynamodb_table(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


# --- Step Functions ------------------------------------------------------------------------------
def state_machine(service_slug: str, environment_slug: str) -> str:
    return f"{service_slug}-{environment_slug}"


def state_machine_role(service_slug: str, environment_slug: str) -> str:
    """A state machine's own execution role (it may invoke exactly what its definition calls)."""
    return f"slipway-{environment_slug}-{service_slug}-sfn"[:64]


# --- SNS topics and SQS queues -------------------------------------------------------------------
def sns_topic(service_slug: str, environment_slug: str, topic: str) -> str:
    return f"{service_slug}-{environment_slug}-{topic}"[:256]


def sqs_queue(service_slug: str, environment_slug: str, queue: str) -> str:
    return f"{service_slug}-{environment_slug}-{queue}"[:80]


# --- Deployment events ---------------------------------------------------------------------------
def deployment_events_topic(environment_slug: str) -> str:
    """The environment's SNS topic that carries Slipway's deployment events (schema v1)."""
    return f"slipway-{environment_slug}-deployment-events"


def sns_topic_arn(*, region: str, account_id: str, name: str) -> str:
    """SNS topic ARNs follow from region, account and name; no call is needed to know one."""
    return f"arn:aws:sns:{region}:{account_id}:{name}"
