"""SNS topics a service owns, and its SQS queues subscribed to topics (its own or other services').

Spec: `deployments.specs.sns.SnsSpec`. AWS names are `<service>-<environment>-<name>` for both
topics and queues (deployments.names). A queue's subscription carries its filter policy and raw
delivery setting; its queue policy lets exactly that topic send to it.

Observe looks at what the spec wants and what the applied spec had, so a topic or queue dropped
from the spec is deleted. A topic other services subscribe to is not deleted: the plan is refused
with their names. SNS and SQS changes take effect at once, so `wait` has nothing to wait for.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

from botocore.exceptions import ClientError

from deployments import names
from deployments.errors import PlanFailed
from deployments.provisioners import topic_refs
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    Recorded,
    WaitResult,
    is_recorded,
)
from deployments.specs.sns import SnsSpec
from portal.aws import aws_client, error_code, is_not_found


class TopicState(TypedDict):
    """One of the service's topics, as observed."""

    arn: str
    exists: bool
    subscribers: list[str]  # other services subscribed to it (topic_refs.subscribers)


class QueueSubscription(TypedDict):
    arn: str
    topic: str  # "<service>/<topic>"
    filter_policy: dict[str, Any] | None
    raw_delivery: bool


class QueueState(TypedDict):
    """One of the service's queues, as observed: only `aws_name` when it does not exist."""

    aws_name: str
    url: NotRequired[str]
    arn: NotRequired[str]
    policy: NotRequired[dict[str, Any] | None]
    subscription: NotRequired[QueueSubscription]


class SnsValues(TypedDict):
    """An SNS service's observation (`Observed.values`)."""

    topics: dict[str, TopicState]  # by name: the spec's and the applied spec's
    queues: dict[str, QueueState]  # likewise
    topic_arns: dict[str, str]  # each ref the spec's queues subscribe to → ARN ("" if none)
    environment: str


def _client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


def _spec_parts(spec: dict | None) -> tuple[list[str], dict[str, dict]]:
    spec = spec or {}
    topics = [t["name"] for t in spec.get("topics") or []]
    queues = {q["name"]: q for q in spec.get("queues") or []}
    return topics, queues


def queue_policy(queue_arn: str, topic_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "slipway-sns",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }


# --- observe -------------------------------------------------------------------------------------
def observe(ctx: Context) -> Observed[SnsValues]:
    service, env = ctx.service.slug, ctx.environment.slug
    want_topics, want_queues = _spec_parts(ctx.spec)
    had_topics, had_queues = _spec_parts(ctx.instance.applied_spec)
    sns, sqs = _client(ctx, "sns"), _client(ctx, "sqs")
    topics: dict[str, TopicState] = {}
    for name in dict.fromkeys(want_topics + had_topics):
        arn = topic_refs.arn_of(ctx.environment, service, name)
        try:
            sns.get_topic_attributes(TopicArn=arn)
            exists = True
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            exists = False
        topics[name] = {
            "arn": arn,
            "exists": exists,
            "subscribers": topic_refs.subscribers(ctx.environment, f"{service}/{name}"),
        }
    queues: dict[str, QueueState] = {}
    for name in dict.fromkeys([*want_queues, *had_queues]):
        queues[name] = _observe_queue(
            ctx,
            sns,
            sqs,
            names.sqs_queue(service, env, name),
            (want_queues.get(name) or had_queues[name])["topic"],
        )
    wanted_refs = [q["topic"] for q in want_queues.values()]
    values: SnsValues = {
        "topics": topics,
        "queues": queues,
        "topic_arns": topic_refs.resolve(ctx.environment, wanted_refs, own=(service, want_topics)),
        "environment": env,
    }
    return Observed(
        exists=any(t["exists"] for t in topics.values())
        or any(q.get("arn") for q in queues.values()),
        values=values,
    )


def _observe_queue(ctx, sns, sqs, aws_name: str, ref: str) -> QueueState:
    try:
        url = sqs.get_queue_url(QueueName=aws_name)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        return {"aws_name": aws_name}
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "Policy"])[
        "Attributes"
    ]
    found: QueueState = {
        "aws_name": aws_name,
        "url": url,
        "arn": attributes["QueueArn"],
        "policy": json.loads(attributes["Policy"]) if attributes.get("Policy") else None,
    }
    topic_arn = topic_refs.arn_for_ref(ctx.environment, ref)
    try:
        paginator = sns.get_paginator("list_subscriptions_by_topic")
        for page in paginator.paginate(TopicArn=topic_arn):
            for sub in page.get("Subscriptions", []):
                if sub["Endpoint"] == found["arn"] and sub["SubscriptionArn"].startswith("arn:"):
                    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
                    attrs = attrs["Attributes"]
                    found["subscription"] = {
                        "arn": sub["SubscriptionArn"],
                        "topic": ref,
                        "filter_policy": json.loads(attrs["FilterPolicy"])
                        if attrs.get("FilterPolicy")
                        else None,
                        "raw_delivery": attrs.get("RawMessageDelivery", "false") == "true",
                    }
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    return found


