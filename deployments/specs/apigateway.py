"""The API Gateway spec: an API's type, stage, routes, throttling and API keys.

Stored shape (unchanged from before typed specs): kind, api_type ("rest" or "http"), stage
(the environment's slug), routes [{method, path, target}], throttle {rate, burst},
require_api_key, usage_plan ({quota_limit, quota_period, rate, burst} or None).
Whether each route's target is deployed where the API is lives in `target_errors`: it reads
the catalog, so it is checked by the form and the API with the environment at hand.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from deployments.specs.base import Spec, invalid

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
# A path segment: plain characters, a {variable}, or (last only) a greedy {variable+}.
SEGMENT_RE = re.compile(r"^(?:[A-Za-z0-9._~-]+|\{[A-Za-z0-9_]+\}|\{[A-Za-z0-9_]+\+\})$")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
MAX_ROUTES = 50
TARGET_KINDS = {"lambda": "Lambda function", "ecs": "ECS service"}


def _path(path: str) -> str:
    segments = path.split("/")[1:] if path != "/" else []
    if not path.startswith("/") or not all(SEGMENT_RE.match(s) for s in segments):
        raise invalid(
            f"{path} is not a valid path; start with / and use letters, digits, . _ ~ - or "
            "{variables}."
        )
    if any(s.endswith("+}") for s in segments[:-1]):
        raise invalid("A greedy {name+} must come last.")
    return path


def _method(method: str) -> str:
    if method not in METHODS:
        raise invalid(f"{method} is not an HTTP method ({', '.join(METHODS)}).")
    return method


Method = Annotated[
    str, AfterValidator(_method), WithJsonSchema({"type": "string", "enum": list(METHODS)})
]


def _slug(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise invalid(f"{slug!r} is not a service name (lowercase letters, digits, hyphens).")
    return slug


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Route(_Part):
    """`method path` forwarded to a Lambda function or ECS service deployed alongside."""

    method: Method
    path: Annotated[str, Field(max_length=256), AfterValidator(_path)]
    target: Annotated[
        str,
        Field(max_length=40, description="Slug of a Lambda or ECS service in the catalog."),
        AfterValidator(_slug),
    ]


class Throttle(_Part):
    """Stage throttling for the whole API."""

    rate: int = Field(100, ge=0, le=10000, description="Steady requests per second.")
    burst: int = Field(50, ge=0, le=5000, description="Requests at once above the rate.")


class UsagePlan(_Part):
    """The quota and throttling of the usage plan that holds the API's key (REST only)."""

    quota_limit: int = Field(10000, ge=1, le=2_000_000_000)
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    rate: int = Field(50, ge=0, le=10000)
    burst: int = Field(20, ge=0, le=5000)


class ApiGatewayFields(Spec):
    """The fields a user chooses on every path."""

    scale_fields: ClassVar[tuple[str, ...]] = ("throttle",)
    fixed_fields: ClassVar[tuple[str, ...]] = ("api_type", "stage")

    kind: Literal["apigateway"] = "apigateway"
    api_type: Literal["rest", "http"] = Field(
        "rest", description="rest: API keys and usage plans; http: cheaper. Fixed once created."
    )
    routes: list[Route] = Field(min_length=1, max_length=MAX_ROUTES)
    throttle: Throttle = Field(default_factory=Throttle)
    require_api_key: bool = Field(
        False, description="REST only: callers send x-api-key; needs usage_plan."
    )
    usage_plan: UsagePlan | None = Field(
        None, description="Required with require_api_key; ignored without it."
    )

    @field_validator("routes", mode="before")
    @classmethod
    def _some(cls, routes):
        if isinstance(routes, list) and not routes:
            raise invalid("Add at least one route.")
        if isinstance(routes, list) and len(routes) > MAX_ROUTES:
            raise invalid(f"At most {MAX_ROUTES} routes per API.")
        return routes

    @model_validator(mode="after")
    def _keys(self):
        seen = set()
        for index, route in enumerate(self.routes):
            if (route.method, route.path) in seen:
                raise invalid(
                    f"{route.method} {route.path} is listed twice.", field=f"routes.{index}"
                )
            seen.add((route.method, route.path))
        if self.require_api_key and self.api_type == "http":
            raise invalid(
                "HTTP APIs have no API keys or usage plans; choose a REST API.",
                field="require_api_key",
            )
        if self.require_api_key and self.usage_plan is None:
            raise invalid("Required when the API requires keys.", field="usage_plan")
        return self


class ApiGatewaySpec(ApiGatewayFields):
    """An API Gateway API as stored on deployments and instances."""

    stage: Annotated[str, AfterValidator(_slug)] = Field(
        description="The stage, named after the environment."
    )


class ApiGatewayInput(ApiGatewayFields):
    """A new API through the JSON API (the stage is the environment's slug)."""


def target_errors(routes: list[dict], environment) -> list[tuple[int, str]]:
    """Why each route's target cannot be used in `environment`: (route index, message)."""
    from catalog.models import Service, ServiceInstance

    slugs = {r["target"] for r in routes}
    services = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
    instances = {
        i.service.slug: i
        for i in ServiceInstance.objects.filter(
            environment=environment, service__slug__in=slugs, applied_spec__isnull=False
        ).select_related("service")
    }
    errors = []
    for index, route in enumerate(routes):
        slug = route["target"]
        service = services.get(slug)
        if service is None:
            message = f"there is no service called {slug} in the catalog."
        elif service.kind not in TARGET_KINDS:
            message = (
                f"{slug} is a {service.get_kind_display()}; routes go to a Lambda "
                "function or an ECS service."
            )
        elif slug not in instances or instances[slug].status == ServiceInstance.Status.DELETED:
            message = f"{slug} is not deployed in {environment.name}; deploy it first."
        elif service.kind == "lambda" and not instances[slug].resources.get("function_arn"):
            message = f"{slug} has no function in {environment.name} yet."
        elif service.kind == "ecs" and not environment.alb_arn:
            message = (
                f"{environment.name} has no shared load balancer, so ECS services cannot be "
                "routed to there."
            )
        else:
            continue
        errors.append((index, message))
    return errors
