"""A deployment whose AWS rate-limit token is far away is parked, not slept on in its thread.

The token is reserved for it in Redis; the row stays `running` under its lease with its
heartbeat set to when the token is due (the reconciler leaves it alone); a resume task applies
again then, adopting what the parked run made, and spends the reserved token. Meanwhile the
worker thread serves other deployments.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from conftest import Worker, launch_lambda, wait_for
from deployments import engine, tasks
from deployments.models import Deployment, DeploymentStep
from deployments.tests.test_ecs_retry import groups_named, network, plan, rules_to
from portal import ratelimit
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]


def bucket_key(environment, group: str) -> str:
    region = environment.region or django_settings.AWS_DEFAULT_REGION
    return ratelimit._bucket_key(environment.aws_account_id, region, group)


def owe(environment, group: str, seconds: float) -> None:
    """Put the shared bucket in debt: the next token is `seconds` away (as when many callers
    reserved before us)."""
    rate, _ = django_settings.AWS_RATE_LIMITS[group]
    client, _ = ratelimit._redis()
    now, micros = client.time()
    client.hset(
        bucket_key(environment, group),
        mapping={"tokens": 1 - seconds * rate, "stamp": now + micros / 1_000_000},
    )


def parked_note(deployment: Deployment) -> DeploymentStep | None:
    return deployment.steps.filter(name__startswith="Waiting for AWS rate limit").first()


def finished(pk: int) -> Deployment | None:
    deployment = Deployment.objects.get(pk=pk)
    return deployment if deployment.is_finished else None


@pytest.mark.django_db
def test_a_park_after_a_write_inside_a_step_resumes_without_doing_it_twice(
    personas, aws_clean, settings
):
    """PublishVersion went through, then the same step's CreateAlias found its token 3 s away:
    the deployment parks; the resumed run reads AWS, adopts the version and only points the
    alias (no second version)."""
    deployment = launch_lambda(personas, "parked")
    env = personas["dev"]
    lam = aws_client("lambda", environment=env)
    settings.AWS_RATE_LIMIT_PARK_AFTER = 2.0  # as shipped (the suite's is longer)

    def debt_after_publish(**_):
        owe(env, "lambda-control", 3.0)

    lam.meta.events.register("after-call.lambda.PublishVersion", debt_after_publish)
    try:
        lease = engine.deployment_claim(deployment_id=deployment.pk)
        outcome = engine.deployment_execute(deployment_id=deployment.pk, lease=lease)
    finally:
        lam.meta.events.unregister("after-call.lambda.PublishVersion", debt_after_publish)

    assert outcome.kind == engine.Outcome.PARK
    assert 1.5 < outcome.countdown < 3.0  # a moment before the token is due
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.RUNNING and deployment.lease == lease
    assert deployment.heartbeat_at > timezone.now() + timedelta(seconds=1)
    interrupted = deployment.steps.get(status=DeploymentStep.Status.INTERRUPTED)
    assert interrupted.name.startswith("Publish a new version")
    note = parked_note(deployment)
    assert note and "(lambda control)" in note.name and "resumes in ~3 s" in note.name

    # Beat runs meanwhile, with windows so short any quiet running row would be taken.
    settings.DEPLOY_DEAD_WORKER_SECONDS = 0
    settings.DEPLOY_STALE_SECONDS = 0
    assert engine.deployments_reconcile() == []

    time.sleep(outcome.countdown)
    fresh = engine.deployment_unpark(deployment_id=deployment.pk, lease=lease)
    assert fresh is not None and fresh != lease
    # A second delivery of the resume finds the lease moved on and does nothing.
    assert engine.deployment_unpark(deployment_id=deployment.pk, lease=lease) is None
    outcome = engine.deployment_execute(deployment_id=deployment.pk, lease=fresh)
    for _ in range(20):
        if outcome.kind != engine.Outcome.WAIT:
            break
        outcome = engine.deployment_check(deployment_id=deployment.pk, lease=fresh)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.error
    assert deployment.attempts == 1  # parking is not a retry

    versions = lam.list_versions_by_function(FunctionName="parked-dev")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert lam.get_alias(FunctionName="parked-dev", Name="live")["FunctionVersion"] == "1"
    assert not deployment.steps.filter(status=DeploymentStep.Status.FAILED).exists()


def test_reserved_tokens_are_spent_by_their_owner_in_order(settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"park-{uuid.uuid4().hex}"}
    }
    settings.AWS_RATE_LIMITS = {"ecs-task-definition-writes": (1.0, 1)}
    settings.AWS_RATE_LIMIT_PARK_AFTER = 0.6

    def take(owner: str) -> float:
        with ratelimit.parking(owner):
            return ratelimit.take(account="1", region="r", group="ecs-task-definition-writes")

    assert take("a") == 0  # the burst
    with pytest.raises(ratelimit.RateLimited) as first:
        take("b")  # 1 s away: reserved for b
    assert first.value.wait == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ratelimit.RateLimited) as again:
        take("b")  # b comes back early: its own token, nothing new taken
    assert again.value.wait == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ratelimit.RateLimited) as behind:
        take("c")  # behind b's one token, not two
    assert behind.value.wait == pytest.approx(2.0, abs=0.1)
    time.sleep(0.5)
    started = time.monotonic()
    assert take("b") == pytest.approx(0.5, abs=0.1)  # due soon: slept as before, and spent
    assert time.monotonic() - started >= 0.4
    # A reserved token not spent long after it was due goes back to the bucket (no call used
    # it), and the call reserves anew: c's token was due in 2 s, and is not used in time.
    client, _ = ratelimit._redis()
    held = ratelimit._bucket_key("1", "r", "ecs-task-definition-writes") + ":held:c"
    client.lset(held, 0, f"{float(client.time()[0]) - 60:.6f}")
    # The bucket is as if c had never reserved: its fresh token is ~1 s away (the next one
    # after b's); without its token back it would be ~2 s away.
    with pytest.raises(ratelimit.RateLimited) as anew:
        take("c")
    assert anew.value.wait == pytest.approx(1.0, abs=0.15)
    assert client.llen(held) == 1


def test_a_call_parked_on_its_second_bucket_gives_the_first_token_back(settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"park-{uuid.uuid4().hex}"}
    }
    settings.AWS_RATE_LIMITS = {
        "apigateway-create-deployment": (1.0, 3),
        "apigateway-total": (1.0, 1),
    }
    handler = ratelimit.before_call_handler(account="1", region="r")
    client, _ = ratelimit._redis()
    own = ratelimit._bucket_key("1", "r", "apigateway-create-deployment")
    settings.AWS_RATE_LIMIT_PARK_AFTER = 0.5
    handler("before-call.api-gateway.CreateDeployment")  # one token from each
    with ratelimit.parking("d"), pytest.raises(ratelimit.RateLimited) as parked:
        handler("before-call.api-gateway.CreateDeployment")  # the total's is 1 s away
    assert parked.value.group == "apigateway-total"
    # The own bucket holds its two tokens (one given back), less nothing for the parked call.
    assert float(client.hget(own, "tokens")) == pytest.approx(2.0, abs=0.1)


@pytest.fixture
def one_thread_worker(transactional_db, aws_emulator, monkeypatch):
    """A worker with a single thread, on a queue of its own (no other worker serves it)."""
    worker = Worker(
        aws_emulator,
        connection.settings_dict["NAME"],
        pool="threads",
        concurrency=1,
        queue=f"{django_settings.CELERY_TASK_DEFAULT_QUEUE}-one-thread",
        name="one-thread",
        env={"SLIPWAY_AWS_RATE_LIMIT_PARK_AFTER": "2"},  # as shipped (the suite's is longer)
    )
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(worker.queue)
    monkeypatch.setattr(
        tasks.run_deployment,
        "delay",
        lambda pk: tasks.run_deployment.apply_async((pk,), queue=worker.queue),
    )
    worker.start()
    yield worker
    worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_parked_deploy_frees_the_only_thread_for_a_small_one(
    personas, aws_clean, one_thread_worker, settings
):
    env = network(personas)  # the ECS cluster and load balancer, made inline
    owe(env, "ecs-task-definition-writes", 12.0)  # many task definitions registered before
    big = plan(personas, "orders")

    note = wait_for(lambda: parked_note(big), timeout=60, message="the ECS deploy never parked")
    assert "(ecs task definition writes)" in note.name
    small = launch_lambda(personas, "small")
    done = wait_for(lambda: finished(small.pk), timeout=60, message="the Lambda waited")
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    # The ECS deploy is still waiting for its token: the small one did not queue behind it.
    big.refresh_from_db()
    assert big.status == Deployment.Status.RUNNING and big.heartbeat_at > timezone.now()
    settings.DEPLOY_DEAD_WORKER_SECONDS = 0
    settings.DEPLOY_STALE_SECONDS = 0
    assert engine.deployments_reconcile() == []

    big = wait_for(lambda: finished(big.pk), timeout=90, message="the ECS deploy never resumed")
    assert big.status == Deployment.Status.SUCCEEDED, big.error
    assert big.attempts == 1
    assert big.finished_at >= note.started_at + timedelta(seconds=10)
    steps = list(big.steps.values_list("name", "status"))
    register = [s for s in steps if s[0].startswith("Register task definition")]
    assert [status for _, status in register] == ["interrupted", "ok"], steps
    assert not big.steps.filter(status=DeploymentStep.Status.FAILED).exists()

    # Nothing made twice: one revision, one target group, one listener rule, one service.
    ecs = aws_client("ecs")
    revisions = ecs.list_task_definitions(familyPrefix="orders-dev")["taskDefinitionArns"]
    assert len(revisions) == 1, revisions
    [group] = groups_named("orders-dev")
    assert len(rules_to(env, group["TargetGroupArn"])) == 1
    services = ecs.list_services(cluster=env.ecs_cluster)["serviceArns"]
    assert len([s for s in services if s.endswith("/orders-dev")]) == 1
