"""The registry of resource kinds: for each, its provisioner and its forms.

Views, services and the API look a kind up here, so adding a kind is one entry (plus its
provisioner and form modules), not edits across the code base.

The form contract (Django forms, one module per kind under deployments/forms/):
- create_form(data=None, files=None, *, teams): fields name, owner, environment, description
  plus the spec fields; `.spec() -> dict`; optionally `.code() -> bytes | None` (packages).
- update_form(data=None, files=None, *, spec): every spec field, initial from the applied spec;
  `.spec() -> dict` is the complete new spec.
- scale_form(data=None, *, spec): only the scaling fields; `.spec()` is the complete spec with
  the new scaling values.
The provisioner implements `deployments.provisioners.base.Provisioner`; its
`scale_values(spec)` reports any of desired_count, min_count, max_count, reserved_concurrency,
provisioned_concurrency, rate_limit, burst_limit — the numbers the environment's guardrails check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployments import provisioners
from deployments.forms.apigateway import (
    ApiGatewayScaleForm,
    ApiGatewayServiceForm,
    ApiGatewayUpdateForm,
)
from deployments.forms.dynamodb import (
    DynamoDbScaleForm,
    DynamoDbServiceForm,
    DynamoDbUpdateForm,
)
from deployments.forms.ecs import EcsScaleForm, EcsServiceForm, EcsUpdateForm
from deployments.forms.lambda_ import LambdaScaleForm, LambdaServiceForm, LambdaUpdateForm
from deployments.forms.sns import SnsServiceForm, SnsUpdateForm
from deployments.forms.stepfunctions import StepFunctionsServiceForm, StepFunctionsUpdateForm
from deployments.provisioners.base import Provisioner


@dataclass(frozen=True)
class Kind:
    """One resource kind Slipway can provision."""

    slug: str  # Service.Kind value
    label: str
    provisioner: Provisioner[Any]
    create_form: type  # new service + first deployment: (data, files, *, teams)
    update_form: type | None = None  # (data, files, *, spec)
    scale_form: type | None = None  # (data, *, spec)
    description: str = ""  # one line on the "New service" page


KINDS: dict[str, Kind] = {
    "lambda": Kind(
        "lambda",
        "Lambda function",
        provisioners.for_kind("lambda"),
        LambdaServiceForm,
        LambdaUpdateForm,
        LambdaScaleForm,
        "Code from the form, a zip or S3; a version per deploy behind the live alias; "
        "concurrency and triggers.",
    ),
    "apigateway": Kind(
        "apigateway",
        "API Gateway API",
        provisioners.for_kind("apigateway"),
        ApiGatewayServiceForm,
        ApiGatewayUpdateForm,
        ApiGatewayScaleForm,
        "A REST or HTTP API in front of your Lambda functions and ECS services, with stage "
        "throttling and API keys.",
    ),
    "ecs": Kind(
        "ecs",
        "ECS Fargate service",
        provisioners.for_kind("ecs"),
        EcsServiceForm,
        EcsUpdateForm,
        EcsScaleForm,
        "A container on Fargate behind the environment's load balancer, with health checks, "
        "circuit-breaker rollback and auto-scaling.",
    ),
    "dynamodb": Kind(
        "dynamodb",
        "DynamoDB table",
        provisioners.for_kind("dynamodb"),
        DynamoDbServiceForm,
        DynamoDbUpdateForm,
        DynamoDbScaleForm,
        "A table with its keys, on-demand or auto-scaled capacity, indexes, time to live, "
        "point-in-time recovery and deletion protection.",
    ),
    "stepfunctions": Kind(
        "stepfunctions",
        "Step Functions workflow",
        provisioners.for_kind("stepfunctions"),
        StepFunctionsServiceForm,
        StepFunctionsUpdateForm,
        None,
        "A state machine whose tasks call your Lambda services by name, with its own "
        "least-privilege role; recent executions and a start button on its page.",
    ),
    "sns": Kind(
        "sns",
        "SNS topics",
        provisioners.for_kind("sns"),
        SnsServiceForm,
        SnsUpdateForm,
        None,
        "Topics other services subscribe to, and SQS queues subscribed to topics with filter "
        "policies; publishers and subscribers appear as dependencies.",
    ),
}


def get(slug: str) -> Kind:
    try:
        return KINDS[slug]
    except KeyError:
        raise ValueError(f"Unknown resource kind {slug!r}") from None
