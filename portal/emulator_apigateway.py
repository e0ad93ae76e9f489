"""API Gateway gaps of the embedded emulator, filled inside the emulator process only.

Why: moto 5.2.5 has no `UpdateStage` for HTTP APIs (v2): the call answers HTTP 500. The API
Gateway provisioner changes a stage's throttling with `UpdateStage`, as on AWS; this patch
lets the emulator answer it, so the provisioner has one code path (no delete-and-recreate of
the stage against the emulator) and the tests run the real-AWS one.

What it does: `PATCH /v2/apis/{api}/stages/{stage}` updates the fields AWS lets UpdateStage
change (auto-deploy, default and per-route settings, stage variables, access logs,
description, client certificate) and answers the stage, as AWS does. An unknown API or stage
is AWS's `NotFoundException` (404).

Also `GetAuthorizers` for HTTP APIs (moto 5.2.5 implements `GetAuthorizer` by id but not the
list, which answers 500): `GET /v2/apis/{api}/authorizers` lists the API's authorizers in AWS's
shape, in one page, so the provisioner finds its authorizers by name as it would on AWS.

And tags on REST APIs (v1): moto 5.2.5 routes `TagResource`/`UntagResource`/`GetTags` only for
stage ARNs, so a REST API's ARN (`arn:aws:apigateway:<region>::/restapis/<id>`) answers 404.
Discovery's adoption tags an existing REST API with `slipway:service`, as on AWS; the patch adds
the route and keeps the tags on the API (where `GetRestApis` already reads them).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

_installed = False

# UpdateStage body key → Stage attribute.
_FIELDS = {
    "autoDeploy": "auto_deploy",
    "defaultRouteSettings": "default_route_settings",
    "routeSettings": "route_settings",
    "stageVariables": "stage_variables",
    "accessLogSettings": "access_log_settings",
    "description": "description",
    "clientCertificateId": "client_certificate_id",
}


def install() -> None:
    """Patch moto's API Gateway v2 in this (the emulator's) process. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    def update_stage(self: ApiGatewayV2Response):
        api_id = self.path.split("/")[-3]
        stage_name = unquote(self.path.split("/")[-1])
        stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
        body: dict[str, Any] = json.loads(self.body or "{}")
        for key, attribute in _FIELDS.items():
            if key in body:
                value = body[key]
                if key == "defaultRouteSettings":
                    value = {**(stage.default_route_settings or {}), **value}
                setattr(stage, attribute, value)
        from moto.core.utils import utcnow

        stage.updated = utcnow()
        return 200, {}, json.dumps(stage.to_json())

    def get_authorizers(self: ApiGatewayV2Response):
        api_id = self.path.rstrip("/").split("/")[-2]
        api = self.apigatewayv2_backend.get_api(api_id)
        items = [authorizer.to_json() for authorizer in api.authorizers.values()]
        return 200, {}, json.dumps({"items": items})

    ApiGatewayV2Response.update_stage = update_stage
    ApiGatewayV2Response.get_authorizers = get_authorizers
    _install_rest_api_tags()
    _installed = True


# A REST API's own ARN in the tagging calls' path (moto knows only stage ARNs there).
_REST_API_TAGS = (
    "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)::/restapis/"
    "(?P<function_id>[^/]+)$"
)


def _install_rest_api_tags() -> None:
    from moto.apigateway import urls
    from moto.apigateway.responses import APIGatewayResponse

    urls.url_paths[_REST_API_TAGS] = APIGatewayResponse.dispatch
    stage_calls = {
        name: getattr(APIGatewayResponse, name)
        for name in ("tag_resource", "untag_resource", "get_tags")
    }

    def rest_api(self: APIGatewayResponse):
        """The REST API a tagging call names, or None when it names something else."""
        arn = unquote(self.path.split("/tags/", 1)[1])
        _, _, rest = arn.partition("::/restapis/")
        if not rest or "/" in rest:
            return None
        return self.backend.get_rest_api(rest)

    def tag_resource(self: APIGatewayResponse):
        api = rest_api(self)
        if api is None:
            return stage_calls["tag_resource"](self)
        api.tags = {**(api.tags or {}), **(self._get_param("tags") or {})}
        return 204, {}, ""

    def untag_resource(self: APIGatewayResponse):
        api = rest_api(self)
        if api is None:
            return stage_calls["untag_resource"](self)
        keys = set(self.querystring.get("tagKeys") or [])
        api.tags = {k: v for k, v in (api.tags or {}).items() if k not in keys}
        return 204, {}, ""

    def get_tags(self: APIGatewayResponse):
        api = rest_api(self)
        if api is None:
            return stage_calls["get_tags"](self)
        return 200, {}, json.dumps({"tags": api.tags or {}})

    APIGatewayResponse.tag_resource = tag_resource
    APIGatewayResponse.untag_resource = untag_resource
    APIGatewayResponse.get_tags = get_tags
