"""Deployment events: every state change of a deployment, published to the environment's SNS topic.

Teams subscribe their SQS queues, Lambda functions or chat webhooks to
`slipway-<environment>-deployment-events` and receive one JSON message per change, in the schema
below (`DeploymentEventV1`, documented in docs/deployment-events.md and exported as JSON Schema to
docs/deployment-events.schema.json).

How it stays out of the deployment's way (an outbox):
1. The code that changes a deployment's status calls `deployment_event_record()`, which writes a
   `DeploymentEvent` row and, after the surrounding transaction commits, enqueues the publisher.
   Recording is idempotent: a (deployment, type) pair is stored once.
2. The publisher (`deployment_events_publish`, run by a Celery task) publishes the deployment's
   pending rows in sequence order. It claims each row with a conditional UPDATE first, so two
   publishers never send the same row; it stops at the first failure so order is kept, and the
   task retries with backoff. After `MAX_ATTEMPTS` the row is marked failed (shown on the
   deployment page) and later rows go on.
3. Beat sweeps rows still pending after a while (a lost message, a worker that died).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from pydantic import BaseModel, Field

from deployments import names
from deployments.models import Deployment, DeploymentEvent
from portal.aws import aws_client, error_message, is_not_found
from portal.db import savepoint_if_in_transaction

log = logging.getLogger(__name__)

SCHEMA = "slipway.deployment-event/1"
MAX_ATTEMPTS = 8
CLAIM_SECONDS = 60
TOPIC_CACHE_SECONDS = 3600

EventType = Literal[
    "deployment.requested",
    "deployment.approved",
    "deployment.started",
    "deployment.succeeded",
    "deployment.failed",
    "deployment.rolled_back",
    "deployment.cancelled",
]


# --- the schema ----------------------------------------------------------------------------------
class EventDeployment(BaseModel):
    id: int
    action: str = Field(description="create, update, scale, delete or revert")
    status: str = Field(description="The deployment's status after this change")
    url: str = Field(description="The deployment's page in Slipway (path, or absolute URL)")
    requested_by: str
    approved_by: str | None = None
    error: str = Field("", description="AWS's error text for failed and rolled_back")


class EventService(BaseModel):
    slug: str
    kind: str
    team: str = Field(description="The owner team's slug")


class EventEnvironment(BaseModel):
    slug: str
    aws_account_id: str
    region: str


class DeploymentEventV1(BaseModel):
    """One deployment state change, as published to SNS (version 1 of the schema).

    Consumers order events of one deployment by `sequence` and drop repeats by `id`: SNS
    standard topics deliver at least once and do not promise order across retries.
    """

    schema_: Literal["slipway.deployment-event/1"] = Field(SCHEMA, alias="schema")
    id: str = Field(description="Unique per event; the same on a redelivery")
    type: EventType
    sequence: int = Field(description="1, 2, 3… within one deployment, in order of the changes")
    occurred_at: datetime
    deployment: EventDeployment
    service: EventService
    environment: EventEnvironment

    model_config = {"populate_by_name": True}


def json_schema() -> dict:
    """The published JSON Schema (docs/deployment-events.schema.json is generated from it)."""
    return DeploymentEventV1.model_json_schema(by_alias=True)


# --- recording -----------------------------------------------------------------------------------
def _payload(deployment: Deployment, type_: str, sequence: int, event_id: str) -> dict:
    instance = deployment.instance
    service = instance.service
    environment = instance.environment
    event = DeploymentEventV1(
        id=event_id,
        type=type_,  # type: ignore[arg-type]
        sequence=sequence,
        occurred_at=timezone.now(),
        deployment=EventDeployment(
            id=deployment.pk,
            action=deployment.action,
            status=deployment.status,
            url=deployment.get_absolute_url(),
            requested_by=deployment.requested_by.get_username(),
            approved_by=deployment.approved_by.get_username() if deployment.approved_by else None,
            error=deployment.error,
        ),
        service=EventService(slug=service.slug, kind=service.kind, team=service.owner.slug),
        environment=EventEnvironment(
            slug=environment.slug,
            aws_account_id=environment.aws_account_id,
            region=environment.region,
        ),
    )
    return event.model_dump(mode="json", by_alias=True)


def deployment_event_record(
    *, deployment_id: int, type: str, deployment: Deployment | None = None, first: bool = False
) -> DeploymentEvent | None:
    """Record one state change of a deployment and publish it after commit.

    `deployment`, when the caller holds the row as it just wrote it (its instance, service and
    environment loaded), saves reading it again. `first`: the deployment was inserted in the
    caller's still open transaction, so it has no event yet and nobody else can record one:
    this is sequence 1, written without looking or a savepoint. Safe to call twice for the same
    change (a retried task): the second call records nothing. Never raises for an event that
    was already recorded, so it cannot fail a transition.
    """
    if deployment is None:
        deployment = (
            Deployment.objects.select_related(
                "instance__service__owner", "instance__environment", "requested_by", "approved_by"
            )
            .filter(pk=deployment_id)
            .first()
        )
    if deployment is None:
        return None
    if first:
        event = DeploymentEvent.objects.create(
            deployment_id=deployment_id,
            sequence=1,
            type=type,
            payload=_payload(deployment, type, 1, str(uuid.uuid4())),
        )
        _publish_after_commit(deployment_id)
        return event
    # One read: the last sequence number, whether this change is recorded, whether any is.
    seen = DeploymentEvent.objects.filter(deployment_id=deployment_id).aggregate(
        last=Max("sequence"), recorded=Count("pk", filter=Q(type=type)), any=Count("pk")
    )
    if seen["recorded"]:
        return None
    if type == "deployment.cancelled" and not seen["any"]:
        return None  # a plan discarded before it was ever requested: nothing was announced
    last = seen["last"]
    for attempt in range(3):
        if attempt:
            last = DeploymentEvent.objects.filter(deployment_id=deployment_id).aggregate(
                n=Max("sequence")
            )["n"]
        sequence = (last or 0) + 1
        event_id = str(uuid.uuid4())
        try:
            with savepoint_if_in_transaction():
                event = DeploymentEvent.objects.create(
                    deployment_id=deployment_id,
                    sequence=sequence,
                    type=type,
                    payload=_payload(deployment, type, sequence, event_id),
                )
        except IntegrityError:
            if DeploymentEvent.objects.filter(deployment_id=deployment_id, type=type).exists():
                return None  # recorded meanwhile by a duplicate of this call
            continue  # another change took this sequence number: take the next one
        _publish_after_commit(deployment_id)
        return event
    log.error("Could not record %s for deployment %s", type, deployment_id)
    return None


def _publish_after_commit(deployment_id: int) -> None:
    from deployments.tasks import publish_deployment_events

    transaction.on_commit(lambda: publish_deployment_events.delay(deployment_id))


# --- publishing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishResult:
    published: int = 0
    retry_in: float | None = None  # seconds until the task should try again, if it should


# This process's copy of the topics it knows (key → (ARN, until)): no cache read per event.
_topics: dict[str, tuple[str, float]] = {}


def _topic_key(environment) -> str:
    name = names.deployment_events_topic(environment.slug)
    return f"slipway:events-topic:{environment.aws_account_id}:{environment.region}:{name}"


def _topic_arn(environment) -> str:
    """Create the environment's topic once (CreateTopic is idempotent), remember it an hour
    (in the shared cache, and in this process)."""
    name = names.deployment_events_topic(environment.slug)
    key = _topic_key(environment)
    known = _topics.get(key)
    if known and known[1] > time.monotonic():
        return known[0]
    arn = cache.get(key)
    if arn:
        _topics[key] = (arn, time.monotonic() + TOPIC_CACHE_SECONDS)
        return arn
    sns = aws_client("sns", environment=environment, actor="slipway-events")
    arn = sns.create_topic(
        Name=name,
        Tags=[
            {"Key": "slipway:environment", "Value": environment.slug},
            {"Key": "managed-by", "Value": "slipway"},
        ],
    )["TopicArn"]
    cache.set(key, arn, TOPIC_CACHE_SECONDS)
    _topics[key] = (arn, time.monotonic() + TOPIC_CACHE_SECONDS)
    return arn


def _forget_topic(environment) -> None:
    key = _topic_key(environment)
    _topics.pop(key, None)
    cache.delete(key)


def _claim(event: DeploymentEvent) -> bool:
    now = timezone.now()
    return bool(
        DeploymentEvent.objects.filter(pk=event.pk, status=DeploymentEvent.Status.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    )


def _attributes(payload: dict) -> dict:
    """Message attributes, so subscriptions can filter (e.g. only prod, only failures)."""
    values = {
        "type": payload["type"],
        "service": payload["service"]["slug"],
        "team": payload["service"]["team"],
        "kind": payload["service"]["kind"],
        "environment": payload["environment"]["slug"],
    }
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def deployment_events_publish(*, deployment_id: int) -> PublishResult:
    """Publish the deployment's pending events in order (see the module docstring)."""
    published = 0
    pending = DeploymentEvent.objects.filter(
        deployment_id=deployment_id, status=DeploymentEvent.Status.PENDING
    ).select_related("deployment__instance__environment")
    for event in pending.order_by("sequence"):
        if not _claim(event):
            return PublishResult(published)  # another publisher holds it; it goes on in order
        environment = event.deployment.instance.environment
        try:
            try:
                topic = _topic_arn(environment)
                response = _publish(environment, topic, event.payload)
            except Exception as exc:
                if not is_not_found(exc):
                    raise
                _forget_topic(environment)  # deleted behind our back: create it again
                response = _publish(environment, _topic_arn(environment), event.payload)
        except Exception as exc:  # noqa: BLE001 — any failure is recorded on the row, never raised
            return _failed(event, exc, published)
        DeploymentEvent.objects.filter(pk=event.pk).update(
            status=DeploymentEvent.Status.PUBLISHED,
            message_id=response.get("MessageId", ""),
            published_at=timezone.now(),
            claimed_until=None,
            error="",
        )
        published += 1
    return PublishResult(published)


