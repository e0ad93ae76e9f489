"""An ECS deploy applies against its plan's reading and still never makes anything twice.

A first deployment does not look up its log group and target group (nothing of its own can
exist yet); what AWS has by those names is adopted. A retry reads AWS afresh and adopts what an
interrupted attempt created. A listener priority taken since the plan read the rules is met by
AWS's `PriorityInUse`, then the rules are read again.
"""

from __future__ import annotations

import pytest

from deployments.models import Deployment
from deployments.provisioners import ecs_handlers
from deployments.tests.test_provision_ecs import launch, request, run_inline
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]


def plan(personas, slug: str, **overrides) -> Deployment:
    """Plan and confirm a new service's first deployment (not run yet)."""
    return request(personas, slug, confirm=True, **overrides)


def network(personas):
    """The embedded network and cluster, set up by a first service; the environment row."""
    launch(personas, slug="warm", load_balancer={"path": "/warm/*"})
    env = personas["dev"]
    env.refresh_from_db()
    return env


def groups_named(name: str) -> list[dict]:
    found = aws_client("elbv2").describe_target_groups()["TargetGroups"]
    return [g for g in found if g["TargetGroupName"] == name]


def rules_to(env, group_arn: str) -> list[dict]:
    rules = aws_client("elbv2").describe_rules(ListenerArn=env.alb_listener_arn)["Rules"]
    return [r for r in rules if any(a.get("TargetGroupArn") == group_arn for a in r["Actions"])]


def test_a_first_deploy_adopts_a_log_group_and_target_group_it_did_not_look_up(personas, aws_clean):
    env = network(personas)
    # Left by someone else under the names Slipway derives; the target group checks "/".
    aws_client("logs").create_log_group(logGroupName="/slipway/dev/orders")
    stale = aws_client("elbv2").create_target_group(
        Name="orders-dev", Protocol="HTTP", Port=8080, VpcId=env.vpc_id, TargetType="ip"
    )["TargetGroups"][0]

    done = run_inline(plan(personas, "orders"))

    assert done.status == Deployment.Status.SUCCEEDED, done.error
    steps = dict(done.steps.values_list("name", "message"))
    assert steps["Create log group /slipway/dev/orders"] == "/slipway/dev/orders exists"
    assert steps["Create target group orders-dev"].startswith("adopted ")
    [group] = groups_named("orders-dev")
    assert group["TargetGroupArn"] == stale["TargetGroupArn"]
    assert group["HealthCheckPath"] == "/health"  # the spec's, not the one it was made with
    [log_group] = aws_client("logs").describe_log_groups(logGroupNamePrefix="/slipway/dev/orders")[
        "logGroups"
    ]
    assert log_group["retentionInDays"] == 30
    done.instance.refresh_from_db()
    assert done.instance.resources["target_group_arn"] == stale["TargetGroupArn"]
    assert len(rules_to(env, stale["TargetGroupArn"])) == 1


@pytest.mark.parametrize("recorded", ["log group", "nothing"])
def test_a_retry_adopts_the_target_group_and_rule_an_interrupted_attempt_created(
    personas, aws_clean, recorded
):
    """The first attempt made the log group (recorded at once, as every run records what it
    creates), the target group and its rule, then died before recording those two. Or nothing
    of it was recorded: the instance then looks never deployed, and the rule that forwards to a
    group of its name is still found."""
    env = network(personas)
    planned = plan(personas, "orders")
    if recorded == "log group":
        logs = aws_client("logs")
        logs.create_log_group(logGroupName="/slipway/dev/orders")
        [group] = logs.describe_log_groups(logGroupNamePrefix="/slipway/dev/orders")["logGroups"]
        planned.instance.resources = {"log_group_arn": group["arn"]}
        planned.instance.save(update_fields=["resources"])
    elb = aws_client("elbv2")
    orphan = elb.create_target_group(
        Name="orders-dev",
        Protocol="HTTP",
        Port=8080,
        VpcId=env.vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_rule(
        ListenerArn=env.alb_listener_arn,
        Priority=4321,
        Conditions=[{"Field": "path-pattern", "Values": ["/orders/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": orphan}],
    )
    Deployment.objects.filter(pk=planned.pk).update(attempts=1)  # the claim makes it attempt 2

    done = run_inline(planned)

    assert done.status == Deployment.Status.SUCCEEDED, done.error
    read = list(done.steps.values_list("name", "message"))
    assert ("Read current state from AWS", "") in read, read  # afresh, not the plan's reading
    steps = [name for name, _ in read]
    assert "Create target group orders-dev" not in steps, steps
    assert "Route the load balancer to the service" not in steps, steps
    assert [g["TargetGroupArn"] for g in groups_named("orders-dev")] == [orphan]
    assert [r["Priority"] for r in rules_to(env, orphan)] == ["4321"]
    cluster = aws_client("ecs").list_services(cluster=env.ecs_cluster)["serviceArns"]
    assert sum(arn.endswith("/orders-dev") for arn in cluster) == 1
    done.instance.refresh_from_db()
    assert done.instance.resources["target_group_arn"] == orphan


def test_a_priority_taken_since_the_plan_is_met_by_aws_and_another_is_taken(
    personas, aws_clean, monkeypatch
):
    env = network(personas)
    planned = plan(personas, "orders")
    # The rule step picks the lowest free priority the plan saw; another team takes it first.
    monkeypatch.setattr(ecs_handlers.secrets, "choice", lambda free: free[0])
    rules = aws_client("elbv2").describe_rules(ListenerArn=env.alb_listener_arn)["Rules"]
    taken = {int(r["Priority"]) for r in rules if not r["IsDefault"]}
    lowest = min(p for p in range(1, 50000) if p not in taken)
    aws_client("elbv2").create_rule(
        ListenerArn=env.alb_listener_arn,
        Priority=lowest,
        Conditions=[{"Field": "path-pattern", "Values": ["/other/*"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
            }
        ],
    )

    done = run_inline(planned)

    assert done.status == Deployment.Status.SUCCEEDED, done.error
    done.instance.refresh_from_db()
    [rule] = rules_to(env, done.instance.resources["target_group_arn"])
    assert int(rule["Priority"]) != lowest
    steps = dict(done.steps.values_list("name", "message"))
    assert steps["Route the load balancer to the service"].startswith("created rule (priority")
