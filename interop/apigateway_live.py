"""An existing API Gateway API (REST or HTTP), read into the API Gateway spec's parts.

What the spec can say is what Slipway adopts: routes (`METHOD /path`) with a Lambda proxy
integration to a Lambda service Slipway knows in the environment, each route's protection
(none, IAM, or one of the API's authorizers with its scopes), JWT, Cognito and Lambda
authorizers that read one header, and the stage's default throttling. Anything else (an HTTP or
mock integration, a function Slipway does not know, API keys, a `$default` route, an authorizer
reading several identity sources) cannot be expressed, so reading collects one message per
problem and `Refused` carries them all: the user reads every reason at once, and nothing is
stored or tagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.models import ServiceInstance
from deployments.provisioners.apigateway_rest import ACCOUNT_THROTTLE
from deployments.specs.apigateway import SLUG_RE

# A Lambda function's invocation URI (REST integrations, Lambda authorizers of both types).
INVOCATION_URI = re.compile(
    r"^arn:aws[\w-]*:apigateway:[\w-]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$"
)
REST_HEADER, HTTP_HEADER = "method.request.header.", "$request.header."


class Refused(Exception):
    """The API cannot be adopted; `messages` say why, one line per problem."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


@dataclass
class Reading:
    """What reading an API found: the spec's parts, the Lambda targets, and the problems."""

    environment: object  # catalog.models.Environment
    functions: dict[str, tuple[str, str]]  # any ARN of a Lambda service → (slug, Slipway's ARN)
    routes: list[dict] = field(default_factory=list)
    authorizers: list[dict] = field(default_factory=list)
    targets: dict[str, dict] = field(default_factory=dict)  # slug → the provisioner's target
    problems: list[str] = field(default_factory=list)

    def function(self, arn: str, what: str) -> str | None:
        """The slug of the Lambda service `arn` belongs to, or None (and a problem naming it)."""
        known = self.functions.get(arn)
        if known is None:
            self.problems.append(
                f"{what} goes to Lambda function {arn.split(':function:')[-1]} ({arn}), which "
                f"is not a Slipway service in {self.environment.name}: adopt it first, or point "
                "it at a Slipway Lambda service."
            )
            return None
        slug, target_arn = known
        self.targets[slug] = {"kind": "lambda", "function_arn": target_arn}
        return slug

    def refuse_if_any(self) -> None:
        if self.problems:
            raise Refused(self.problems)


def lambda_functions(environment) -> dict[str, tuple[str, str]]:
    """Every ARN of the environment's Lambda services (the function's and its `live` alias's) →
    (service slug, the ARN Slipway routes to, as `apigateway_routes.resolve_targets` does)."""
    found: dict[str, tuple[str, str]] = {}
    instances = (
        ServiceInstance.objects.filter(
            environment=environment, service__kind="lambda", applied_spec__isnull=False
        )
        .exclude(status=ServiceInstance.Status.DELETED)
        .select_related("service")
    )
    for instance in instances:
        function_arn = instance.resources.get("function_arn")
        alias_arn = instance.resources.get("alias_arn")
        for arn in (function_arn, alias_arn):
            if arn:
                found[arn] = (instance.service.slug, alias_arn or function_arn)
    return found


def split_route_key(key: str, reading: Reading) -> tuple[str, str] | None:
    method, _, path = key.partition(" ")
    if not path:
        reading.problems.append(
            f"Route {key} catches every request; Slipway's routes name a method and a path."
        )
        return None
    return method, path


def throttle(rate, burst, reading: Reading) -> dict:
    """The stage's default throttling; none set means the account's limits."""
    rate = ACCOUNT_THROTTLE["rate"] if rate is None else rate
    burst = ACCOUNT_THROTTLE["burst"] if burst is None else burst
    if rate != int(rate):
        reading.problems.append(f"The stage's rate limit {rate}/s is not a whole number.")
    return {"rate": int(rate), "burst": int(burst)}


def header_of(sources: list[str], prefix: str, name: str, reading: Reading) -> str:
    """The one header an authorizer reads its token from."""
    if len(sources) != 1 or not sources[0].startswith(prefix):
        reading.problems.append(
            f"Authorizer {name} reads {', '.join(sources) or 'nothing'}; Slipway's authorizers "
            "read one header."
        )
        return "Authorization"
    return sources[0].removeprefix(prefix)


def authorizer_name(name: str, reading: Reading) -> bool:
    if SLUG_RE.match(name):
        return True
    reading.problems.append(
        f"Authorizer {name!r}: Slipway names authorizers with lowercase letters, digits and "
        "hyphens; rename it in AWS, then adopt the API."
    )
    return False


def route_auth(route_key: str, auth_type: str, authorizer_id, scopes, by_id: dict, reading) -> dict:
    """A route's protection in the spec's words ("none", "iam" or an authorizer's name)."""
    auth = {"NONE": "none", "AWS_IAM": "iam"}.get(auth_type or "NONE")
    if auth is None:
        auth = by_id.get(authorizer_id)
        if auth is None:
            reading.problems.append(f"{route_key} uses an authorizer the API does not list.")
            auth = "none"
    return {"auth": auth, "scopes": sorted(scopes or [])}