def _publish(environment, topic: str, payload: dict) -> dict:
    sns = aws_client("sns", environment=environment, actor="slipway-events")
    return sns.publish(
        TopicArn=topic,
        Message=json.dumps(payload, sort_keys=True),
        MessageAttributes=_attributes(payload),
    )


def _failed(event: DeploymentEvent, exc: Exception, published: int) -> PublishResult:
    attempts = event.attempts + 1  # the claim counted this attempt
    message = error_message(exc)
    log.warning("Publishing %s failed (attempt %s): %s", event, attempts, message)
    if attempts >= MAX_ATTEMPTS:
        DeploymentEvent.objects.filter(pk=event.pk).update(
            status=DeploymentEvent.Status.FAILED, error=message, claimed_until=None
        )
        # Later events still go out: a failed one is visible, it must not block the rest.
        return PublishResult(published, retry_in=0)
    DeploymentEvent.objects.filter(pk=event.pk).update(error=message, claimed_until=None)
    return PublishResult(published, retry_in=min(2**attempts, 300))


def deployment_events_stale() -> list[int]:
    """Beat: deployments with events still pending after a minute (their message was lost)."""
    cutoff = timezone.now() - timedelta(seconds=settings.DEPLOYMENT_EVENTS_SWEEP_AFTER_SECONDS)
    return sorted(
        set(
            DeploymentEvent.objects.filter(
                status=DeploymentEvent.Status.PENDING, created_at__lt=cutoff
            )
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=timezone.now()))
            .values_list("deployment_id", flat=True)
        )
    )
