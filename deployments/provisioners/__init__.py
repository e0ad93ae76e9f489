"""One provisioner module per resource kind, all with the shape described in `base`."""

from types import ModuleType

from deployments.provisioners import apigateway, ecs, lambda_

PROVISIONERS: dict[str, ModuleType] = {"lambda": lambda_, "apigateway": apigateway, "ecs": ecs}


def for_kind(kind: str) -> ModuleType:
    try:
        return PROVISIONERS[kind]
    except KeyError:
        raise ValueError(f"Slipway cannot provision services of kind {kind!r} yet") from None
