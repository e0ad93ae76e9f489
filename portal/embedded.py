"""Embedded mode: the network an environment needs for ECS services, created in the emulator.

On real AWS an admin fills an Environment's VPC, subnets, security groups, load balancer and
cluster in (they are shared, long-lived and owned by the platform team, never by Slipway). In
embedded mode there is nobody to do that and the emulator forgets everything on restart, so
`embedded_network_ensure` creates them in the emulator, idempotently, and stores their ids on
the Environment row.

When it runs: lazily. The ECS provisioner plans a "Create the embedded network" step whenever
the environment's network is missing (first deploy, or after an emulator restart) and
`network_provided_by_slipway()` says this set-up provides it (embedded mode only), so
`demo_data` (which runs before the emulator starts) needs no AWS at all.
"""

from __future__ import annotations

import redis
from botocore.exceptions import ClientError
from django.conf import settings

from deployments import names
from portal.aws import aws_client, error_code, is_emulator

VPC_CIDR = "10.42.0.0/16"
SUBNET_CIDRS = ("10.42.1.0/24", "10.42.2.0/24")  # two zones: an ALB needs two subnets


class NotEmbedded(Exception):
    """The embedded network was asked for while Slipway talks to real AWS."""


def _tags(environment, name: str) -> dict[str, str]:
    return {"Name": name, "slipway:environment": environment.slug, "managed-by": "slipway"}


