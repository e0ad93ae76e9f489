"""ECS Fargate provisioning against the emulator over HTTP: what AWS holds after each action.

Most tests run the engine inline (claim → execute → check, as the worker would) to stay fast;
one goes through the real Celery worker end to end.
"""

import pytest

from catalog.models import Service, ServiceInstance
from conftest import wait_for
from deployments import engine, services
from deployments.models import Deployment
from deployments.provisioners import ecs
from deployments.provisioners.base import Context
from portal.aws import aws_client, call_counts

pytestmark = [pytest.mark.integration]

SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/db-password"
SM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/api-key-AbCdEf"


def ecs_spec(**overrides):
    spec = {
        "kind": "ecs",
        "image": "public.ecr.aws/nginx/nginx:1.27",
        "cpu": 256,
        "memory": 512,
        "container_port": 8080,
        "environment": {"LOG_LEVEL": "info"},
        "secrets": {"DB_PASSWORD": SSM_ARN, "API_KEY": SM_ARN},
        "health_check_path": "/health",
        "desired_count": 2,
        "load_balancer": {"path": "/orders/*"},
        "autoscaling": {"min": 1, "max": 4, "metric": "cpu", "target": 60},
    }
    spec.update(overrides)
    return spec


def run_inline(deployment: Deployment, max_checks: int = 20) -> Deployment:
    """Do what the worker does, in this process: claim, apply, check until finished."""
    lease = engine.deployment_claim(deployment_id=deployment.pk)
    assert lease is not None
    outcome = engine.deployment_execute(deployment_id=deployment.pk, lease=lease)
    for _ in range(max_checks):
        if outcome.kind != engine.Outcome.WAIT:
            break
        outcome = engine.deployment_check(deployment_id=deployment.pk, lease=lease)
    deployment.refresh_from_db()
    return deployment


def request(personas, slug="orders", *, confirm=False, **overrides) -> Deployment:
    """A new ECS service's first deployment, planned (and confirmed when asked), not run."""
    return services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug=slug,
        kind="ecs",
        environment=personas["dev"],
        spec=ecs_spec(**overrides),
        confirm=confirm,
    )


def launch(personas, slug="orders", **overrides) -> Deployment:
    done = run_inline(request(personas, slug, confirm=True, **overrides))
    assert done.status == Deployment.Status.SUCCEEDED, (done.error, list(done.steps.all()))
    return done


def change(personas, instance, spec, action=Deployment.Action.UPDATE) -> Deployment:
    instance.refresh_from_db()
    deployment = services.deployment_request(
        instance=instance, spec=spec, user=personas["alice"], action=action
    )
    done = run_inline(deployment)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    return done


def plan_for(personas, instance, spec):
    instance.refresh_from_db()
    ctx = Context.read_only(instance=instance, spec=spec, actor="alice")
    return ecs.plan(spec, ecs.observe(ctx))


def describe_service(env, name="orders-dev"):
    env.refresh_from_db()  # the first deploy stored the embedded network on the row
    services_ = aws_client("ecs").describe_services(
        cluster=env.ecs_cluster, services=[name], include=["TAGS"]
    )
    return services_["services"][0]


def tags_of(tag_list, key="Key", value="Value"):
    return {t[key]: t[value] for t in tag_list}


SLIPWAY_TAGS = {
    "slipway:service": "orders",
    "slipway:environment": "dev",
    "slipway:team": "payments",
    "managed-by": "slipway",
}


