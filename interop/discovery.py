"""Discovery: AWS resources in an environment that Slipway does not manage, and adopting one.

Slipway tags everything it creates with `slipway:service` (deployments/names.py); anything
without that tag is unmanaged. Adoption makes an unmanaged Lambda function a catalog service:
its observed configuration becomes the instance's applied spec, its ARN the instance's
resource, and it is tagged like a Slipway resource (so it leaves the discovery list).

ECS services and API Gateway APIs are listed too; adopting them is not offered yet (their
provisioners name and shape resources in ways an arbitrary existing one does not follow).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.services import audit_record
from catalog import services as catalog_services
from catalog.models import Environment, Membership, ServiceInstance, Team
from deployments import names
from deployments.provisioners.lambda_ import normalized
from portal.aws import aws_client, request_id

MANAGED_TAG = "slipway:service"


@dataclass(frozen=True)
class Unmanaged:
    """One resource found in AWS with no Slipway tag."""

    kind: str  # Service.Kind value
    name: str
    arn: str
    detail: str  # e.g. "python3.12, 128 MB"
    adoptable: bool


def _client(service: str, environment: Environment, actor) -> object:
    return aws_client(service, environment=environment, actor=_actor_name(actor))


def _actor_name(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else "slipway"


def discover_unmanaged(*, environment: Environment, actor=None) -> list[Unmanaged]:
    """Lambda functions, ECS services and API Gateway APIs without a `slipway:service` tag."""
    return [
        *_lambda_functions(environment, actor),
        *_ecs_services(environment, actor),
        *_rest_apis(environment, actor),
        *_http_apis(environment, actor),
    ]


def _lambda_functions(environment, actor) -> list[Unmanaged]:
    lam = _client("lambda", environment, actor)
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
                )
            )
    return found


def _ecs_services(environment, actor) -> list[Unmanaged]:
    ecs = _client("ecs", environment, actor)
    found = []
    for cluster_page in ecs.get_paginator("list_clusters").paginate():
        for cluster in cluster_page["clusterArns"]:
            arns = []
            for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
                arns += page["serviceArns"]
            for start in range(0, len(arns), 10):  # DescribeServices takes at most 10
                described = ecs.describe_services(
                    cluster=cluster, services=arns[start : start + 10], include=["TAGS"]
                )
                for svc in described["services"]:
                    tags = {t["key"]: t["value"] for t in svc.get("tags") or []}
                    if MANAGED_TAG in tags:
                        continue
                    found.append(
                        Unmanaged(
                            kind="ecs",
                            name=svc["serviceName"],
                            arn=svc["serviceArn"],
                            detail=f"{svc.get('desiredCount', 0)} task(s) in "
                            f"{cluster.rsplit('/', 1)[-1]}",
                            adoptable=False,
                        )
                    )
    return found


def _rest_apis(environment, actor) -> list[Unmanaged]:
    apigw = _client("apigateway", environment, actor)
    found = []
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for api in page["items"]:
            if MANAGED_TAG in (api.get("tags") or {}):
                continue
            region = environment.region
            found.append(
                Unmanaged(
                    kind="apigateway",
                    name=api["name"],
                    arn=f"arn:aws:apigateway:{region}::/restapis/{api['id']}",
                    detail="REST API",
                    adoptable=False,
                )
            )
    return found


def _http_apis(environment, actor) -> list[Unmanaged]:
    apigw = _client("apigatewayv2", environment, actor)
    found = []
    token = None
    while True:
        page = apigw.get_apis(**({"NextToken": token} if token else {}))
        for api in page.get("Items", []):
            if MANAGED_TAG in (api.get("Tags") or {}):
                continue
            found.append(
                Unmanaged(
                    kind="apigateway",
                    name=api["Name"],
                    arn=f"arn:aws:apigateway:{environment.region}::/apis/{api['ApiId']}",
                    detail=f"{api.get('ProtocolType', 'HTTP')} API",
                    adoptable=False,
                )
            )
        token = page.get("NextToken")
        if not token:
            return found


def _lambda_spec(config: dict, concurrency: dict) -> dict:
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


def lambda_adopt(
    *,
    environment: Environment,
    function_name: str,
    owner: Team,
    slug: str,
    user: AbstractBaseUser,
    description: str = "",
    source: str | None = None,
) -> ServiceInstance:
    """Make an unmanaged Lambda function a catalog service owned by `owner`.

    Steps: check the user is in the owner team; read the function (refusing one Slipway
    already manages); create the service and its instance with the observed spec and ARN;
    tag the function like every Slipway resource; audit, with the AWS request ids.
    """
    if not (user.is_staff or Membership.objects.filter(team=owner, user=user).exists()):
        audit_record(
            actor=user,
            action="resource.adopt",
            target=("lambda.function", function_name, function_name),
            environment=environment,
            result="denied",
            source=source,
        )
        raise PermissionDenied(f"You are not a member of {owner.name}.")
    lam = _client("lambda", environment, user)
    function = lam.get_function(FunctionName=function_name)
    config = function["Configuration"]
    if MANAGED_TAG in (function.get("Tags") or {}):
        raise ValidationError({"function_name": "Slipway already manages this function."})
    spec = _lambda_spec(config, function.get("Concurrency") or {})
    request_ids = [request_id(function)]
    tags = names.tags(service_slug=slug, environment_slug=environment.slug, team_slug=owner.slug)
    # AWS first, outside any transaction: tag the function, then write the rows in one short
    # transaction. If the rows cannot be written (the slug was taken meanwhile), the tags are
    # taken off again, so Discovery still lists the function as unmanaged.
    tagged = lam.tag_resource(Resource=config["FunctionArn"], Tags=tags)
    request_ids.append(request_id(tagged))
    try:
        with transaction.atomic():
            service = catalog_services.service_create(
                user=user,
                owner=owner,
                slug=slug,
                kind="lambda",
                description=description or config.get("Description", ""),
            )
            instance = catalog_services.instance_get_or_create(
                service=service, environment=environment
            )
            instance.resources = {
                "function_arn": config["FunctionArn"],
                "function_name": config["FunctionName"],
                "role_arn": config.get("Role", ""),
                "adopted": True,
            }
            instance.applied_spec = spec
            instance.status = ServiceInstance.Status.HEALTHY
            instance.save(update_fields=["resources", "applied_spec", "status", "updated_at"])
            audit_record(
                actor=user,
                action="resource.adopt",
                target=instance,
                environment=environment,
                after={"function_arn": config["FunctionArn"], "applied_spec": spec},
                aws_request_ids=request_ids,
                source=source,
            )
    except Exception:
        lam.untag_resource(Resource=config["FunctionArn"], TagKeys=list(tags))
        raise
    return instance
