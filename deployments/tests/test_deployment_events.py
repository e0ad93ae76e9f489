"""Deployment events reach the environment's SNS topic: checked through an SQS queue subscribed
to it in the emulator, as a team consuming them would."""

import json
import time
from pathlib import Path

import pytest

from conftest import finished_deployment, launch_lambda, wait_for
from deployments import events, names
from deployments.models import Deployment, DeploymentEvent
from deployments.services import deployment_approve
from portal.aws import aws_client
from tests.faultproxy import Rule

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def subscribe_queue(environment_slug: str, queue_name: str) -> str:
    """A team's queue on the environment's events topic (raw delivery: the event JSON itself)."""
    sns = aws_client("sns")
    sqs = aws_client("sqs")
    topic = sns.create_topic(Name=names.deployment_events_topic(environment_slug))["TopicArn"]
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue_url


def received(queue_url: str, deployment_id: int, count: int) -> list[dict]:
    """Read the queue until `count` events of this deployment arrived (or time runs out)."""
    sqs = aws_client("sqs")
    seen: list[dict] = []

    def enough():
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            body = json.loads(message["Body"])
            if body["deployment"]["id"] == deployment_id:
                seen.append(body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(seen) >= count

    deadline = time.monotonic() + 30
    while not enough():
        if time.monotonic() > deadline:
            pytest.fail(f"only these events arrived: {[e['type'] for e in seen]}")
        time.sleep(0.2)
    return seen


def test_state_changes_arrive_on_the_topic_in_order_each_once(personas, aws_clean, celery_worker):
    queue_url = subscribe_queue("dev", "payments-deploy-events")
    deployment = launch_lambda(personas, "ledger")
    done = wait_for(lambda: finished_deployment(deployment.pk))
    assert done.status == Deployment.Status.SUCCEEDED, done.error

    got = received(queue_url, deployment.pk, 3)
    assert [e["type"] for e in got] == [
        "deployment.requested",
        "deployment.started",
        "deployment.succeeded",
    ]
    assert [e["sequence"] for e in got] == [1, 2, 3]
    assert len({e["id"] for e in got}) == 3
    last = got[-1]
    assert last["schema"] == "slipway.deployment-event/1"
    assert last["service"] == {"slug": "ledger", "kind": "lambda", "team": "payments"}
    assert last["environment"]["slug"] == "dev"
    assert last["deployment"]["status"] == "succeeded"
    assert last["deployment"]["requested_by"] == "alice"
    # Every message is valid against the published schema version.
    for event in got:
        events.DeploymentEventV1.model_validate(event)
    # Nothing more arrives: each change once.
    assert not aws_client("sqs").receive_message(QueueUrl=queue_url).get("Messages")


def test_an_approved_production_deployment_publishes_the_approval(
    personas, aws_clean, celery_worker
):
    queue_url = subscribe_queue("prod", "payments-prod-events")
    deployment = launch_lambda(personas, "ledger", environment="prod")
    assert deployment.status == Deployment.Status.AWAITING_APPROVAL
    deployment_approve(deployment=deployment, user=personas["bob"])
    done = wait_for(lambda: finished_deployment(deployment.pk))
    assert done.status == Deployment.Status.SUCCEEDED, done.error

    got = received(queue_url, deployment.pk, 4)
    assert [e["type"] for e in got] == [
        "deployment.requested",
        "deployment.approved",
        "deployment.started",
        "deployment.succeeded",
    ]
    assert got[1]["deployment"]["approved_by"] == "bob"


def test_publishing_failures_never_fail_the_deployment_and_stay_visible(
    personas, aws_clean, celery_worker, faults
):
    queue_url = subscribe_queue("dev", "payments-retry-events")
    faults.add(Rule("Publish", times=2, status=500, code="InternalError"))
    deployment = launch_lambda(personas, "ledger")
    done = wait_for(lambda: finished_deployment(deployment.pk))
    assert done.status == Deployment.Status.SUCCEEDED, done.error

    # The publisher retried: the first event saw the errors, and all three arrived in order.
    got = received(queue_url, deployment.pk, 3)
    assert [e["sequence"] for e in got] == [1, 2, 3]
    first = DeploymentEvent.objects.get(deployment=deployment, sequence=1)
    assert first.status == DeploymentEvent.Status.PUBLISHED
    assert first.attempts == 3


def test_recording_is_idempotent(personas, aws_clean):
    deployment = launch_lambda(personas, "ledger", confirm=False)
    assert events.deployment_event_record(deployment_id=deployment.pk, type="deployment.started")
    assert not events.deployment_event_record(
        deployment_id=deployment.pk, type="deployment.started"
    )
    assert DeploymentEvent.objects.filter(deployment=deployment).count() == 1


def test_the_documented_schema_is_the_one_published():
    documented = json.loads((ROOT / "docs" / "deployment-events.schema.json").read_text())
    assert documented == events.json_schema()


def test_a_failed_deployment_publishes_its_failure(personas, aws_clean, celery_worker, faults):
    queue_url = subscribe_queue("dev", "payments-failures")
    faults.add(Rule("CreateFunction", times=5, code="InvalidParameterValueException"))
    deployment = launch_lambda(personas, "ledger")
    done = wait_for(lambda: finished_deployment(deployment.pk))
    assert done.status == Deployment.Status.FAILED

    got = received(queue_url, deployment.pk, 3)
    assert [e["type"] for e in got] == [
        "deployment.requested",
        "deployment.started",
        "deployment.failed",
    ]
    assert got[-1]["deployment"]["status"] == "failed"
    assert got[-1]["deployment"]["error"] == done.error


def test_cancelling_a_requested_change_is_published_but_a_discarded_plan_is_not(
    personas, aws_clean
):
    from deployments.services import deployment_cancel

    waiting = launch_lambda(personas, "ledger", environment="prod")
    deployment_cancel(deployment=waiting, user=personas["alice"])
    types = list(DeploymentEvent.objects.filter(deployment=waiting).values_list("type", flat=True))
    assert types == ["deployment.requested", "deployment.cancelled"]

    planned = launch_lambda(personas, "other", confirm=False)
    deployment_cancel(deployment=planned, user=personas["alice"])
    assert not DeploymentEvent.objects.filter(deployment=planned).exists()
