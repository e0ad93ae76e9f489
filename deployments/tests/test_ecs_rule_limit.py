"""AWS allows 100 listener rules per Application Load Balancer (the emulator is taught to count).

Slipway refuses the 101st ECS service's rule at plan time with a message that says so; deploys
planned at the same moment can all have seen room, and then AWS's refusal of the `CreateRule`
fails the deployment with the same message.
"""

import pytest
from botocore.exceptions import ClientError

from catalog.models import Service
from deployments import names, services
from deployments.errors import PlanFailed
from deployments.models import Deployment
from deployments.tests.test_provision_ecs import ecs_spec, launch, request, run_inline
from deployments.tests.test_table_access import deploy_table
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]


def fill_listener(env, rules: int) -> None:
    """Another team's rules (made with plain boto3) until the listener holds `rules` of its own."""
    env.refresh_from_db()
    elb = aws_client("elbv2")
    listener = env.alb_listener_arn
    taken = [r for r in all_rules(env) if not r["IsDefault"]]
    priorities = {int(r["Priority"]) for r in taken}
    free = (p for p in range(1, 50000) if p not in priorities)
    for _ in range(rules - len(taken)):
        priority = next(free)
        elb.create_rule(
            ListenerArn=listener,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [f"/other-{priority}/*"]}],
            Actions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
                }
            ],
        )


def all_rules(env) -> list[dict]:
    pages = aws_client("elbv2").get_paginator("describe_rules")
    return [r for page in pages.paginate(ListenerArn=env.alb_listener_arn) for r in page["Rules"]]


def rules_on(env) -> int:
    return sum(1 for r in all_rules(env) if not r["IsDefault"])


def test_the_101st_service_rule_is_refused_at_plan_time_and_nothing_is_stored(personas, aws_clean):
    env = personas["dev"]
    orders = launch(personas, slug="orders")
    fill_listener(env, 100)
    assert rules_on(env) == 100

    with pytest.raises(PlanFailed, match="already has 100 listener rules") as refused:
        request(personas, "billing", confirm=True, load_balancer={"path": "/billing/*"})
    assert "Application Load Balancer" in str(refused.value)
    assert not Service.objects.filter(slug="billing").exists()
    assert rules_on(env) == 100

    # A service that already has its rule keeps changing freely, its route included.
    instance = orders.instance
    instance.refresh_from_db()
    moved = services.deployment_request(
        instance=instance,
        spec=ecs_spec(load_balancer={"path": "/orders-v2/*"}),
        user=personas["alice"],
    )
    assert run_inline(moved).status == Deployment.Status.SUCCEEDED
    assert rules_on(env) == 100

    # Without a rule the 101st service deploys.
    launch(personas, slug="worker", load_balancer=None)


def test_a_rule_planned_while_there_was_room_is_refused_before_it_is_created(personas, aws_clean):
    env = personas["dev"]
    launch(personas, slug="orders")
    deploy_table(personas)
    fill_listener(env, 99)
    deployment = request(
        personas,
        "billing",
        confirm=True,
        load_balancer={"path": "/billing/*"},
        tables=[{"table": "orders-db", "access": "read"}],
    )
    fill_listener(env, 100)  # another deploy took the last rule meanwhile

    done = run_inline(deployment)
    assert done.status == Deployment.Status.FAILED
    assert done.error.startswith("The environment's load balancer already has 100 listener rules")
    assert rules_on(env) == 100
    # What the run created before the refusal (its log group, task role, target group) is gone
    # from AWS and from the catalog: nothing is left waiting for a next deployment or a delete.
    assert log_groups("billing") == []
    assert target_groups("billing") == []
    roles = aws_client("iam").list_roles()["Roles"]
    assert names.ecs_task_role("billing", "dev") not in {r["RoleName"] for r in roles}
    assert (
        aws_client("ecs").list_task_definitions(familyPrefix="billing")["taskDefinitionArns"] == []
    )
    instance = deployment.instance
    instance.refresh_from_db()
    assert instance.resources == {}
    # The orders service's own are untouched.
    assert log_groups("orders") == [names.ecs_log_group("orders", "dev")]
    assert target_groups("orders") == [names.ecs_target_group("orders", "dev")]


def test_a_refused_rule_leaves_a_log_group_that_was_there_before(personas, aws_clean):
    """A first deployment takes over a log group AWS already has by its name (made outside
    Slipway): refused at CreateRule, it deletes only what it created, never what it found."""
    env = personas["dev"]
    launch(personas, slug="orders")
    fill_listener(env, 99)
    existing = names.ecs_log_group("billing", "dev")
    aws_client("logs").create_log_group(logGroupName=existing)
    deployment = request(personas, "billing", confirm=True, load_balancer={"path": "/billing/*"})
    fill_listener(env, 100)

    done = run_inline(deployment)
    assert done.status == Deployment.Status.FAILED
    assert "100 listener rules" in done.error
    assert log_groups("billing") == [existing]
    assert target_groups("billing") == []
    instance = deployment.instance
    instance.refresh_from_db()
    assert "target_group_arn" not in instance.resources


def log_groups(slug: str) -> list[str]:
    """The log groups AWS has for `slug` in dev, read with plain boto3."""
    name = names.ecs_log_group(slug, "dev")
    found = aws_client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return [g["logGroupName"] for g in found if g["logGroupName"] == name]


def target_groups(slug: str) -> list[str]:
    """The target groups AWS has for `slug` in dev, read with plain boto3."""
    name = names.ecs_target_group(slug, "dev")
    pages = aws_client("elbv2").get_paginator("describe_target_groups").paginate()
    return [
        g["TargetGroupName"]
        for p in pages
        for g in p["TargetGroups"]
        if g["TargetGroupName"] == name
    ]


def test_the_emulator_refuses_a_101st_rule_as_aws_does(personas, aws_clean):
    """`CreateRule` is Slipway's guard, so the emulator must count as AWS does (per load
    balancer, default rules not counted) and answer `TooManyRules`."""
    env = personas["dev"]
    launch(personas, slug="orders")
    fill_listener(env, 100)
    with pytest.raises(ClientError) as refused:
        aws_client("elbv2").create_rule(
            ListenerArn=env.alb_listener_arn,
            Priority=49999,
            Conditions=[{"Field": "path-pattern", "Values": ["/one-too-many/*"]}],
            Actions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
                }
            ],
        )
    assert refused.value.response["Error"]["Code"] == "TooManyRules"
    assert rules_on(env) == 100
