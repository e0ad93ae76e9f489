"""The provisioners, one object per resource kind, each implementing `base.Provisioner`."""

from deployments.provisioners import apigateway, dynamodb, ecs, lambda_, sns, stepfunctions
from deployments.provisioners.base import Provisioner

PROVISIONERS: dict[str, Provisioner] = {
    p.kind: p
    for p in (
        lambda_.PROVISIONER,
        apigateway.PROVISIONER,
        ecs.PROVISIONER,
        dynamodb.PROVISIONER,
        stepfunctions.PROVISIONER,
        sns.PROVISIONER,
    )
}


def for_kind(kind: str) -> Provisioner:
    try:
        return PROVISIONERS[kind]
    except KeyError:
        raise ValueError(f"Slipway cannot provision services of kind {kind!r} yet") from None