# --- plan ----------------------------------------------------------------------------------------
def plan(spec: dict, observed: Observed[SnsValues]) -> list[Change]:
    want = SnsSpec.model_validate(spec)
    values = observed.values
    changes: list[Change] = []
    wanted_topics = {t.name for t in want.topics}
    for name in sorted(wanted_topics):
        if not values["topics"][name]["exists"]:
            changes.append(Change(f"topic.create:{name}", f"Create SNS topic {name}"))
    missing = [ref for ref, arn in values["topic_arns"].items() if not arn]
    if missing:
        raise PlanFailed(
            f"{', '.join(missing)} is not a topic deployed in {values['environment']}; name it "
            "as service/topic, and deploy that service's topic first."
        )
    for queue in want.queues:
        changes += _plan_queue(queue, values["queues"][queue.name], values["topic_arns"])
    changes += _plan_removals(want, values)
    return changes


def _plan_queue(queue, have: QueueState, topic_arns: dict[str, str]) -> list[Change]:
    changes = []
    if not have.get("arn"):
        changes.append(Change(f"queue.create:{queue.name}", f"Create SQS queue {queue.name}"))
    topic_arn = topic_arns[queue.topic]
    if not have.get("arn") or have.get("policy") != queue_policy(have["arn"], topic_arn):
        changes.append(
            Change(
                f"queue.policy:{queue.name}",
                f"Let topic {queue.topic} send to queue {queue.name}",
            )
        )
    sub = have.get("subscription")
    wanted = (queue.topic, queue.filter_policy, queue.raw_delivery)
    if not sub or (sub["topic"], sub["filter_policy"], sub["raw_delivery"]) != wanted:
        details = [
            f"filter policy: {json.dumps(queue.filter_policy, sort_keys=True)}"
            if queue.filter_policy
            else "no filter policy"
        ]
        if queue.raw_delivery:
            details.append("raw message delivery")
        verb = "Subscribe" if not sub else "Update the subscription of"
        changes.append(
            Change(
                f"queue.subscribe:{queue.name}",
                f"{verb} queue {queue.name} to {queue.topic}",
                tuple(details),
            )
        )
    return changes


def _plan_removals(want: SnsSpec, values: SnsValues) -> list[Change]:
    changes = []
    keep_queues = {q.name for q in want.queues}
    for name, have in values["queues"].items():
        if name not in keep_queues and have.get("arn"):
            changes.append(Change(f"queue.delete:{name}", f"Delete SQS queue {name}"))
    keep_topics = {t.name for t in want.topics}
    for name, topic in values["topics"].items():
        if name in keep_topics or not topic["exists"]:
            continue
        _refuse_if_subscribed(name, topic)
        changes.append(Change(f"topic.delete:{name}", f"Delete SNS topic {name}"))
    return changes


def _refuse_if_subscribed(name: str, have: TopicState) -> None:
    users = have["subscribers"]
    if users:
        verb = "subscribes" if len(users) == 1 else "subscribe"
        raise PlanFailed(
            f"{', '.join(users)} {verb} to topic {name}: remove their subscriptions first."
        )


# --- apply ---------------------------------------------------------------------------------------
def _tags(ctx: Context) -> list[dict]:
    return [
        {"Key": k, "Value": v}
        for k, v in names.tags(
            service_slug=ctx.service.slug,
            environment_slug=ctx.environment.slug,
            team_slug=ctx.service.owner.slug,
        ).items()
    ]


