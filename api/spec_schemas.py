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

from functools import reduce
from operator import or_
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, create_model

from deployments.specs import INPUTS

# Set by Slipway rather than the caller, on every kind.
SERVER_FIELDS = {"kind", "code_sha256"}


class _Changes(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _label(kind: str) -> str:
    return INPUTS[kind].__name__.removesuffix("Input").removesuffix("Spec")


def _changes_model(kind: str, suffix: str, fields: tuple[str, ...] | None) -> type[BaseModel]:
    """A model of the kind's input fields, each optional (omitted = keep the applied value)."""
    source = INPUTS[kind]
    left_out = SERVER_FIELDS | set(source.fixed_fields)
    definitions: dict[str, Any] = {"kind": (Literal[kind], Field(..., description="The kind."))}
    for field, info in source.model_fields.items():
        if field in left_out or (fields is not None and field not in fields):
            continue
        annotation = info.annotation
        if info.metadata:  # keep the limits (ge, le, max_length) in the documented schema
            annotation = Annotated[annotation, *info.metadata]
        definitions[field] = (annotation | None, Field(None, description=info.description))
    model = create_model(f"{_label(kind)}{suffix}", __base__=_Changes, **definitions)
    model.__doc__ = f"{'Scaling fields' if fields else 'Fields'} of a {kind} service to change."
    return model


def _union(models: list[type[BaseModel]]):
    """One of `models`, picked by their `kind`."""
    return Annotated[reduce(or_, models), Field(discriminator="kind")]


KINDS = tuple(INPUTS)
LaunchSpec = _union([INPUTS[k] for k in KINDS])
UpdateSpec = _union([_changes_model(k, "Changes", None) for k in KINDS])
ScaleSpec = _union([_changes_model(k, "Scale", INPUTS[k].scale_fields) for k in KINDS])


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
