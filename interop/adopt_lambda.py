"""Adopting an unmanaged Lambda function: its configuration becomes a Lambda spec."""

from __future__ import annotations

import base64

from django.core.exceptions import ValidationError

from deployments.provisioners.lambda_ import normalized
from interop.adopters import MANAGED_TAG, Live, Unmanaged, client
from portal.aws import request_id


def spec_from_live(config: dict, concurrency: dict) -> dict:
    """The applied spec of an adopted function, in the Lambda provisioner's own spec shape."""
    sha = config.get("CodeSha256", "")
    return normalized(
        {
            "kind": "lambda",
            "runtime": config.get("Runtime"),
            "handler": config.get("Handler"),
            "memory_size": config.get("MemorySize"),
            "timeout": config.get("Timeout"),
            "architecture": (config.get("Architectures") or ["x86_64"])[0],
            "description": config.get("Description", ""),
            "environment": (config.get("Environment") or {}).get("Variables", {}),
            "code_sha256": base64.b64decode(sha).hex() if sha else "",
            "reserved_concurrency": concurrency.get("ReservedConcurrentExecutions"),
        }
    )


class LambdaAdopter:
    """Lambda functions: listed with runtime and memory, adopted under their own name."""

    kind = "lambda"
    adoptable = True
    identity_key = "function_arn"
    arn_service = "lambda"

    def discover(self, *, environment, actor) -> list[Unmanaged]:
        lam = client("lambda", environment, actor)
        found = []
        for page in lam.get_paginator("list_functions").paginate():
            for fn in page["Functions"]:
                # ListFunctions carries no tags: one ListTags per function.
                tags = lam.list_tags(Resource=fn["FunctionArn"]).get("Tags") or {}
                if MANAGED_TAG in tags:
                    continue
                found.append(
                    Unmanaged(
                        kind="lambda",
                        name=fn["FunctionName"],
                        arn=fn["FunctionArn"],
                        detail=f"{fn.get('Runtime', 'container image')}, {fn.get('MemorySize')} MB",
                        adoptable=True,
                        tags=tags,
                    )
                )
        return found

    def read(self, *, environment, name: str, actor) -> Live:
        function = client("lambda", environment, actor).get_function(FunctionName=name)
        config = function["Configuration"]
        if config["FunctionArn"].count(":") > 6:  # …:function:<name>:<version or alias>
            raise ValidationError(
                {"name": "Adopt the function itself, not one of its versions or aliases."}
            )
        return Live(
            name=config["FunctionName"],
            spec=spec_from_live(config, function.get("Concurrency") or {}),
            resources={
                "function_arn": config["FunctionArn"],
                "function_name": config["FunctionName"],
                "role_arn": config.get("Role", ""),
                "adopted": True,
            },
            description=config.get("Description", ""),
            managed=MANAGED_TAG in (function.get("Tags") or {}),
            request_ids=[request_id(function)],
            tag_targets={"function": [config["FunctionArn"]]},
        )

    def tag(self, *, environment, live: Live, tags: dict[str, str], actor) -> list:
        lam = client("lambda", environment, actor)
        return [
            request_id(lam.tag_resource(Resource=arn, Tags=tags))
            for arn in live.tag_targets["function"]
        ]

    def untag(self, *, environment, live: Live, keys: list[str], actor) -> None:
        lam = client("lambda", environment, actor)
        for arn in live.tag_targets["function"]:
            lam.untag_resource(Resource=arn, TagKeys=keys)


ADOPTER = LambdaAdopter()
