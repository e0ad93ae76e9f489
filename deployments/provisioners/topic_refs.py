"""Topics named across services: "<service>/<topic>" resolved in one environment.

A topic belongs to an SNS-kind service; another service's queue (SNS kind) or Lambda function
(Lambda kind, its `topics` field) subscribes to it by that name. Resolution reads the catalog
(the owning service's applied spec in the environment), so a plan can say plainly when a topic is
not deployed there, and a topic with subscribers elsewhere is not deleted from under them.
"""

from __future__ import annotations

from catalog.models import Service, ServiceInstance
from deployments import names


def arn_of(environment, service: str, topic: str) -> str:
    return names.sns_topic_arn(
        region=environment.region,
        account_id=environment.aws_account_id,
        name=names.sns_topic(service, environment.slug, topic),
    )


def arn_for_ref(environment, ref: str) -> str:
    service, _, topic = ref.partition("/")
    return arn_of(environment, service, topic)


def resolve(environment, refs: list[str], own: tuple[str, list[str]] = ("", [])) -> dict[str, str]:
    """ref → topic ARN, or "" when no SNS service deploys that topic in `environment`.

    `own` is (service, topics it is about to own): its new topics count as deployed, so a
    service may subscribe its queue to its own topic in the same plan.
    """
    if not refs:  # most specs name no topic: no query to build
        return {}
    services = {ref.partition("/")[0] for ref in refs}
    deployed: set[str] = set()
    for instance in ServiceInstance.objects.filter(
        environment=environment,
        service__slug__in=services,
        service__kind=Service.Kind.SNS,
        applied_spec__isnull=False,
    ).select_related("service"):
        for topic in (instance.applied_spec or {}).get("topics") or []:
            deployed.add(f"{instance.service.slug}/{topic['name']}")
    deployed |= {f"{own[0]}/{t}" for t in own[1]}
    return {ref: arn_for_ref(environment, ref) if ref in deployed else "" for ref in refs}


def refs_of(spec: dict | None) -> list[str]:
    """The topics a spec subscribes to (an SNS service's queues, a Lambda's topics)."""
    spec = spec or {}
    items = (spec.get("queues") or []) + (
        spec.get("topics") if spec.get("kind") == "lambda" else []
    )
    return [i["topic"] for i in items or [] if isinstance(i, dict) and i.get("topic")]


def subscribers(environment, ref: str) -> list[str]:
    """Services other than the topic's owner whose deployed spec in `environment` subscribes
    to `ref` (they follow the catalog's dependencies, kept in step on every deployment)."""
    owner = ref.partition("/")[0]
    found = []
    for instance in (
        ServiceInstance.objects.filter(
            environment=environment,
            service__depends_on__slug=owner,
            applied_spec__isnull=False,
        )
        .exclude(service__slug=owner)
        .select_related("service")
    ):
        if ref in refs_of(instance.applied_spec):
            found.append(instance.service.slug)
    return sorted(found)
