"""The provisioners, one object per resource kind, each implementing `base.Provisioner`: a
kind's module of functions (`base.KindFunctions`) behind the one `base.ModuleProvisioner`."""

from typing import Any

from deployments.provisioners import apigateway, dynamodb, ecs, lambda_, sns, stepfunctions
from deployments.provisioners.base import ModuleProvisioner, Provisioner

PROVISIONERS: dict[str, Provisioner[Any]] = {
    p.kind: p
    for p in (
        ModuleProvisioner("lambda", lambda_),
        ModuleProvisioner("apigateway", apigateway),
        ModuleProvisioner("ecs", ecs),
        ModuleProvisioner("dynamodb", dynamodb),
        ModuleProvisioner("stepfunctions", stepfunctions),
        ModuleProvisioner("sns", sns),
    )
}


def for_kind(kind: str) -> Provisioner[Any]:
    try:
        return PROVISIONERS[kind]
    except KeyError:
        raise ValueError(f"Slipway cannot provision services of kind {kind!r} yet") from None
