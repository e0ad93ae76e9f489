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
    _installed = True
