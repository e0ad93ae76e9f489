"""Adopting an ECS service made with plain boto3 (its own cluster, network, load balancer,
target group, listener rule and scaling policy): the first plan after adoption shows no change,
and a later update changes the adopted resources themselves."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service, ServiceInstance
from deployments import services
from deployments.provisioners import ecs
from deployments.provisioners.base import Context
from deployments.provisioners.ecs_setup import TRUST_POLICY
from deployments.tests.test_provision_ecs import run_inline
from interop import discovery
from monitoring.targets import target_for
from portal.aws import aws_client

pytestmark = pytest.mark.integration


def make_network(name: str = "legacy") -> dict:
    """A VPC, two subnets, a security group, an ALB and its listener, made by hand."""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    balancer = elb.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[group])[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    listener = elb.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    aws_client("ecs").create_cluster(clusterName=f"{name}-cluster")
    aws_client("iam").create_role(RoleName=f"{name}-exec", AssumeRolePolicyDocument=TRUST_POLICY)
    return {
        "vpc": vpc,
        "subnets": subnets,
        "group": group,
        "listener": listener,
        "cluster": f"{name}-cluster",
        "role": f"{name}-exec",
    }


def make_service(net: dict, name: str, *, path: str, tags: dict | None = None) -> str:
    """An ECS service with a task definition (and a sidecar), a target group, a listener rule
    and a CPU target-tracking policy; returns the service's ARN."""
    ecs_client, elb = aws_client("ecs"), aws_client("elbv2")
    tag_list = [{"key": k, "value": v} for k, v in (tags or {}).items()]
    aws_client("logs").create_log_group(logGroupName=f"/legacy/{name}")
    role = aws_client("iam").get_role(RoleName=net["role"])["Role"]["Arn"]
    definition = ecs_client.register_task_definition(
        family=f"legacy-{name}",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        executionRoleArn=role,
        containerDefinitions=[
            {
                "name": name,
                "image": "nginx:1.27",
                "essential": True,
                "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                "environment": [{"name": "MODE", "value": "legacy"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/legacy/{name}",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": name,
                    },
                },
            },
            {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1", "essential": False},
        ],
        **({"tags": tag_list} if tag_list else {}),
    )["taskDefinition"]
    group = elb.create_target_group(
        Name=f"tg-{name}",
        Protocol="HTTP",
        Port=80,
        VpcId=net["vpc"],
        TargetType="ip",
        HealthCheckPath="/ping",
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_rule(
        ListenerArn=net["listener"],
        Priority=10 + len(elb.describe_rules(ListenerArn=net["listener"])["Rules"]),
        Conditions=[{"Field": "path-pattern", "Values": [path]}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    service = ecs_client.create_service(
        cluster=net["cluster"],
        serviceName=name,
        taskDefinition=definition["taskDefinitionArn"],
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": net["subnets"], "securityGroups": [net["group"]]}
        },
        loadBalancers=[{"targetGroupArn": group, "containerName": name, "containerPort": 80}],
        **({"tags": tag_list} if tag_list else {}),
    )["service"]
    resource_id = f"service/{net['cluster']}/{name}"
    scaling = aws_client("application-autoscaling")
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    scaling.put_scaling_policy(
        PolicyName=f"{name}-cpu",
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
        },
    )
    return service["serviceArn"]


def plan_now(instance, spec=None):
    instance.refresh_from_db()
    spec = spec or instance.applied_spec
    ctx = Context.read_only(instance=instance, spec=spec, actor="alice")
    return ecs.plan(spec, ecs.observe(ctx))


def describe(net, name="web"):
    return aws_client("ecs").describe_services(
        cluster=net["cluster"], services=[name], include=["TAGS"]
    )["services"][0]


def test_ecs_service_is_adopted_planned_without_changes_and_updated(client, personas, aws_clean):
    net = make_network()
    arn = make_service(net, "web", path="/legacy/*")

    client.force_login(personas["alice"])
    page = client.get(reverse("interop:discovery"), {"environment": "dev"})
    listed = [(f.kind, f.title, f.adoptable) for f in page.context["found"]]
    assert listed == [("ecs", "web", True)]

    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": "ecs", "name": arn, "slug": "web", "owner": personas["payments"].pk},
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    # The form names the service by ARN; the message by the names people know it by.
    shown = client.get(response["Location"]).content.decode()
    url = reverse("catalog:service_detail", args=["web"])
    assert f'Adopted web as <a href="{url}">web</a>.' in shown
    assert f"Adopted {arn}" not in shown
    instance = ServiceInstance.objects.get(service__slug="web", environment=personas["dev"])
    assert instance.service.kind == "ecs" and instance.service.owner == personas["payments"]
    spec = instance.applied_spec
    assert {k: spec[k] for k in ("image", "cpu", "memory", "container_port")} == {
        "image": "nginx:1.27",
        "cpu": 512,
        "memory": 1024,
        "container_port": 80,
    }
    assert spec["environment"] == {"MODE": "legacy"} and spec["desired_count"] == 2
    assert spec["load_balancer"] == {"path": "/legacy/*"}
    assert spec["health_check_path"] == "/ping"
    assert spec["autoscaling"] == {"min": 1, "max": 4, "metric": "cpu", "target": 70}
    assert instance.resources["service_arn"] == arn

    # Tagged in AWS (service, task definition, target group, rule), so no longer listed.
    assert {t["key"]: t["value"] for t in describe(net)["tags"]}["slipway:service"] == "web"
    tg = aws_client("elbv2").describe_target_groups(Names=["tg-web"])["TargetGroups"][0]
    tg_tags = aws_client("elbv2").describe_tags(ResourceArns=[tg["TargetGroupArn"]])
    assert {t["Key"] for t in tg_tags["TagDescriptions"][0]["Tags"]} >= {"slipway:service"}
    scaling = aws_client("application-autoscaling")
    [scalable] = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    tags = scaling.list_tags_for_resource(ResourceARN=scalable["ScalableTargetARN"])["Tags"]
    assert tags["slipway:service"] == "web" and tags["slipway:team"] == "payments"
    [group] = aws_client("logs").describe_log_groups(logGroupNamePrefix="/legacy/web")["logGroups"]
    log_tags = aws_client("logs").list_tags_for_resource(
        resourceArn=group["arn"].removesuffix(":*")
    )["tags"]
    assert log_tags["slipway:service"] == "web"
    assert discovery.discover_unmanaged(environment=personas["dev"]) == []
    event = AuditEvent.objects.get(action="resource.adopt")
    assert event.actor == personas["alice"] and event.result == "ok"

    # The first plan after adoption: nothing to do.
    assert plan_now(instance) == []

    # An update (more tasks, more memory) changes the adopted service, not a new one.
    changed = {**spec, "desired_count": 3, "memory": 2048}
    deployment = services.deployment_request(
        instance=instance, spec=changed, user=personas["alice"], action="update"
    )
    done = run_inline(deployment)
    assert done.status == "succeeded", (done.error, [s.message for s in done.steps.all()])
    live = describe(net)
    assert live["desiredCount"] == 3
    definition = aws_client("ecs").describe_task_definition(taskDefinition=live["taskDefinition"])[
        "taskDefinition"
    ]
    assert definition["family"] == "legacy-web" and definition["memory"] == "2048"
    # What Slipway does not model stays: the sidecar, the execution role, the log group.
    assert [c["name"] for c in definition["containerDefinitions"]] == ["web", "envoy"]
    assert definition["executionRoleArn"].endswith(":role/legacy-exec")
    web = definition["containerDefinitions"][0]
    assert web["logConfiguration"]["options"]["awslogs-group"] == "/legacy/web"
    # Nothing was created under Slipway's own names.
    assert aws_client("ecs").list_services(cluster=net["cluster"])["serviceArns"] == [arn]
    assert aws_client("elbv2").describe_target_groups()["TargetGroups"] == [tg]
    assert plan_now(instance) == []

    # Metrics and logs are looked up under the adopted names.
    target = target_for(instance)
    assert target.log_group == "/legacy/web"
    assert target.dimensions["AWS/ECS"] == [
        {"Name": "ClusterName", "Value": "legacy-cluster"},
        {"Name": "ServiceName", "Value": "web"},
    ]


def test_deleting_an_adopted_service_removes_its_own_resources_only(client, personas, aws_clean):
    net = make_network()
    arn = make_service(net, "web", path="/legacy/*")
    other = make_service(net, "other", path="/other/*")  # not adopted: must stay
    client.force_login(personas["alice"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": "ecs", "name": arn, "slug": "web", "owner": personas["payments"].pk},
    )
    assert response.status_code == 302
    instance = ServiceInstance.objects.get(service__slug="web")
    deployment = services.deployment_request(
        instance=instance, spec=instance.applied_spec, user=personas["alice"], action="delete"
    )
    assert not any("log group" in line["summary"] for line in deployment.plan), deployment.plan
    done = run_inline(deployment)
    assert done.status == "succeeded", (done.error, [s.message for s in done.steps.all()])

    assert describe(net)["status"] == "INACTIVE"
    # Its log group was there before Slipway (and is often shared by several services under
    # their own stream prefixes): it stays, with the logs in it.
    groups = aws_client("logs").describe_log_groups(logGroupNamePrefix="/legacy/")["logGroups"]
    assert {g["logGroupName"] for g in groups} == {"/legacy/web", "/legacy/other"}
    assert (
        describe(net, "other")["status"] == "ACTIVE"
        and describe(net, "other")["serviceArn"] == other
    )
    elb = aws_client("elbv2")
    assert [g["TargetGroupName"] for g in elb.describe_target_groups()["TargetGroups"]] == [
        "tg-other"
    ]
    paths = [
        c["Values"][0]
        for r in elb.describe_rules(ListenerArn=net["listener"])["Rules"]
        for c in r["Conditions"]
    ]
    assert paths == ["/other/*"]
    scaling = aws_client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs"
    )["ScalableTargets"]
    assert [t["ResourceId"] for t in scaling] == ["service/legacy-cluster/other"]
    # Shared by others: the cluster and the listener stay.
    cluster = aws_client("ecs").describe_clusters(clusters=[net["cluster"]])["clusters"][0]
    assert cluster["status"] == "ACTIVE"
    assert elb.describe_listeners(ListenerArns=[net["listener"]])["Listeners"]


def test_adopting_an_ecs_service_for_another_team_is_refused(client, personas, aws_clean):
    net = make_network()
    arn = make_service(net, "web", path="/legacy/*")
    client.force_login(personas["charlie"])
    response = client.post(
        reverse("interop:adopt", args=["dev"]),
        {"kind": "ecs", "name": arn, "slug": "web", "owner": personas["payments"].pk},
    )
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert not Service.objects.exists()
    assert "slipway:service" not in {t["key"] for t in describe(net).get("tags") or []}


def test_anonymous_adoption_is_sent_to_login(client, personas):
    response = client.post(reverse("interop:adopt", args=["dev"]), {"kind": "ecs"})
    assert response.status_code == 302 and "login" in response["Location"]
