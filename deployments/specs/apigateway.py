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
    model_serializer,
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


# A route's protection: "none" (no choice made), "public" (chosen on purpose), "iam", or the
# name of one of the API's authorizers.
NONE, PUBLIC, IAM = "none", "public", "iam"
AUTH_KINDS = {"jwt": "JWT", "lambda": "Lambda", "cognito": "Cognito", IAM: "IAM"}
SCOPE_RE = re.compile(r"^[A-Za-z0-9._:/+-]{1,128}$")
HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
ARN_POOL_RE = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+$")


def _scope(scope: str) -> str:
    if not SCOPE_RE.match(scope):
        raise invalid(f"{scope!r} is not a scope (letters, digits, . _ : / + -).")
    return scope


def _issuer(issuer: str) -> str:
    if not re.match(r"^https://[^\s/]+(/\S*)?$", issuer):
        raise invalid("The issuer is an https:// URL (a Cognito user pool or any OIDC issuer).")
    return issuer.rstrip("/")


def _header(header: str) -> str:
    if not HEADER_RE.match(header):
        raise invalid(f"{header!r} is not a header name.")
    return header


class Route(_Part):
    """`method path` forwarded to a Lambda function or ECS service deployed alongside."""

    method: Method
    path: Annotated[str, Field(max_length=256), AfterValidator(_path)]
    target: Annotated[
        str,
        Field(max_length=40, description="Slug of a Lambda or ECS service in the catalog."),
        AfterValidator(_slug),
    ]
    auth: Annotated[str, Field(max_length=40)] = Field(
        NONE,
        description='"public" (open on purpose), "iam", or the name of one of the API\'s '
        'authorizers; "none" when no choice was made (refused in production environments).',
    )
    scopes: list[Annotated[str, AfterValidator(_scope)]] = Field(
        default_factory=list,
        max_length=10,
        description="Scopes the caller's token must carry (JWT and Cognito authorizers).",
    )

    @model_serializer(mode="wrap")
    def _compact(self, handler):
        # Unprotected routes keep the shape stored before authorizers existed.
        data = handler(self)
        if data.get("auth") == NONE and not data.get("scopes"):
            data.pop("auth", None)
            data.pop("scopes", None)
        return data


class Authorizer(_Part):
    """Who may call a route: a JWT issuer (HTTP), a Cognito user pool (REST) or a Lambda."""

    name: Annotated[str, AfterValidator(_slug)]
    type: Literal["jwt", "cognito", "lambda"]
    issuer: Annotated[str, Field(max_length=512), AfterValidator(_issuer)] | None = Field(
        None,
        description="jwt: the token issuer, e.g. https://cognito-idp.<region>.amazonaws.com/<pool>.",
    )
    audience: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=10, description="jwt: accepted audiences (client ids)."
    )
    user_pool_arn: Annotated[str, Field(max_length=256)] | None = Field(
        None, description="cognito: the user pool's ARN."
    )
    function: Annotated[str, Field(max_length=40), AfterValidator(_slug)] | None = Field(
        None, description="lambda: the Slipway Lambda service that decides."
    )
    lambda_type: Literal["token", "request"] = Field(
        "token", description="lambda on REST APIs: TOKEN (one header) or REQUEST."
    )
    header: Annotated[str, AfterValidator(_header)] = Field(
        "Authorization", description="The header that carries the token."
    )

    @model_serializer(mode="wrap")
    def _compact(self, handler):
        # Only what this type of authorizer uses.
        return {k: v for k, v in handler(self).items() if v not in (None, [])}

    @model_validator(mode="after")
    def _complete(self):
        if self.type == "jwt" and not self.issuer:
            raise invalid("A JWT authorizer needs its issuer.", field="issuer")
        if self.type == "jwt" and not self.audience:
            raise invalid("A JWT authorizer needs at least one audience.", field="audience")
        if self.type == "cognito" and not (
            self.user_pool_arn and ARN_POOL_RE.match(self.user_pool_arn)
        ):
            raise invalid(
                "A Cognito authorizer needs its user pool's ARN "
                "(arn:aws:cognito-idp:<region>:<account>:userpool/<id>).",
                field="user_pool_arn",
            )
        if self.type == "lambda" and not self.function:
            raise invalid("Name the Lambda service that authorizes.", field="function")
        return self


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
    authorizers: list[Authorizer] = Field(
        default_factory=list, max_length=10, description="Named authorizers routes may use."
    )

    @model_serializer(mode="wrap")
    def _compact(self, handler):
        # An API without authorizers keeps the shape stored before they existed.
        data = handler(self)
        if data.get("authorizers") == []:
            data.pop("authorizers")
        return data

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
        self._check_auth()
        if self.require_api_key and self.api_type == "http":
            raise invalid(
                "HTTP APIs have no API keys or usage plans; choose a REST API.",
                field="require_api_key",
            )
        if self.require_api_key and self.usage_plan is None:
            raise invalid("Required when the API requires keys.", field="usage_plan")
        return self

    def _check_auth(self) -> None:
        by_name = {}
        for index, authorizer in enumerate(self.authorizers):
            where = f"authorizers.{index}"
            if authorizer.name in by_name or authorizer.name in (NONE, PUBLIC, IAM):
                raise invalid(f"{authorizer.name} is used twice.", field=f"{where}.name")
            if authorizer.type == "jwt" and self.api_type == "rest":
                raise invalid(
                    "REST APIs take Cognito or Lambda authorizers; JWT is for HTTP APIs.",
                    field=f"{where}.type",
                )
            if authorizer.type == "cognito" and self.api_type == "http":
                raise invalid(
                    "HTTP APIs take a Cognito user pool as a JWT issuer; choose jwt.",
                    field=f"{where}.type",
                )
            by_name[authorizer.name] = authorizer
        for index, route in enumerate(self.routes):
            where = f"routes.{index}"
            if route.auth not in (NONE, PUBLIC, IAM) and route.auth not in by_name:
                raise invalid(
                    f"{route.method} {route.path}: there is no authorizer called {route.auth}.",
                    field=f"{where}.auth",
                )
            kind = by_name[route.auth].type if route.auth in by_name else route.auth
            if route.scopes and kind not in ("jwt", "cognito"):
                raise invalid("Scopes need a JWT or Cognito authorizer.", field=f"{where}.scopes")

    def protection(self, route: Route) -> str:
        """How a route is protected, for people: "JWT (orders.read)", "IAM", "public"."""
        return protection(route.model_dump(), [a.model_dump() for a in self.authorizers])