@pytest.mark.django_db
def test_create_builds_every_resource_with_tags(personas, aws_clean):
    done = launch(personas)
    env = personas["dev"]
    env.refresh_from_db()
    assert env.ecs_cluster == "slipway-dev" and len(env.subnet_ids) == 2

    ecs_client, elb = aws_client("ecs"), aws_client("elbv2")
    service = describe_service(env)
    assert service["status"] == "ACTIVE"
    assert service["launchType"] == "FARGATE"
    assert service["desiredCount"] == 2 and service["runningCount"] == 2
    vpc = service["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(vpc["subnets"]) == sorted(env.subnet_ids)
    assert vpc["securityGroups"] == env.security_group_ids
    assert tags_of(service["tags"], "key", "value") == SLIPWAY_TAGS
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"

    task = ecs_client.describe_task_definition(
        taskDefinition=service["taskDefinition"], include=["TAGS"]
    )
    definition = task["taskDefinition"]
    assert (definition["cpu"], definition["memory"]) == ("256", "512")
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert definition["executionRoleArn"].endswith(":role/slipway-dev-ecs-exec")
    container = definition["containerDefinitions"][0]
    assert container["image"] == "public.ecr.aws/nginx/nginx:1.27"
    assert container["portMappings"][0]["containerPort"] == 8080
    assert container["environment"] == [{"name": "LOG_LEVEL", "value": "info"}]
    assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
        "DB_PASSWORD": SSM_ARN,
        "API_KEY": SM_ARN,
    }
    log = container["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert log["options"]["awslogs-group"] == "/slipway/dev/orders"
    assert "http://localhost:8080/health" in " ".join(container["healthCheck"]["command"])
    assert tags_of(task["tags"], "key", "value") == SLIPWAY_TAGS

    group = elb.describe_target_groups(Names=["orders-dev"])["TargetGroups"][0]
    assert group["TargetType"] == "ip" and group["HealthCheckPath"] == "/health"
    attributes = elb.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])
    delay = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
    assert delay["deregistration_delay.timeout_seconds"] == "30"
    assert service["loadBalancers"][0]["targetGroupArn"] == group["TargetGroupArn"]
    rules = [
        r
        for r in elb.describe_rules(ListenerArn=env.alb_listener_arn)["Rules"]
        if not r["IsDefault"]
    ]
    assert len(rules) == 1
    assert rules[0]["Conditions"][0]["Field"] == "path-pattern"
    assert rules[0]["Conditions"][0]["Values"] == ["/orders/*"]
    assert rules[0]["Actions"][0]["TargetGroupArn"] == group["TargetGroupArn"]
    arns = [group["TargetGroupArn"], rules[0]["RuleArn"]]
    for description in elb.describe_tags(ResourceArns=arns)["TagDescriptions"]:
        assert tags_of(description["Tags"]) == SLIPWAY_TAGS

    scaling = aws_client("application-autoscaling")
    target = scaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/slipway-dev/orders-dev"]
    )["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    policy = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert tracking["TargetValue"] == 60
    metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert metric == "ECSServiceAverageCPUUtilization"

    groups = aws_client("logs").describe_log_groups(logGroupNamePrefix="/slipway/dev/orders")
    assert groups["logGroups"][0]["retentionInDays"] == 30
    log_tags = aws_client("logs").list_tags_log_group(logGroupName="/slipway/dev/orders")["tags"]
    assert log_tags == SLIPWAY_TAGS

    instance = ServiceInstance.objects.get(pk=done.instance_id)
    assert instance.status == ServiceInstance.Status.HEALTHY
    assert instance.resources["service_arn"] == service["serviceArn"]
    assert instance.resources["task_definition_arn"] == service["taskDefinition"]
    assert instance.resources["rule_arn"] == rules[0]["RuleArn"]
    steps = list(done.steps.values_list("name", flat=True))
    wait_step = done.steps.get(name="Wait until AWS reports it stable")
    assert wait_step.status == "ok"
    assert wait_step.message == "rollout COMPLETED, 2/2 tasks running"
    assert "Create ECS service orders-dev" in steps


@pytest.mark.django_db
def test_plan_after_apply_is_empty_and_apply_twice_creates_nothing_twice(personas, aws_clean):
    done = launch(personas)
    instance = done.instance
    assert plan_for(personas, instance, done.spec) == []
    with pytest.raises(services.NothingToChange):
        services.deployment_request(instance=instance, spec=done.spec, user=personas["alice"])

    # Run the same create again through the engine as a retried task would: all adopted.
    ServiceInstance.objects.filter(pk=instance.pk).update(applied_spec=None, resources={})
    instance.refresh_from_db()
    again = Deployment.objects.create(
        instance=instance,
        action=Deployment.Action.CREATE,
        spec=done.spec,
        requested_by=personas["alice"],
        status=Deployment.Status.QUEUED,
    )
    assert run_inline(again).status == Deployment.Status.SUCCEEDED
    env = personas["dev"]
    env.refresh_from_db()
    assert len(aws_client("ecs").list_services(cluster=env.ecs_cluster)["serviceArns"]) == 1
    families = aws_client("ecs").list_task_definitions(familyPrefix="orders-dev")
    assert len(families["taskDefinitionArns"]) == 1
    assert len(aws_client("elbv2").describe_target_groups()["TargetGroups"]) == 1
    rules = aws_client("elbv2").describe_rules(ListenerArn=env.alb_listener_arn)["Rules"]
    assert len(rules) == 2  # ours and the listener's default
    assert (
        len(
            aws_client("ec2").describe_vpcs(
                Filters=[{"Name": "tag:Name", "Values": ["slipway-dev"]}]
            )["Vpcs"]
        )
        == 1
    )


@pytest.mark.django_db
def test_update_registers_a_new_revision_with_readable_plan_lines(personas, aws_clean):
    done = launch(personas)
    new_spec = ecs_spec(cpu=512, memory=1024, environment={"LOG_LEVEL": "debug", "NEW": "1"})
    summaries = plan_for(personas, done.instance, new_spec)
    lines = [line for c in summaries for line in c.details]
    assert "task definition cpu 256 → 512" in lines
    assert "task definition memory 512 → 1024 MiB" in lines
    assert "task definition environment variables: added NEW; changed LOG_LEVEL" in lines
    assert [c.key for c in summaries] == ["taskdef.register", "service.update"]

    change(personas, done.instance, new_spec)
    env = personas["dev"]
    service = describe_service(env)
    assert service["taskDefinition"].endswith(":2")
    definition = aws_client("ecs").describe_task_definition(
        taskDefinition=service["taskDefinition"]
    )["taskDefinition"]
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert service["deployments"][0]["taskDefinition"] == service["taskDefinition"]
    assert plan_for(personas, done.instance, new_spec) == []


@pytest.mark.django_db
def test_scale_and_route_changes(personas, aws_clean):
    done = launch(personas)
    spec = ecs_spec(
        desired_count=4,
        autoscaling={"min": 2, "max": 6, "metric": "requests", "target": 500},
        load_balancer={"host": "orders.example.com"},
    )
    lines = [line for c in plan_for(personas, done.instance, spec) for line in c.details]
    assert "desired count 2 → 4" in lines
    assert "minimum tasks 1 → 2" in lines
    assert "scale on CPU → ALB requests per target" in lines
    assert "listener rule path /orders/* → host orders.example.com" in lines
    change(personas, done.instance, spec, action=Deployment.Action.SCALE)

    env = personas["dev"]
    service = describe_service(env)
    assert service["desiredCount"] == 4 and service["runningCount"] == 4
    assert service["taskDefinition"].endswith(":1")  # no new revision for a scale
    scaling = aws_client("application-autoscaling")
    target = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    policy = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert metric["ResourceLabel"].startswith("app/slipway-dev/")
    assert "/targetgroup/orders-dev/" in metric["ResourceLabel"]
    rules = aws_client("elbv2").describe_rules(ListenerArn=env.alb_listener_arn)["Rules"]
    ours = [r for r in rules if not r["IsDefault"]]
    assert ours[0]["Conditions"] == [
        {"Field": "host-header", "Values": ["orders.example.com"]}
    ] or ours[0]["Conditions"][0]["Values"] == ["orders.example.com"]
    assert plan_for(personas, done.instance, spec) == []

    # Turning auto-scaling and the load balancer off removes them.
    plain = ecs_spec(desired_count=4, autoscaling=None, load_balancer=None)
    keys = [c.key for c in plan_for(personas, done.instance, plain)]
    assert keys == ["service.update", "scaling.delete", "rule.delete", "target_group.delete"]
    change(personas, done.instance, plain)
    assert scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aws_client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert describe_service(env)["loadBalancers"] == []


@pytest.mark.django_db
def test_delete_removes_everything_the_instance_owns_and_nothing_shared(personas, aws_clean):
    done = launch(personas)
    instance = done.instance
    env = personas["dev"]
    env.refresh_from_db()
    deleted = change(personas, instance, done.spec, action=Deployment.Action.DELETE)
    steps = list(deleted.steps.values_list("name", flat=True))
    order = [
        "Remove auto-scaling",
        "Remove the listener rule",
        "Delete ECS service orders-dev",
        "Delete target group orders-dev",
        "Deregister task definition revisions",
        "Delete log group /slipway/dev/orders",
    ]
    assert [s for s in steps if s in order] == order

    ecs_client, elb = aws_client("ecs"), aws_client("elbv2")
    assert describe_service(env)["status"] == "INACTIVE"
    active = ecs_client.list_task_definitions(familyPrefix="orders-dev", status="ACTIVE")
    assert active["taskDefinitionArns"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []
    rules = elb.describe_rules(ListenerArn=env.alb_listener_arn)["Rules"]
    assert [r["IsDefault"] for r in rules] == [True]
    scaling = aws_client("application-autoscaling")
    assert scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    logs = aws_client("logs").describe_log_groups(logGroupNamePrefix="/slipway/dev/orders")
    assert logs["logGroups"] == []
    # Shared: the cluster, the ALB and its listener stay.
    assert ecs_client.describe_clusters(clusters=[env.ecs_cluster])["clusters"][0]["status"] == (
        "ACTIVE"
    )
    assert elb.describe_listeners(ListenerArns=[env.alb_listener_arn])["Listeners"]
    instance.refresh_from_db()
    assert instance.status == ServiceInstance.Status.DELETED and instance.resources == {}


@pytest.mark.django_db
def test_wait_reports_a_failed_rollout_with_the_ecs_reason(personas, aws_clean):
    """The emulator never fails a rollout; a Stubber gives wait() what ECS says after the
    circuit breaker tripped."""
    from botocore.stub import Stubber

    done = launch(personas)
    instance = done.instance
    instance.refresh_from_db()
    ctx = Context(instance, done.spec, "alice", lambda r, a: None, lambda s: b"")
    client = aws_client("ecs", environment=instance.environment)
    failed = {
        "services": [
            {
                "serviceName": "orders-dev",
                "status": "ACTIVE",
                "desiredCount": 2,
                "runningCount": 0,
                "deployments": [
                    {
                        "status": "PRIMARY",
                        "taskDefinition": instance.resources["task_definition_arn"],
                        "rolloutState": "FAILED",
                        "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to "
                        "start.",
                    }
                ],
            }
        ],
        "failures": [],
    }
    with Stubber(client) as stub:
        stub.add_response("describe_services", failed)
        result = ecs.wait(ctx)
    assert not result.done
    assert result.error == (
        "ECS deployment failed: ECS deployment circuit breaker: tasks failed to start."
    )


@pytest.mark.django_db(transaction=True)
def test_end_to_end_through_the_worker(personas, aws_clean, celery_worker):
    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="basket",
        kind="ecs",
        environment=personas["dev"],
        spec=ecs_spec(load_balancer={"path": "/basket/*"}),
        confirm=True,
    )

    def finished():
        row = Deployment.objects.get(pk=deployment.pk)
        return row if row.is_finished else None

    done = wait_for(finished, timeout=90, message="ECS deployment did not finish")
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    env = personas["dev"]
    env.refresh_from_db()
    service = describe_service(env, "basket-dev")
    assert service["runningCount"] == service["desiredCount"] == 2
    wait_step = done.steps.get(name="Wait until AWS reports it stable")
    assert wait_step.message == "rollout COMPLETED, 2/2 tasks running"


@pytest.mark.django_db
def test_a_refused_service_update_rolls_back_to_the_applied_spec(personas, aws_clean, faults):
    from tests.faultproxy import Rule

    done = launch(personas)
    instance = done.instance
    instance.refresh_from_db()
    faults.add(
        Rule(
            "UpdateService",
            status=400,
            code="InvalidParameterException",
            message="Task definition does not support launch_type FARGATE.",
        )
    )
    update = services.deployment_request(
        instance=instance, spec=ecs_spec(cpu=512, memory=1024), user=personas["bob"]
    )
    failed = run_inline(update)

    assert failed.status == Deployment.Status.ROLLED_BACK
    assert "InvalidParameterException: Task definition does not support" in failed.error
    assert failed.steps.get(status="failed").name == "Update ECS service orders-dev"
    service = describe_service(personas["dev"])
    assert service["taskDefinition"].endswith(":1")
    assert plan_for(personas, instance, done.spec) == []


@pytest.mark.django_db
def test_a_circuit_breaker_switched_off_outside_slipway_is_planned_back_on(personas, aws_clean):
    done = launch(personas)
    env = personas["dev"]
    env.refresh_from_db()
    # The emulator drops deploymentConfiguration on create (reported as null: nothing planned)
    # but keeps it from update_service, as AWS does. Someone turns the breaker off by hand:
    aws_client("ecs").update_service(
        cluster=env.ecs_cluster,
        service="orders-dev",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
    )
    changes = plan_for(personas, done.instance, done.spec)
    assert [c.details for c in changes] == [("deployment circuit breaker with rollback: off → on",)]
    change(personas, done.instance, done.spec)
    breaker = describe_service(env)["deploymentConfiguration"]["deploymentCircuitBreaker"]
    assert breaker == {"enable": True, "rollback": True}
    assert plan_for(personas, done.instance, done.spec) == []


@pytest.mark.django_db
def test_embedded_network_is_idempotent_and_recreated_after_an_emulator_restart(
    personas, aws_clean
):
    from portal import emulator
    from portal.embedded import embedded_network_ensure, embedded_network_ready

    env = personas["dev"]
    first = embedded_network_ensure(environment=env)
    assert embedded_network_ensure(environment=env) == first
    assert embedded_network_ready(environment=env)
    elb = aws_client("elbv2")
    balancer = elb.describe_load_balancers(LoadBalancerArns=[first["alb_arn"]])["LoadBalancers"]
    assert balancer[0]["Scheme"] == "internet-facing"
    listener = elb.describe_listeners(ListenerArns=[first["alb_listener_arn"]])["Listeners"][0]
    assert listener["Port"] == 80
    assert listener["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    assert (
        len(
            aws_client("ec2").describe_vpcs(
                Filters=[{"Name": "tag:Name", "Values": ["slipway-dev"]}]
            )["Vpcs"]
        )
        == 1
    )

    # The emulator keeps state in memory: a restart (here, a reset) loses the network while the
    # row keeps the old ids. The next deploy plans the network again and succeeds.
    emulator.reset(aws_clean)
    env.refresh_from_db()
    assert not embedded_network_ready(environment=env)
    done = launch(personas)
    assert done.plan[0]["summary"].startswith("Create the embedded network")
    env.refresh_from_db()
    assert env.alb_listener_arn != first["alb_listener_arn"]


def test_target_group_names_fit_elbv2s_limit():
    from deployments import names

    assert names.ecs_target_group("orders", "dev") == "orders-dev"
    long = names.ecs_target_group("a-very-long-service-name-indeed", "production")
    assert len(long) <= 32 and long.startswith("a-very-long-service-name")
    assert long == names.ecs_target_group("a-very-long-service-name-indeed", "production")
    assert long != names.ecs_target_group("a-very-long-service-name-indeed", "productio2")


@pytest.mark.django_db
def test_a_missing_cluster_is_planned_and_ensured_with_tags(personas, aws_clean):
    """On real AWS the network is the admin's, but the cluster is ensured by the provisioner."""
    from deployments.provisioners import ecs_aws, ecs_setup
    from deployments.provisioners.base import Observed

    values = {
        "service_name": "orders-dev",
        "cluster": "slipway-dev",
        "network_ready": True,
        "cluster_ready": False,
        "execution_role": "arn:aws:iam::123456789012:role/slipway-dev-ecs-exec",
        "log_group_arn": "arn:aws:logs:us-east-1:123456789012:log-group:/slipway/dev/orders",
    }
    changes = ecs.plan(ecs_spec(load_balancer=None, autoscaling=None), Observed(False, values))
    assert changes[0].key == "cluster.ensure"
    assert changes[0].summary == "Create ECS cluster slipway-dev"

    env = personas["dev"]
    instance = request(personas).instance
    ctx = Context(instance, ecs_spec(), "alice", lambda r, a: None, lambda s: b"")
    refs = ecs_aws.Refs.of(ctx)
    assert ecs_setup.ensure_cluster(ctx, refs).startswith("created arn:aws:ecs:")
    assert ecs_setup.ensure_cluster(ctx, refs) == "cluster slipway-dev exists"
    env.refresh_from_db()
    assert env.ecs_cluster == "slipway-dev"
    found = aws_client("ecs").describe_clusters(clusters=["slipway-dev"], include=["TAGS"])
    cluster = found["clusters"][0]
    assert cluster["status"] == "ACTIVE"
    assert tags_of(cluster["tags"], "key", "value") == {
        "slipway:environment": "dev",
        "managed-by": "slipway",
    }


@pytest.mark.django_db
def test_new_environment_security_groups_are_rolled_out_to_the_service(personas, aws_clean):
    done = launch(personas)
    env = personas["dev"]
    env.refresh_from_db()
    group = aws_client("ec2").create_security_group(
        GroupName="orders-extra", Description="added by an admin", VpcId=env.vpc_id
    )["GroupId"]
    env.security_group_ids = [*env.security_group_ids, group]
    env.save(update_fields=["security_group_ids"])

    changes = plan_for(personas, done.instance, done.spec)
    assert [c.details for c in changes] == [
        ("network: the environment's subnets or security groups changed",)
    ]
    change(personas, done.instance, done.spec)
    network = describe_service(env)["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(network["securityGroups"]) == sorted(env.security_group_ids)
    assert plan_for(personas, done.instance, done.spec) == []


@pytest.mark.django_db
def test_on_real_aws_an_environment_without_a_network_is_refused_at_plan_time(personas, settings):
    """The same readiness check as in embedded mode; only who provides the network differs."""
    from deployments.errors import EnvironmentNotReady

    settings.AWS_ENDPOINT_URL = ""  # real AWS: nothing leaves the machine before the refusal
    service = Service.objects.create(slug="orders", kind="ecs", owner=personas["payments"])
    instance = ServiceInstance.objects.create(service=service, environment=personas["dev"])
    ctx = Context.read_only(instance=instance, spec=ecs_spec(), actor="alice")
    with pytest.raises(EnvironmentNotReady, match="an admin sets them"):
        ecs.observe(ctx)


def test_a_missing_execution_role_is_planned_until_it_exists_then_remembered(personas, aws_clean):
    """The environment's role is read once it exists (a burst of deploys reads it once); a
    missing role is never remembered: the next plan sees a role made meanwhile by hand."""
    from deployments.provisioners import ecs_setup

    instance = request(personas).instance
    assert "role.ensure" in [c.key for c in plan_for(personas, instance, ecs_spec())]
    ctx = Context(instance, ecs_spec(), "alice", lambda r, a: None, lambda s: b"")
    refs = ecs_setup.Refs.of(ctx)
    made = aws_client("iam").create_role(
        RoleName=refs.role, AssumeRolePolicyDocument=ecs_setup.TRUST_POLICY
    )["Role"]["Arn"]
    assert "role.ensure" not in [c.key for c in plan_for(personas, instance, ecs_spec())]
    before = call_counts()
    assert ecs_setup.execution_role_arn(ctx, refs) == made
    assert ("iam", "GetRole") not in call_counts() - before
