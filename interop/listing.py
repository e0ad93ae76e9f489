"""Kinds discovery lists but cannot adopt yet: API Gateway REST and HTTP APIs."""

from __future__ import annotations

from interop.adopters import MANAGED_TAG, Unmanaged, client


class ApiListing:
    """REST (v1) and HTTP (v2) APIs without a Slipway tag; listing only."""

    kind = "apigateway"
    adoptable = False

    def discover(self, *, environment, actor) -> list[Unmanaged]:
        return [*self._rest_apis(environment, actor), *self._http_apis(environment, actor)]

    def _rest_apis(self, environment, actor) -> list[Unmanaged]:
        apigw = client("apigateway", environment, actor)
        found = []
        for page in apigw.get_paginator("get_rest_apis").paginate():
            for api in page["items"]:
                tags = api.get("tags") or {}
                if MANAGED_TAG in tags:
                    continue
                found.append(
                    Unmanaged(
                        kind="apigateway",
                        name=api["name"],
                        arn=f"arn:aws:apigateway:{environment.region}::/restapis/{api['id']}",
                        detail="REST API",
                        adoptable=False,
                        tags=tags,
                    )
                )
        return found

    def _http_apis(self, environment, actor) -> list[Unmanaged]:
        apigw = client("apigatewayv2", environment, actor)
        found = []
        token = None
        while True:
            page = apigw.get_apis(**({"NextToken": token} if token else {}))
            for api in page.get("Items", []):
                tags = api.get("Tags") or {}
                if MANAGED_TAG in tags:
                    continue
                found.append(
                    Unmanaged(
                        kind="apigateway",
                        name=api["Name"],
                        arn=f"arn:aws:apigateway:{environment.region}::/apis/{api['ApiId']}",
                        detail=f"{api.get('ProtocolType', 'HTTP')} API",
                        adoptable=False,
                        tags=tags,
                    )
                )
            token = page.get("NextToken")
            if not token:
                return found


API_LISTING = ApiListing()