def protection(route: dict, authorizers: list[dict]) -> str:
    """ "JWT (orders.read)", "Lambda (auth-fn)", "IAM", "public" or "no authorizer" (dicts)."""
    auth = route.get("auth") or NONE
    if auth == NONE:
        return "no authorizer"
    if auth == PUBLIC:
        return "public"
    if auth == IAM:
        return "IAM"
    authorizer = next((a for a in authorizers if a["name"] == auth), None)
    if authorizer is None:
        return auth
    label = AUTH_KINDS[authorizer["type"]]
    if authorizer["type"] == "lambda":
        label += f" {authorizer['function']}"
    scopes = route.get("scopes") or []
    return f"{label} ({', '.join(scopes)})" if scopes else label


class ApiGatewaySpec(ApiGatewayFields):
    """An API Gateway API as stored on deployments and instances."""

    stage: Annotated[str, AfterValidator(_slug)] = Field(
        description="The stage, named after the environment."
    )


class ApiGatewayInput(ApiGatewayFields):
    """A new API through the JSON API (the stage is the environment's slug)."""


def auth_errors(spec: ApiGatewayFields, environment) -> list[tuple[str, str]]:
    """A production route needs a choice (an explicit "public" when open); a Lambda
    authorizer's service must be deployed here."""
    errors = []
    if environment.requires_approval:
        for index, route in enumerate(spec.routes):
            if route.auth == NONE:
                errors.append(
                    (
                        f"routes.{index}.auth",
                        f"{route.method} {route.path} would be open to anyone in "
                        f'{environment.name}; choose an authorizer, or "public" if it is meant '
                        "to be open.",
                    )
                )
    functions = [(i, a.function) for i, a in enumerate(spec.authorizers) if a.type == "lambda"]
    if functions:
        checked = target_errors(
            [{"target": slug} for _, slug in functions], environment, {"lambda": "Lambda"}
        )
        for index, message in checked:
            errors.append((f"authorizers.{functions[index][0]}.function", message))
    return errors


def target_errors(
    routes: list[dict], environment, kinds: dict = TARGET_KINDS
) -> list[tuple[int, str]]:
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
        elif service.kind not in kinds:
            message = f"{slug} is a {service.get_kind_display()}; " + (
                "routes go to a Lambda function or an ECS service."
                if kinds is TARGET_KINDS
                else "an authorizer is a Lambda function."
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
