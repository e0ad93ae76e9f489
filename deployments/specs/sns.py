"""The SNS spec: topics a service owns, and SQS queues it owns that subscribe to topics (its own
or another service's), each subscription with an optional filter policy.

Stored shape: kind, topics [{name}], queues [{name, topic, filter_policy, raw_delivery}].
A topic is referred to as "<service>/<topic>" (the owning Slipway service and the topic's name);
it is resolved in the environment being deployed. Lambda services subscribe their own function
through the Lambda spec's `topics` field (`TopicSubscription`, defined here too).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deployments.specs.base import Spec, invalid

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
TOPIC_REF_RE = re.compile(r"^([a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)/([A-Za-z0-9_-]{1,200})$")
MAX_FILTER_BYTES = 256 * 1024  # AWS's limit for a filter policy
MAX_FILTER_DEPTH = 5  # AWS allows five levels of nesting in a filter policy


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_FILTER_DEPTH + 1:
                return deepest
            stack.extend((v, depth + 1) for v in item.values())
    return deepest


def check_filter_policy(policy: dict | None) -> dict | None:
    """An SNS filter policy: an object of attribute → list of values or conditions."""
    if policy is None:
        return None
    if not policy:
        raise invalid("A filter policy names at least one attribute (or leave it empty).")
    if _depth(policy) > MAX_FILTER_DEPTH:
        raise invalid(f"A filter policy nests at most {MAX_FILTER_DEPTH} levels.")
    if len(json.dumps(policy)) > MAX_FILTER_BYTES:
        raise invalid("The filter policy is larger than AWS's 256 KB limit.")
    for key, value in policy.items():
        if not isinstance(value, list | dict):
            raise invalid(
                f'{key}: give a list of values to match, e.g. {{"{key}": ["order.placed"]}}.'
            )
    return policy


def topic_ref(value: str) -> str:
    if not TOPIC_REF_RE.match(value):
        raise invalid("Name a topic as service/topic, e.g. orders/order-placed.")
    return value


class Topic(_Part):
    """A standard SNS topic (FIFO topics, which deliver only to FIFO queues, are not offered)."""

    name: str = Field(description="Topic name (letters, digits, - and _)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise invalid(f"{value!r}: topic names are 1–200 letters, digits, - or _.")
        return value


class TopicSubscription(_Part):
    """A subscription to a topic, named service/topic, with an optional filter policy."""

    topic: str = Field(description="service/topic, e.g. orders/order-placed")
    filter_policy: dict | None = Field(None, description="SNS filter policy (message attributes)")

    _topic = field_validator("topic")(classmethod(lambda cls, v: topic_ref(v)))
    _filter = field_validator("filter_policy")(classmethod(lambda cls, v: check_filter_policy(v)))


class Queue(TopicSubscription):
    """An SQS queue the service owns, subscribed to one topic."""

    name: str = Field(description="Queue name (letters, digits, - and _)")
    raw_delivery: bool = Field(True, description="Deliver the message body as published")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value) or len(value) > 80:
            raise invalid(f"{value!r}: queue names are 1–80 letters, digits, - or _.")
        return value


def unique_subscriptions(items: list[TopicSubscription]) -> list:
    topics = [s.topic for s in items]
    if len(topics) != len(set(topics)):
        raise invalid("Subscribe to each topic once.")
    return items


class SnsSpec(Spec):
    """Topics (and subscribed queues) owned by one service in one environment."""

    kind: Literal["sns"] = "sns"
    topics: list[Topic] = Field(default_factory=list, max_length=20)
    queues: list[Queue] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _rules(self) -> SnsSpec:
        if not self.topics and not self.queues:
            raise invalid("Name at least one topic or queue.", field="topics")
        names = [t.name for t in self.topics]
        if len(names) != len(set(names)):
            raise invalid("Topic names must be unique.", field="topics")
        queues = [q.name for q in self.queues]
        if len(queues) != len(set(queues)):
            raise invalid("Queue names must be unique.", field="queues")
        return self
