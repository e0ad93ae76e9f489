"""Typed specs, one per resource kind: the single definition of what a valid spec is.

The web forms build a spec and validate it here, the JSON API takes these models as its typed
request bodies, and the provisioners parse what they are given through `parse_spec`. Rows keep
specs as JSON dicts (`Spec.to_json()`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from deployments.specs.apigateway import ApiGatewayInput, ApiGatewaySpec
from deployments.specs.base import Spec, error_message, invalid, spec_errors
from deployments.specs.dynamodb import DynamoDbSpec
from deployments.specs.ecs import EcsSpec
from deployments.specs.lambda_ import LambdaInput, LambdaSpec
from deployments.specs.sns import SnsSpec
from deployments.specs.stepfunctions import StepFunctionsSpec

SPECS: dict[str, type[Spec]] = {
    "lambda": LambdaSpec,
    "ecs": EcsSpec,
    "apigateway": ApiGatewaySpec,
    "dynamodb": DynamoDbSpec,
    "stepfunctions": StepFunctionsSpec,
    "sns": SnsSpec,
}
# What a client sends to create a service of each kind (no server-made fields such as the
# stored zip's hash or the stage name).
INPUTS: dict[str, type[Spec]] = {
    "lambda": LambdaInput,
    "ecs": EcsSpec,
    "apigateway": ApiGatewayInput,
    "dynamodb": DynamoDbSpec,
    "stepfunctions": StepFunctionsSpec,
    "sns": SnsSpec,
}
AnySpec = Annotated[
    LambdaSpec | EcsSpec | ApiGatewaySpec | DynamoDbSpec | StepFunctionsSpec | SnsSpec,
    Field(discriminator="kind"),
]
_any_spec = TypeAdapter(AnySpec)

# Names only: the API and pages never show these keys' values (env vars and secret refs).
SECRET_VALUED_KEYS = ("environment", "secrets")


def parse_spec(data: dict) -> Spec:
    """The typed spec of a stored or submitted JSON dict; raises pydantic.ValidationError.

    A known kind is validated by its own model, so error locations are the spec's own fields.
    """
    kind = data.get("kind") if isinstance(data, dict) else None
    spec_class = SPECS.get(kind) if isinstance(kind, str) else None
    if spec_class is not None:
        return spec_class.model_validate(data)
    return _any_spec.validate_python(data)


class InvalidSpec(ValueError):
    """A spec a provisioner was given that its kind's typed spec refuses (message for people)."""


def checked_spec(data: dict) -> Spec:
    """`parse_spec` for a provisioner's input: a refusal is an InvalidSpec naming each field."""
    from pydantic import ValidationError

    try:
        return parse_spec(data)
    except ValidationError as exc:
        parts = [
            f"{'.'.join(map(str, loc))}: {message}" if loc else message
            for loc, message in spec_errors(exc.errors())
        ]
        raise InvalidSpec("; ".join(parts)) from None


def context_errors(spec: Spec, *, environment, name: str | None = None) -> list[tuple[str, str]]:
    """(field path, message) for rules that need the catalog or the environment: a new
    function's name length (`name` is the new service's slug), an ECS service's network, an
    API's route targets. The form and the API both ask here."""
    from deployments.specs import apigateway, ecs, lambda_

    if isinstance(spec, LambdaSpec):
        return lambda_.environment_errors(spec, environment=environment, name=name)
    if isinstance(spec, EcsSpec):
        return ecs.environment_errors(spec, environment)
    if isinstance(spec, ApiGatewaySpec):
        routes = [route.model_dump() for route in spec.routes]
        return [
            (f"routes.{index}.target", message)
            for index, message in apigateway.target_errors(routes, environment)
        ] + apigateway.auth_errors(spec, environment)
    return []


def redacted(spec: dict | None) -> dict | None:
    """A spec safe to show any reader: environment variables and secrets by name only."""
    if not spec:
        return spec
    out = dict(spec)
    for key in SECRET_VALUED_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = sorted(out[key])
    return out


__all__ = [
    "INPUTS",
    "SPECS",
    "AnySpec",
    "InvalidSpec",
    "checked_spec",
    "context_errors",
    "Spec",
    "error_message",
    "invalid",
    "parse_spec",
    "redacted",
    "spec_errors",
]