def _tag_spec(resource_type: str, tags: dict) -> list[dict]:
    return [
        {
            "ResourceType": resource_type,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
    ]


def _tag_filters(environment, name: str) -> list[dict]:
    return [
        {"Name": "tag:Name", "Values": [name]},
        {"Name": "tag:slipway:environment", "Values": [environment.slug]},
    ]


def network_provided_by_slipway() -> bool:
    """In embedded mode Slipway plays the platform team: an ECS deploy whose environment has
    no (or a lost) network plans "Create the embedded network" first. On real AWS an admin
    provides it, and a deploy without it is refused at plan time."""
    return is_emulator()


def embedded_network_ensure(*, environment) -> dict:
    """Like `_ensure`, but one deploy at a time per environment: two services deploying at once
    would otherwise both see no VPC and both create one. A Redis lock serialises them (not a
    row lock: no database transaction stays open across AWS calls); the second then finds
    everything by its tags."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    lock = client.lock(
        f"{prefix}:embedded-network:{environment.pk}", timeout=300, blocking_timeout=300
    )
    with lock:
        return _ensure(environment)


def _ensure(environment) -> dict:
    """Find or create the VPC, two subnets, a security group, an internet-facing ALB with an
    HTTP listener (default action: fixed 404) and the ECS cluster; store them on `environment`.

    Steps, each found by its Name tag (or name) before anything is created:
    1. VPC; 2. one subnet in each of two zones; 3. security group; 4. ALB; 5. listener on :80;
    6. cluster. Returns the stored values.
    """
    if not is_emulator():
        raise NotEmbedded(
            f"Environment {environment.slug} has no network configured. On real AWS an admin "
            "sets its cluster, subnets, security groups and load balancer listener in the admin."
        )
    name = names.embedded_network(environment.slug)
    tags = _tags(environment, name)
    ec2 = aws_client("ec2", environment=environment)

    vpcs = ec2.describe_vpcs(Filters=_tag_filters(environment, name))["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=_tag_spec("vpc", tags))[
            "Vpc"
        ]["VpcId"]

    region = environment.region or settings.AWS_DEFAULT_REGION
    existing = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, *_tag_filters(environment, name)]
    )["Subnets"]
    by_cidr = {s["CidrBlock"]: s["SubnetId"] for s in existing}
    subnet_ids = []
    for zone, cidr in zip("ab", SUBNET_CIDRS, strict=True):
        subnet_id = (
            by_cidr.get(cidr)
            or ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=cidr,
                AvailabilityZone=f"{region}{zone}",
                TagSpecifications=_tag_spec("subnet", tags),
            )["Subnet"]["SubnetId"]
        )
        subnet_ids.append(subnet_id)

    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    if groups:
        group_id = groups[0]["GroupId"]
    else:
        group_id = ec2.create_security_group(
            GroupName=name,
            Description="Slipway embedded environment: load balancer and services",
            VpcId=vpc_id,
            TagSpecifications=_tag_spec("security-group", tags),
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                },
                # Tasks accept traffic from the load balancer, which shares this group.
                {
                    "IpProtocol": "tcp",
                    "FromPort": 0,
                    "ToPort": 65535,
                    "UserIdGroupPairs": [{"GroupId": group_id}],
                },
            ],
        )

    alb_arn, listener_arn = _ensure_load_balancer(environment, name, tags, subnet_ids, group_id)
    cluster = environment.ecs_cluster or names.ecs_cluster(environment.slug)
    _ensure_cluster(environment, cluster)

    environment.vpc_id = vpc_id
    environment.subnet_ids = subnet_ids
    environment.security_group_ids = [group_id]
    environment.alb_arn = alb_arn
    environment.alb_listener_arn = listener_arn
    environment.ecs_cluster = cluster
    fields = ["vpc_id", "subnet_ids", "security_group_ids", "alb_arn", "alb_listener_arn"]
    environment.save(update_fields=[*fields, "ecs_cluster"])
    return {field: getattr(environment, field) for field in [*fields, "ecs_cluster"]}


def _ensure_load_balancer(environment, name, tags, subnet_ids, group_id) -> tuple[str, str]:
    elb = aws_client("elbv2", environment=environment)
    try:
        alb_arn = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]["LoadBalancerArn"]
    except ClientError as exc:
        if error_code(exc) != "LoadBalancerNotFound":
            raise
        alb_arn = elb.create_load_balancer(
            Name=name,
            Subnets=subnet_ids,
            SecurityGroups=[group_id],
            Scheme="internet-facing",
            Type="application",
            IpAddressType="ipv4",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["LoadBalancers"][0]["LoadBalancerArn"]
    listeners = elb.describe_listeners(LoadBalancerArn=alb_arn)["Listeners"]
    for listener in listeners:
        if listener["Port"] == 80:
            return alb_arn, listener["ListenerArn"]
    listener_arn = elb.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=80,
        # Services add path or host rules; anything no rule matches is a plain 404.
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "404",
                    "ContentType": "text/plain",
                    "MessageBody": "No Slipway service matches this path or host.",
                },
            }
        ],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["Listeners"][0]["ListenerArn"]
    return alb_arn, listener_arn


def _ensure_cluster(environment, cluster: str) -> None:
    ecs = aws_client("ecs", environment=environment)
    found = ecs.describe_clusters(clusters=[cluster])["clusters"]
    if any(c["status"] == "ACTIVE" for c in found):
        return
    ecs.create_cluster(
        clusterName=cluster,
        capacityProviders=["FARGATE"],
        tags=[
            {"key": "slipway:environment", "value": environment.slug},
            {"key": "managed-by", "value": "slipway"},
        ],
    )


def embedded_network_ready(*, environment) -> bool:
    """True when the environment's stored network still exists in the emulator (it keeps state
    in memory only, so a restart loses it while the Environment row keeps the old ids)."""
    if not (environment.subnet_ids and environment.security_group_ids):
        return False
    if not (environment.alb_listener_arn and environment.ecs_cluster):
        return False
    elb = aws_client("elbv2", environment=environment)
    try:
        elb.describe_listeners(ListenerArns=[environment.alb_listener_arn])
    except ClientError as exc:
        if error_code(exc) in {"ListenerNotFound", "LoadBalancerNotFound"}:
            return False
        raise
    ecs = aws_client("ecs", environment=environment)
    found = ecs.describe_clusters(clusters=[environment.ecs_cluster])["clusters"]
    return any(c["status"] == "ACTIVE" for c in found)
