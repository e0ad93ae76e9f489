"""Adopting an API Gateway API (REST or HTTP) with one of its stages.

Discovery lists each stage of each untagged API as one row (an API Gateway service instance is
one stage). Reading it (`interop/apigateway_live.py`) turns its routes, Lambda integrations,
authorizers and stage throttling into an `ApiGatewaySpec`; the instance keeps the API's own id,
name and stage (`resources`), which the API Gateway provisioner uses instead of Slipway's names.
The spec's `stage` still names the environment, as every API Gateway spec does.

A REST API serves its routes from a deployment: adoption takes the deployment serving the stage
to hold the routes it reads, and records that deployment with the routes' fingerprint, so the
first plan does not ask for a new deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from deployments.provisioners import apigateway_http, apigateway_rest
from deployments.provisioners.apigateway_routes import desired_routes, fingerprint
from deployments.specs import spec_errors
from deployments.specs.apigateway import ApiGatewaySpec
from interop import apigateway_live as live_config
from interop.adopters import MANAGED_TAG, Live, Unmanaged, client
from portal.aws import request_id

STAGE_ARN = re.compile(
    r"^arn:aws[\w-]*:apigateway:[\w-]*::/(?P<type>restapis|apis)/(?P<api>[^/]+)/stages/(?P<stage>[^/]+)$"
)
TYPES = {"restapis": "rest", "apis": "http"}
CLIENTS = {"rest": "apigateway", "http": "apigatewayv2"}


def api_arn(environment, api_type: str, api_id: str) -> str:
    path = "restapis" if api_type == "rest" else "apis"
    return f"arn:aws:apigateway:{environment.region}::/{path}/{api_id}"


@dataclass(frozen=True)
class Found:
    """What reading an API found besides its routes and authorizers."""

    name: str
    description: str
    tags: dict
    deployment_id: str | None  # the deployment serving the stage (REST)
    throttle: tuple  # the stage's default (rate, burst), None where unset
    request_ids: list[str]


class ApiGatewayAdopter:
    """REST (v1) and HTTP (v2) APIs: one row per stage, adopted with that stage."""

    kind = "apigateway"
    adoptable = True
    identity_key = "api_arn"
    arn_service = "apigateway"

    # --- discover --------------------------------------------------------------------------------
    def discover(self, *, environment, actor) -> list[Unmanaged]:
        return [*self._rest_apis(environment, actor), *self._http_apis(environment, actor)]

    def _rest_apis(self, environment, actor) -> list[Unmanaged]:
        apigw = client("apigateway", environment, actor)
        found = []
        for api in apigateway_rest.pages(apigw.get_rest_apis, "items", limit=500):
            tags = api.get("tags") or {}
            if MANAGED_TAG not in tags:
                stages = [s["stageName"] for s in apigw.get_stages(restApiId=api["id"])["item"]]
                found += _rows(environment, "rest", api["id"], api["name"], stages, tags)
        return found

    def _http_apis(self, environment, actor) -> list[Unmanaged]:
        v2 = client("apigatewayv2", environment, actor)
        found = []
        for api in apigateway_http.pages(v2.get_apis, "Items", MaxResults="500"):
            tags = api.get("Tags") or {}
            if MANAGED_TAG in tags:
                continue
            if api.get("ProtocolType") != "HTTP":  # WebSocket APIs have no spec in Slipway
                arn = api_arn(environment, "http", api["ApiId"])
                detail = f"{api.get('ProtocolType')} API (not adoptable)"
                found.append(Unmanaged("apigateway", arn, arn, detail, False, api["Name"], tags))
                continue
            stages = [
                s["StageName"]
                for s in apigateway_http.pages(v2.get_stages, "Items", ApiId=api["ApiId"])
            ]
            found += _rows(environment, "http", api["ApiId"], api["Name"], stages, tags)
        return found

    # --- read ------------------------------------------------------------------------------------
    def read(self, *, environment, name: str, actor) -> Live:
        """The API and stage `name` (a stage ARN, as discovery lists it) in spec form.

        Raises ValidationError naming every part Slipway cannot express (nothing is stored)."""
        match = STAGE_ARN.match(name)
        if match is None:
            raise ValidationError({"name": "Choose an API stage from the Discovery list."})
        api_type, api_id, stage = TYPES[match["type"]], match["api"], match["stage"]
        reading = live_config.Reading(
            environment=environment, functions=live_config.lambda_functions(environment)
        )
        read = _read_rest if api_type == "rest" else _read_http
        found = read(client(CLIENTS[api_type], environment, actor), api_id, stage, reading)
        label = f"{found.name} (stage {stage})"
        throttle = live_config.throttle(*found.throttle, reading)
        try:
            reading.refuse_if_any()
            spec = _spec(api_type, environment, reading, throttle)
        except live_config.Refused as exc:
            raise ValidationError([f"{label} cannot be adopted:", *exc.messages]) from exc
        arn = api_arn(environment, api_type, api_id)
        resources = {
            "api_arn": arn,
            "api_id": api_id,
            "api_name": found.name,
            "stage_name": stage,
            "adopted": True,
        }
        if api_type == "rest":
            values = {
                "targets": reading.targets,
                "region": environment.region,
                "environment": environment.slug,
            }
            resources.update(
                stage_arn=f"{arn}/stages/{stage}",
                adopted_deployment_id=found.deployment_id or "",
                adopted_fingerprint=fingerprint(desired_routes(spec, values)),
            )
        return Live(
            name=label,
            spec=spec,
            resources=resources,
            description=found.description,
            managed=MANAGED_TAG in found.tags,
            request_ids=found.request_ids,
            tag_targets={CLIENTS[api_type]: [arn]},
        )

    # --- tag -------------------------------------------------------------------------------------
    def tag(self, *, environment, live: Live, tags: dict[str, str], actor) -> list:
        ids = []
        for arn in live.tag_targets.get("apigateway", []):
            apigw = client("apigateway", environment, actor)
            ids.append(request_id(apigw.tag_resource(resourceArn=arn, tags=tags)))
        for arn in live.tag_targets.get("apigatewayv2", []):
            v2 = client("apigatewayv2", environment, actor)
            ids.append(request_id(v2.tag_resource(ResourceArn=arn, Tags=tags)))
        return ids

    def untag(self, *, environment, live: Live, keys: list[str], actor) -> None:
        for arn in live.tag_targets.get("apigateway", []):
            client("apigateway", environment, actor).untag_resource(resourceArn=arn, tagKeys=keys)
        for arn in live.tag_targets.get("apigatewayv2", []):
            client("apigatewayv2", environment, actor).untag_resource(ResourceArn=arn, TagKeys=keys)


def _rows(environment, api_type: str, api_id: str, name: str, stages, tags) -> list[Unmanaged]:
    """One row per stage; an API without a stage is listed, not adoptable (it serves nothing)."""
    label = "REST API" if api_type == "rest" else "HTTP API"
    arn = api_arn(environment, api_type, api_id)
    if not stages:
        return [Unmanaged("apigateway", arn, arn, f"{label}, no stage", False, name, tags)]
    return [
        Unmanaged(
            "apigateway", f"{arn}/stages/{stage}", arn, f"{label}, stage {stage}", True, name, tags
        )
        for stage in stages
    ]


def _spec(api_type: str, environment, reading, throttle: dict) -> dict:
    """The applied spec, checked by the API Gateway spec's own rules."""
    from pydantic import ValidationError as SpecInvalid

    data = {
        "kind": "apigateway",
        "api_type": api_type,
        "stage": environment.slug,
        "routes": reading.routes,
        "throttle": throttle,
        "require_api_key": False,
        "usage_plan": None,
        "authorizers": reading.authorizers,
    }
    try:
        return ApiGatewaySpec.model_validate(data).to_json()
    except SpecInvalid as exc:
        problems = [
            f"{'.'.join(str(p) for p in where)}: {message}" if where else message
            for where, message in spec_errors(exc.errors())
        ]
        raise live_config.Refused(problems) from exc


