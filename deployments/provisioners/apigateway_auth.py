"""API authorizers (both API types) and each route's protection.

REST APIs: Cognito user-pool (`COGNITO_USER_POOLS`) and Lambda (`TOKEN`/`REQUEST`) authorizers,
methods with `authorizationType` NONE, AWS_IAM, COGNITO_USER_POOLS or CUSTOM.
HTTP APIs: JWT and Lambda (`REQUEST`, payload 2.0) authorizers, routes with `AuthorizationType`
NONE, AWS_IAM, JWT or CUSTOM. Authorizers are found by name (the spec's), so a re-run adopts.
A Lambda authorizer's function is a Slipway Lambda service resolved in the environment like a
route target; its invoke grant is the API's grant on that function (see `apigateway`).

A Cognito authorizer's user pool is not changed in place (REST `UpdateAuthorizer` cannot
replace `providerARNs` in the emulator): the plan asks for a new authorizer name instead.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from deployments.errors import TargetUnavailable
from deployments.provisioners.base import Change
from deployments.specs.apigateway import IAM, protection
from portal.aws import is_not_found

LAMBDA_URI = "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
TTL = 300


# --- desired -------------------------------------------------------------------------------------
def _identity_source(api_type: str, header: str) -> str:
    prefix = "method.request.header." if api_type == "rest" else "$request.header."
    return prefix + header


def desired_authorizers(spec: dict, values: dict) -> dict[str, dict]:
    """Authorizer name → its normalized configuration (compared with `observe_*`'s)."""
    api_type = spec["api_type"]
    wanted = {}
    for authorizer in spec.get("authorizers") or []:
        kind = authorizer["type"]
        config = {
            "type": "",
            "identity_source": _identity_source(
                api_type, authorizer.get("header") or "Authorization"
            ),
            "uri": "",
            "provider_arns": [],
            "issuer": "",
            "audience": [],
        }
        if kind == "cognito":
            config.update(type="COGNITO_USER_POOLS", provider_arns=[authorizer["user_pool_arn"]])
        elif kind == "jwt":
            config.update(
                type="JWT", issuer=authorizer["issuer"], audience=sorted(authorizer["audience"])
            )
        else:
            target = values["targets"].get(authorizer["function"])
            if target is None or target["kind"] != "lambda":
                raise TargetUnavailable(
                    f"Authorizer {authorizer['name']}: {authorizer['function']} is not deployed "
                    f"in {values['environment']} (deploy it first, or change the authorizer)."
                )
            lambda_type = authorizer.get("lambda_type") or "token"
            config.update(
                type="TOKEN" if api_type == "rest" and lambda_type == "token" else "REQUEST",
                uri=LAMBDA_URI.format(region=values["region"], arn=target["function_arn"]),
                function_arn=target["function_arn"],
            )
        wanted[authorizer["name"]] = config
    return wanted


AUTH_TYPES = {
    "rest": {"cognito": "COGNITO_USER_POOLS", "lambda": "CUSTOM"},
    "http": {"jwt": "JWT", "lambda": "CUSTOM"},
}


def route_auth(spec: dict, route: dict) -> dict:
    """{"auth_type", "authorizer" (name or None), "scopes", "protection"} of one route."""
    authorizers = spec.get("authorizers") or []
    auth = route.get("auth") or "none"
    by_name = {a["name"]: a for a in authorizers}
    if auth in by_name:
        auth_type = AUTH_TYPES[spec["api_type"]][by_name[auth]["type"]]
        name = auth
    else:
        auth_type, name = ("AWS_IAM" if auth == IAM else "NONE"), None
    return {
        "auth_type": auth_type,
        "authorizer": name,
        "scopes": sorted(route.get("scopes") or []),
        "protection": protection(route, authorizers),
    }


def authorizer_ids(values: dict) -> dict[str, str]:
    """Authorizer name → id, for routes (desired names) and back (observed ids)."""
    return {name: a["id"] for name, a in (values.get("authorizers") or {}).items()}


def observed_protection(current: dict, values: dict) -> str:
    """How AWS protects a route now, for the diff."""
    names = {a["id"]: n for n, a in (values.get("authorizers") or {}).items()}
    auth_type = current.get("auth_type") or "NONE"
    if auth_type == "NONE":
        return "public"
    if auth_type == "AWS_IAM":
        return "IAM"
    label = names.get(current.get("authorizer_id") or "", current.get("authorizer_id") or "?")
    scopes = current.get("scopes") or []
    return f"{label} ({', '.join(scopes)})" if scopes else label


def auth_differs(current: dict, route: dict, values: dict) -> bool:
    ids = authorizer_ids(values)
    wanted_id = ids.get(route["authorizer"]) if route["authorizer"] else None
    return (
        (current.get("auth_type") or "NONE") != route["auth_type"]
        or (current.get("authorizer_id") or None) != wanted_id
        or route["authorizer"] is not None
        and wanted_id is None
        or sorted(current.get("scopes") or []) != route["scopes"]
    )


# --- observe -------------------------------------------------------------------------------------
def observe_rest(apigw, values: dict, pages) -> None:
    found = {}
    for item in pages(apigw.get_authorizers, "items", restApiId=values["api_id"], limit=500):
        found[item["name"]] = {
            "id": item["id"],
            "type": item.get("type", ""),
            "identity_source": item.get("identitySource", ""),
            "uri": item.get("authorizerUri", ""),
            "provider_arns": list(item.get("providerARNs") or []),
            "issuer": "",
            "audience": [],
        }
    values["authorizers"] = found


def observe_http(v2, values: dict, pages) -> None:
    found = {}
    for item in pages(v2.get_authorizers, "Items", ApiId=values["api_id"]):
        jwt = item.get("JwtConfiguration") or {}
        found[item["Name"]] = {
            "id": item["AuthorizerId"],
            "type": item.get("AuthorizerType", ""),
            "identity_source": ",".join(item.get("IdentitySource") or []),
            "uri": item.get("AuthorizerUri") or "",
            "provider_arns": [],
            "issuer": jwt.get("Issuer") or "",
            "audience": sorted(jwt.get("Audience") or []),
        }
    values["authorizers"] = found


# --- plan ----------------------------------------------------------------------------------------
FIELDS = {
    "type": "type",
    "identity_source": "identity source",
    "uri": "function",
    "provider_arns": "user pool",
    "issuer": "issuer",
    "audience": "audience",
}


def _describe(config: dict) -> str:
    if config["type"] == "JWT":
        return f"JWT, issuer {config['issuer']}, audience {', '.join(config['audience'])}"
    if config["type"] == "COGNITO_USER_POOLS":
        return f"Cognito user pool {config['provider_arns'][0].rsplit('/', 1)[-1]}"
    function = config.get("function_arn", config["uri"]).split(":")[-1]
    return f"Lambda {config['type']} authorizer, function {function}"


def plan(spec: dict, values: dict) -> tuple[list[Change], list[Change]]:
    """(creates and updates, before the routes) and (deletes, after them)."""
    wanted = desired_authorizers(spec, values)
    current = values.get("authorizers") or {}
    first, last = [], []
    for name, config in wanted.items():
        now = current.get(name)
        if now is None:
            first.append(
                Change(
                    f"authorizer.create:{name}", f"Create authorizer {name}: {_describe(config)}"
                )
            )
            continue
        if now["provider_arns"] != config["provider_arns"]:
            raise ValueError(
                f"Authorizer {name} uses another user pool in AWS; give the authorizer a new "
                "name to switch user pools (the old one is removed once no route uses it)."
            )
        details = tuple(
            f"{label}: {_show(now[field])} → {_show(config[field])}"
            for field, label in FIELDS.items()
            if now[field] != config[field]
        )
        if details:
            first.append(Change(f"authorizer.update:{name}", f"Change authorizer {name}", details))
    for name in sorted(set(current) - set(wanted)):
        last.append(Change(f"authorizer.delete:{name}", f"Delete authorizer {name}"))
    return first, last


def _show(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return value or "none"


# --- apply ---------------------------------------------------------------------------------------
def _delete(name: str, now: dict | None, delete) -> str:
    """Delete the authorizer `now` (REST or HTTP: `delete` takes its id); gone already is fine."""
    if now is None:
        return "already gone"
    try:
        delete(now["id"])
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    return f"deleted authorizer {name}"


def apply_rest(apigw, values: dict, action: str, name: str, spec: dict) -> str:
    api_id = values["api_id"]
    now = (values.get("authorizers") or {}).get(name)
    if action == "authorizer.delete":
        return _delete(
            name, now, lambda id_: apigw.delete_authorizer(restApiId=api_id, authorizerId=id_)
        )
    config = desired_authorizers(spec, values)[name]
    if now is None:
        kwargs = {"identitySource": config["identity_source"]}
        if config["provider_arns"]:
            kwargs["providerARNs"] = config["provider_arns"]
        if config["uri"]:
            kwargs["authorizerUri"] = config["uri"]
        created = apigw.create_authorizer(
            restApiId=api_id,
            name=name,
            type=config["type"],
            authorizerResultTtlInSeconds=TTL,
            **kwargs,
        )
        values.setdefault("authorizers", {})[name] = {**config, "id": created["id"]}
        return f"created authorizer {name} ({created['id']}): {_describe(config)}"
    paths = {"type": "/type", "identity_source": "/identitySource", "uri": "/authorizerUri"}
    operations = [
        {"op": "replace", "path": path, "value": config[field]}
        for field, path in paths.items()
        if now[field] != config[field]
    ]
    if operations:
        apigw.update_authorizer(
            restApiId=api_id, authorizerId=now["id"], patchOperations=operations
        )
    return f"authorizer {name}: {_describe(config)}"


def apply_http(v2, values: dict, action: str, name: str, spec: dict) -> str:
    api_id = values["api_id"]
    now = (values.get("authorizers") or {}).get(name)
    if action == "authorizer.delete":
        return _delete(name, now, lambda id_: v2.delete_authorizer(ApiId=api_id, AuthorizerId=id_))
    config = desired_authorizers(spec, values)[name]
    kwargs = {
        "AuthorizerType": config["type"],
        "IdentitySource": [config["identity_source"]],
    }
    if config["type"] == "JWT":
        kwargs["JwtConfiguration"] = {"Issuer": config["issuer"], "Audience": config["audience"]}
    else:
        kwargs.update(
            AuthorizerUri=config["uri"],
            AuthorizerPayloadFormatVersion="2.0",
            EnableSimpleResponses=True,
            AuthorizerResultTtlInSeconds=TTL,
        )
    if now is None:
        created = v2.create_authorizer(ApiId=api_id, Name=name, **kwargs)
        values.setdefault("authorizers", {})[name] = {**config, "id": created["AuthorizerId"]}
        return f"created authorizer {name} ({created['AuthorizerId']}): {_describe(config)}"
    v2.update_authorizer(ApiId=api_id, AuthorizerId=now["id"], Name=name, **kwargs)
    return f"authorizer {name}: {_describe(config)}"


def route_kwargs_rest(route: dict, values: dict) -> dict:
    """put_method's authorization arguments for a desired route."""
    kwargs = {"authorizationType": route["auth_type"]}
    if route["authorizer"]:
        kwargs["authorizerId"] = authorizer_ids(values)[route["authorizer"]]
    if route["scopes"]:
        kwargs["authorizationScopes"] = route["scopes"]
    return kwargs


def route_kwargs_http(route: dict, values: dict) -> dict:
    kwargs = {"AuthorizationType": route["auth_type"]}
    if route["authorizer"]:
        kwargs["AuthorizerId"] = authorizer_ids(values)[route["authorizer"]]
    if route["scopes"]:
        kwargs["AuthorizationScopes"] = route["scopes"]
    return kwargs