# --- REST APIs -----------------------------------------------------------------------------------
def rest_authorizers(items: list[dict], reading: Reading) -> dict[str, str]:
    """Fill `reading.authorizers`; returns authorizer id → name."""
    by_id = {}
    for item in items:
        name = item["name"]
        by_id[item["id"]] = name
        if not authorizer_name(name, reading):
            continue
        header = header_of([item.get("identitySource") or ""], REST_HEADER, name, reading)
        kind = item.get("type")
        if kind == "COGNITO_USER_POOLS":
            pools = item.get("providerARNs") or []
            if len(pools) != 1:
                reading.problems.append(f"Authorizer {name} trusts {len(pools)} user pools.")
                continue
            reading.authorizers.append(
                {"name": name, "type": "cognito", "user_pool_arn": pools[0], "header": header}
            )
        else:
            slug = _authorizer_function(item.get("authorizerUri") or "", name, reading)
            if slug:
                reading.authorizers.append(
                    {
                        "name": name,
                        "type": "lambda",
                        "function": slug,
                        "lambda_type": "token" if kind == "TOKEN" else "request",
                        "header": header,
                    }
                )
    return by_id


def _authorizer_function(uri: str, name: str, reading: Reading) -> str | None:
    match = INVOCATION_URI.match(uri)
    if match is None:
        reading.problems.append(f"Authorizer {name} calls {uri or 'nothing'}, not a Lambda.")
        return None
    return reading.function(match["arn"], f"Authorizer {name}")


def rest_routes(resources: list[dict], by_id: dict[str, str], reading: Reading) -> None:
    """Fill `reading.routes` from the REST API's resources and their methods."""
    for resource in resources:
        for method, detail in sorted((resource.get("resourceMethods") or {}).items()):
            key = f"{method} {resource['path']}"
            if detail.get("apiKeyRequired"):
                reading.problems.append(
                    f"{key} requires an API key; adopting API keys and usage plans is not offered."
                )
            integration = detail.get("methodIntegration") or {}
            match = INVOCATION_URI.match(integration.get("uri") or "")
            if integration.get("type") != "AWS_PROXY" or match is None:
                _not_lambda(key, integration.get("type"), integration.get("uri"), reading)
                continue
            slug = reading.function(match["arn"], key)
            if slug:
                auth = route_auth(
                    key,
                    detail.get("authorizationType"),
                    detail.get("authorizerId"),
                    detail.get("authorizationScopes"),
                    by_id,
                    reading,
                )
                reading.routes.append(
                    {"method": method, "path": resource["path"], "target": slug, **auth}
                )


def _not_lambda(key: str, kind, uri, reading: Reading) -> None:
    reading.problems.append(
        f"{key} goes to {uri or 'nothing'} ({kind or 'no'} integration); Slipway routes only "
        "to Lambda services it knows, through Lambda proxy integrations."
    )


# --- HTTP APIs -----------------------------------------------------------------------------------
def http_authorizers(items: list[dict], reading: Reading) -> dict[str, str]:
    """Fill `reading.authorizers`; returns authorizer id → name."""
    by_id = {}
    for item in items:
        name = item["Name"]
        by_id[item["AuthorizerId"]] = name
        if not authorizer_name(name, reading):
            continue
        header = header_of(item.get("IdentitySource") or [], HTTP_HEADER, name, reading)
        if item.get("AuthorizerType") == "JWT":
            jwt = item.get("JwtConfiguration") or {}
            reading.authorizers.append(
                {
                    "name": name,
                    "type": "jwt",
                    "issuer": jwt.get("Issuer") or "",
                    "audience": sorted(jwt.get("Audience") or []),
                    "header": header,
                }
            )
            continue
        slug = _authorizer_function(item.get("AuthorizerUri") or "", name, reading)
        if slug:
            reading.authorizers.append(
                {"name": name, "type": "lambda", "function": slug, "header": header}
            )
    return by_id


def http_routes(
    routes: list[dict], integrations: dict[str, dict], by_id: dict[str, str], reading: Reading
) -> None:
    """Fill `reading.routes` from the HTTP API's routes and integrations."""
    for route in routes:
        key = route["RouteKey"]
        parts = split_route_key(key, reading)
        if route.get("ApiKeyRequired"):
            reading.problems.append(f"{key} requires an API key; HTTP APIs in Slipway have none.")
        integration = integrations.get((route.get("Target") or "").removeprefix("integrations/"))
        if integration is None:
            reading.problems.append(f"{key} has no integration.")
            continue
        uri = integration.get("IntegrationUri") or ""
        match = INVOCATION_URI.match(uri)
        arn = match["arn"] if match else uri
        if integration.get("IntegrationType") != "AWS_PROXY" or ":lambda:" not in arn:
            _not_lambda(key, integration.get("IntegrationType"), uri, reading)
            continue
        slug = reading.function(arn, key)
        if slug and parts:
            auth = route_auth(
                key,
                route.get("AuthorizationType"),
                route.get("AuthorizerId"),
                route.get("AuthorizationScopes"),
                by_id,
                reading,
            )
            reading.routes.append({"method": parts[0], "path": parts[1], "target": slug, **auth})