def _read_rest(apigw, api_id: str, stage: str, reading) -> Found:
    api = apigw.get_rest_api(restApiId=api_id)
    found = apigw.get_stage(restApiId=api_id, stageName=stage)
    authorizers = list(apigateway_rest.pages(apigw.get_authorizers, "items", restApiId=api_id))
    by_id = live_config.rest_authorizers(authorizers, reading)
    resources = apigateway_rest.pages(
        apigw.get_resources, "items", restApiId=api_id, embed=["methods"], limit=500
    )
    live_config.rest_routes(sorted(resources, key=lambda r: r["path"]), by_id, reading)
    settings = (found.get("methodSettings") or {}).get("*/*", {})
    return Found(
        name=api["name"],
        description=api.get("description") or "",
        tags=api.get("tags") or {},
        deployment_id=found.get("deploymentId"),
        throttle=(settings.get("throttlingRateLimit"), settings.get("throttlingBurstLimit")),
        request_ids=[request_id(api), request_id(found)],
    )


def _read_http(v2, api_id: str, stage: str, reading) -> Found:
    api = v2.get_api(ApiId=api_id)
    if api.get("ProtocolType") != "HTTP":
        reading.problems.append(f"{api['Name']} is a {api.get('ProtocolType')} API.")
    found = v2.get_stage(ApiId=api_id, StageName=stage)
    pages = apigateway_http.pages
    by_id = live_config.http_authorizers(
        list(pages(v2.get_authorizers, "Items", ApiId=api_id)), reading
    )
    integrations = {
        i["IntegrationId"]: i for i in pages(v2.get_integrations, "Items", ApiId=api_id)
    }
    routes = sorted(pages(v2.get_routes, "Items", ApiId=api_id), key=lambda r: r["RouteKey"])
    live_config.http_routes(routes, integrations, by_id, reading)
    settings = found.get("DefaultRouteSettings") or {}
    return Found(
        name=api["Name"],
        description=api.get("Description") or "",
        tags=api.get("Tags") or {},
        deployment_id=found.get("DeploymentId"),
        throttle=(settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")),
        request_ids=[request_id(api), request_id(found)],
    )


ADOPTER = ApiGatewayAdopter()
