"""Typed request bodies of the deploy endpoints, one shape per kind (a union on `kind`).

They are the kinds' own specs (deployments.specs), so the OpenAPI schema documents every field
of every kind with its limits, and a request is checked by the same rules as the web form:
- launch: the kind's input model (a Lambda's code as `source` or `code_s3`; an API's stage is
  the environment);
- update: any of the kind's fields; the others keep their applied values, and the merged spec
  is validated as a whole;
- scale: only the kind's scaling fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, create_model

from deployments.specs import INPUTS
from deployments.specs.apigateway import SCALE_FIELDS as APIGATEWAY_SCALE
from deployments.specs.ecs import SCALE_FIELDS as ECS_SCALE
from deployments.specs.lambda_ import SCALE_FIELDS as LAMBDA_SCALE

SCALE_FIELDS = {"lambda": LAMBDA_SCALE, "ecs": ECS_SCALE, "apigateway": APIGATEWAY_SCALE}
# Fields fixed once a service exists, or set by Slipway rather than the caller.
NOT_UPDATABLE = {"kind", "api_type", "stage", "code_sha256"}
LABELS = {"lambda": "Lambda", "ecs": "Ecs", "apigateway": "ApiGateway"}


class _Changes(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _changes_model(kind: str, name: str, fields: tuple[str, ...] | None) -> type[BaseModel]:
    """A model of the kind's input fields, each optional (omitted = keep the applied value)."""
    source = INPUTS[kind]
    definitions: dict[str, Any] = {"kind": (Literal[kind], Field(..., description="The kind."))}
    for field, info in source.model_fields.items():
        if field in NOT_UPDATABLE or (fields is not None and field not in fields):
            continue
        annotation = (
            Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        )
        definitions[field] = (annotation | None, Field(None, description=info.description))
    model = create_model(name, __base__=_Changes, **definitions)
    model.__doc__ = f"{'Scaling fields' if fields else 'Fields'} of a {kind} service to change."
    return model


def _union(models: list[type[BaseModel]]):
    return Annotated[models[0] | models[1] | models[2], Field(discriminator="kind")]


KINDS = ("lambda", "ecs", "apigateway")
LaunchSpec = _union([INPUTS[k] for k in KINDS])
UpdateSpec = _union([_changes_model(k, f"{LABELS[k]}Changes", None) for k in KINDS])
ScaleSpec = _union([_changes_model(k, f"{LABELS[k]}Scale", SCALE_FIELDS[k]) for k in KINDS])


class LaunchIn(Schema):
    """A new service and its first deployment, with the kind's typed spec."""

    name: str = Field(..., max_length=40, description="Service slug.")
    owner: str = Field(..., max_length=50, description="Owner team slug.")
    environment: str = Field(..., max_length=50, description="Environment slug.")
    description: str = Field("", max_length=256)
    spec: LaunchSpec = Field(..., description="The kind's spec; `kind` picks the shape.")


class UpdateIn(Schema):
    spec: UpdateSpec = Field(
        ..., description="Spec fields to change (with the service's `kind`); others keep theirs."
    )


class ScaleIn(Schema):
    spec: ScaleSpec = Field(
        ..., description="Scaling fields to change (with the service's `kind`)."
    )
