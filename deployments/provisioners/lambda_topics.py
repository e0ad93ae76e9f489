"""A Lambda function's subscriptions to SNS topics (the Lambda spec's `topics` field).

Each subscription points the topic at the function's `live` alias, with an optional filter
policy, and adds the resource-policy permission that lets exactly that topic invoke it. Topics
are named "<service>/<topic>" and resolved in the environment being deployed.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from deployments import names
from deployments.errors import PlanFailed
from deployments.provisioners import lambda_steps as steps
from deployments.provisioners import lambda_triggers as triggers
from deployments.provisioners import topic_refs
from deployments.provisioners.base import Change, Context
from portal.aws import is_not_found

PREFIX = "topic."


def _wanted(spec: dict | None) -> dict[str, dict | None]:
    return {t["topic"]: t.get("filter_policy") for t in (spec or {}).get("topics") or []}


def observe(ctx: Context, values: dict, alias_arn: str, statements: list[dict]) -> None:
    wanted, had = _wanted(ctx.spec), _wanted(ctx.instance.applied_spec)
    values["topic_arns"] = topic_refs.resolve(ctx.environment, list(wanted))
    values["wanted_topics"] = wanted
    found = {}
    if alias_arn and (wanted or had):
        sns = steps.client(ctx, "sns")
        sids = {s.get("Sid") for s in statements}
        for ref in dict.fromkeys([*wanted, *had]):
            topic_arn = topic_refs.arn_for_ref(ctx.environment, ref)
            found[ref] = {
                "subscription": _subscription(sns, topic_arn, alias_arn),
                "permission": names.lambda_permission_sid("sns", topic_arn) in sids,
            }
    values["topic_subscriptions"] = found


def _subscription(sns, topic_arn: str, endpoint: str) -> dict | None:
    try:
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for sub in page.get("Subscriptions", []):
                if sub["Endpoint"] == endpoint and sub["SubscriptionArn"].startswith("arn:"):
                    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])[
                        "Attributes"
                    ]
                    policy = attrs.get("FilterPolicy")
                    return {
                        "arn": sub["SubscriptionArn"],
                        "filter_policy": json.loads(policy) if policy else None,
                    }
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    return None


def plan(values: dict) -> list[Change]:
    missing = [ref for ref, arn in values.get("topic_arns", {}).items() if not arn]
    if missing:
        raise PlanFailed(
            f"{', '.join(missing)} is not a topic deployed here; name it as service/topic, and "
            "deploy that service's topic first."
        )
    changes = []
    found = values.get("topic_subscriptions", {})
    for ref, policy in values.get("wanted_topics", {}).items():
        have = found.get(ref) or {}
        sub = have.get("subscription")
        if not have.get("permission") or not sub or sub["filter_policy"] != policy:
            detail = f"filter policy: {json.dumps(policy, sort_keys=True)}" if policy else ""
            changes.append(
                Change(
                    f"{PREFIX}subscribe:{ref}",
                    f"Subscribe the function to topic {ref}",
                    (detail,) if detail else (),
                )
            )
    for ref, have in found.items():
        if ref not in values.get("wanted_topics", {}) and have.get("subscription"):
            changes.append(
                Change(f"{PREFIX}unsubscribe:{ref}", f"Unsubscribe the function from {ref}")
            )
    return changes


def plan_delete(values: dict) -> list[Change]:
    return [
        Change(f"{PREFIX}unsubscribe:{ref}", f"Unsubscribe the function from {ref}")
        for ref, have in values.get("topic_subscriptions", {}).items()
        if have.get("subscription")
    ]


def apply(ctx: Context, key: str, function_name: str, alias_arn: str) -> str:
    action, _, ref = key.removeprefix(PREFIX).partition(":")
    topic_arn = topic_refs.arn_for_ref(ctx.environment, ref)
    sns, lam = steps.client(ctx, "sns"), steps.client(ctx, "lambda")
    sid = names.lambda_permission_sid("sns", topic_arn)
    if action == "unsubscribe":
        sub = _subscription(sns, topic_arn, alias_arn) if alias_arn else None
        if sub:
            sns.unsubscribe(SubscriptionArn=sub["arn"])
        triggers.remove_permission(lam, function_name, sid)
        return f"unsubscribed from {ref}"
    triggers.ensure_permission(
        lam, function_name, sid, principal="sns.amazonaws.com", source_arn=topic_arn
    )
    arn = sns.subscribe(
        TopicArn=topic_arn, Protocol="lambda", Endpoint=alias_arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    policy = _wanted(ctx.spec).get(ref)
    sns.set_subscription_attributes(
        SubscriptionArn=arn,
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps(policy) if policy else "{}",
    )
    return f"{ref} → {alias_arn}"
