"""Request and response shapes of the JSON API (they become the OpenAPI schema)."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import model_validator

from catalog.models import Service
from catalog.specs import MAX_DEPENDENCIES, MAX_DESCRIPTION, Tags
from deployments.specs import invalid, redacted


class Error(Schema):
    detail: str


class FormErrors(Schema):
    detail: str
    errors: dict[str, list[str]]


class TeamOut(Schema):
    slug: str
    name: str
    description: str


class EnvironmentOut(Schema):
    slug: str
    name: str
    region: str
    requires_approval: bool


class InstanceOut(Schema):
    environment: str = Field(..., alias="environment.slug")
    status: str
    resources: dict[str, str] = Field(
        description=(
            "The AWS resources this instance owns, role → ARN (as its kind's provisioner "
            "defines them). The environment's shared resources (Lambda execution role, ECS "
            "cluster, load balancer) are not the instance's and are not listed."
        )
    )
    applied_spec: dict[str, Any] | None = Field(
        None,
        description="The spec last applied. Environment variables and secrets are listed by "
        "name only: the API never returns their values.",
    )

    @staticmethod
    def resolve_applied_spec(obj) -> dict | None:
        return redacted(obj.applied_spec)

    @staticmethod
    def resolve_resources(obj) -> dict[str, str]:
        from deployments.selectors import owned_resources

        return {r.role: r.arn for r in owned_resources(instance=obj)}


class ServiceOut(Schema):
    slug: str
    name: str
    kind: str
    owner: str = Field(..., alias="owner.slug")
    lifecycle: str
    system: str
    description: str
    repo_url: str
    docs_url: str
    tags: list[Any]
    created_at: datetime


class ServiceDetailOut(ServiceOut):
    depends_on: list[str]
    instances: list[InstanceOut]

    @staticmethod
    def resolve_depends_on(obj) -> list[str]:
        return [s.slug for s in obj.depends_on.all()]

    @staticmethod
    def resolve_instances(obj):
        return list(obj.instances.all())


class ServiceIn(Schema):
    slug: str = Field(..., max_length=40)
    kind: Service.Kind = Field(..., description="Any resource kind the catalog knows.")
    owner: str = Field(..., max_length=50, description="Owner team slug.")
    name: str = Field("", max_length=100)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    lifecycle: Literal["experimental", "production", "deprecated"] = "experimental"
    tags: Tags = Field(default_factory=list)


class StepOut(Schema):
    name: str
    status: str
    message: str
    aws_request_id: str


class DeploymentOut(Schema):
    id: int
    service: str = Field(..., alias="instance.service.slug")
    environment: str = Field(..., alias="instance.environment.slug")
    action: str
    status: str
    plan: list[dict[str, Any]]
    requested_by: str = Field(..., alias="requested_by.username")
    error: str
    created_at: datetime
    finished_at: datetime | None


class DeploymentDetailOut(DeploymentOut):
    steps: list[StepOut]

    @staticmethod
    def resolve_steps(obj):
        return list(obj.steps.all())


class ServicePatch(Schema):
    """Catalog fields to change; omitted ones keep their values. The rules are those of the
    settings page (catalog/specs.py ServiceSettings), with the same messages."""

    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    lifecycle: Literal["experimental", "production", "deprecated"] | None = None
    system: str | None = Field(None, max_length=100)
    repo_url: str | None = Field(None, max_length=200, description="http(s) URL.")
    docs_url: str | None = Field(None, max_length=200, description="http(s) URL.")
    tags: Tags | None = None
    depends_on: list[str] | None = Field(
        None, max_length=MAX_DEPENDENCIES, description="Service slugs."
    )

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data):
        # ninja reads attributes off any value, so a JSON array would otherwise pass as "no
        # changes" (and be audited as one).
        if not isinstance(getattr(data, "_obj", data), dict):  # ninja wraps what it validates
            raise invalid("Send a JSON object of the fields to change.")
        return data


class MetricSummaryOut(Schema):
    label: str
    value: str
    state: str
    error: str