def apply(ctx: Context, change: Change) -> str:
    action, _, name = change.key.partition(":")
    service, env = ctx.service.slug, ctx.environment.slug
    sns, sqs = _client(ctx, "sns"), _client(ctx, "sqs")
    if action == "topic.create":
        arn = sns.create_topic(Name=names.sns_topic(service, env, name), Tags=_tags(ctx))[
            "TopicArn"
        ]
        ctx.record_resource(f"topic:{name}", arn)
        return arn
    if action == "topic.delete":
        sns.delete_topic(TopicArn=topic_refs.arn_of(ctx.environment, service, name))
        return f"topic {name} deleted"
    aws_name = names.sqs_queue(service, env, name)
    if action == "queue.create":
        url = sqs.create_queue(QueueName=aws_name, tags={t["Key"]: t["Value"] for t in _tags(ctx)})[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        ctx.record_resource(f"queue:{name}", arn)
        return arn
    if action == "queue.delete":
        return _delete_queue(ctx, sns, sqs, aws_name, name)
    queue = next(q for q in SnsSpec.model_validate(ctx.spec).queues if q.name == name)
    topic_arn = topic_refs.arn_for_ref(ctx.environment, queue.topic)
    url = sqs.get_queue_url(QueueName=aws_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if action == "queue.policy":
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(queue_policy(queue_arn, topic_arn))}
        )
        return f"{queue.topic} may send to {name}"
    if action == "queue.subscribe":
        return _subscribe(sns, topic_arn, queue_arn, queue)
    raise ValueError(f"Unknown SNS change {change.key!r}")


def _subscribe(sns, topic_arn: str, queue_arn: str, queue) -> str:
    attributes = {"RawMessageDelivery": "true" if queue.raw_delivery else "false"}
    if queue.filter_policy:
        attributes["FilterPolicy"] = json.dumps(queue.filter_policy)
    # Subscribe is idempotent for the same endpoint and attributes; existing subscriptions of
    # this queue to other topics (a changed `topic`) are removed first.
    for page in sns.get_paginator("list_subscriptions").paginate():
        for sub in page.get("Subscriptions", []):
            if sub["Endpoint"] == queue_arn and sub["TopicArn"] != topic_arn:
                sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    arn = sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    for key in ("RawMessageDelivery", "FilterPolicy"):
        if key in attributes:
            sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName=key, AttributeValue=attributes[key]
            )
    if "FilterPolicy" not in attributes:
        current = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        if current.get("FilterPolicy"):
            sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue="{}"
            )
    return f"subscribed {arn}"


def _delete_queue(ctx, sns, sqs, aws_name: str, name: str) -> str:
    try:
        url = sqs.get_queue_url(QueueName=aws_name)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return f"queue {name} already gone"
        raise
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for page in sns.get_paginator("list_subscriptions").paginate():
        for sub in page.get("Subscriptions", []):
            if sub["Endpoint"] == arn:
                sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    sqs.delete_queue(QueueUrl=url)
    return f"queue {name} deleted"


# --- wait, delete, ownership ---------------------------------------------------------------------
def wait(ctx: Context) -> WaitResult:
    return WaitResult(done=True, detail="SNS and SQS apply changes at once")


def plan_delete(observed: Observed[SnsValues]) -> list[Change]:
    values = observed.values
    changes = [
        Change(f"queue.delete:{name}", f"Delete SQS queue {name}")
        for name, have in values["queues"].items()
        if have.get("arn")
    ]
    for name, have in values["topics"].items():
        if have["exists"]:
            _refuse_if_subscribed(name, have)
            changes.append(Change(f"topic.delete:{name}", f"Delete SNS topic {name}"))
    return changes


def wait_deleted(ctx: Context) -> WaitResult:
    return WaitResult(done=True, detail="SNS and SQS delete at once")


LABELS = {"topic": "SNS topic", "queue": "SQS queue"}


def owned_resources(observed: Observed[SnsValues] | Observed[Recorded]) -> list[OwnedResource]:
    """Its topics and queues that exist, by role "topic:<name>" / "queue:<name>". `observed` is
    an observation, or (the catalog pages, `deployments.selectors`) the recorded resources
    themselves, role → ARN, which have no "topics" or "queues"."""
    values = observed.values
    if is_recorded(values):
        return [
            OwnedResource(role=role, arn=arn, label=f"{LABELS[kind]} {name}")
            for role, arn in values.items()
            for kind, _, name in [role.partition(":")]
            if kind in LABELS and name and arn
        ]
    owned = [
        OwnedResource(role=f"topic:{name}", arn=have["arn"], label=f"SNS topic {name}")
        for name, have in values["topics"].items()
        if have["exists"]
    ]
    owned += [
        OwnedResource(role=f"queue:{name}", arn=arn, label=f"SQS queue {name}")
        for name, have in values["queues"].items()
        if (arn := have.get("arn"))
    ]
    return owned


def scale_values(spec: dict) -> dict[str, int | None]:
    return {}
