"""The AWS calls behind the Lambda provisioner: reads for observe(), steps for apply().

Each step checks what exists first, so running it again adopts instead of duplicating.
"""

from __future__ import annotations

import hashlib
import json

from botocore.exceptions import ClientError

from deployments import names
from deployments.provisioners.base import Context
from portal.aws import aws_client, concurrently, error_code, is_not_found

ALIAS = names.LAMBDA_ALIAS
# A published version matches $LATEST when these agree (Description is the version's own).
VERSION_FIELDS = (
    "CodeSha256",
    "Runtime",
    "Handler",
    "MemorySize",
    "Timeout",
    "Environment",
    "Architectures",
    "Role",
)
CODE_S3_TAG = "slipway:code-s3"  # digest of bucket/key/ETag deployed from S3
# Inline (not the AWS-managed AWSLambdaBasicExecutionRole): put_role_policy is idempotent and
# the policy is visible next to the role, with nothing to look up.
LOGS_POLICY_NAME = "slipway-write-logs"
LOGS_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    }
)
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


def s3_code_token(bucket: str, key: str, etag: str) -> str:
    return hashlib.sha256(f"{bucket}/{key}#{etag}".encode()).hexdigest()[:32]


def ignore_not_found(call) -> None:
    try:
        call()
    except ClientError as exc:
        if not is_not_found(exc):
            raise


def code_kwargs(ctx: Context, spec: dict) -> tuple[dict, str]:
    """(Code arguments for AWS, the S3 token to tag, empty for a zip)."""
    location = spec.get("code_s3")
    if not location:
        return {"ZipFile": ctx.artifact_loader(spec["code_sha256"])}, ""
    head = client(ctx, "s3").head_object(Bucket=location["bucket"], Key=location["key"])
    etag = head.get("ETag", "").strip('"')
    kwargs = {"S3Bucket": location["bucket"], "S3Key": location["key"]}
    if head.get("VersionId") and head["VersionId"] != "null":
        kwargs["S3ObjectVersion"] = head["VersionId"]
    return kwargs, s3_code_token(location["bucket"], location["key"], etag)


def create_function(ctx, lam, function_name: str, role_name: str, spec: dict) -> str:
    """Create the function; if it exists already (an interrupted run made it, or it appeared
    since the plan), adopt it instead. No describe first: the run's observation said it was
    missing, and AWS's "already exists" answer settles the rare race."""
    role_arn = ctx.seen("role_arn") or ensure_role(ctx, role_name, quiet=True)
    code, token = code_kwargs(ctx, spec)
    tags = resource_tags(ctx) | ({CODE_S3_TAG: token} if token else {})
    try:
        response = lam.create_function(
            FunctionName=function_name,
            Role=role_arn,
            Code=code,
            Tags=tags,
            **config_kwargs(spec, role_arn),
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
        arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
        ctx.record_resource("function_arn", arn)
        return f"adopted existing function {arn}"
    ctx.record_resource("function_arn", response["FunctionArn"])
    return f"created {response['FunctionArn']}"


def update_code(ctx, lam, function_name: str, spec: dict) -> str:
    code, token = code_kwargs(ctx, spec)
    # The architecture changes with the code (UpdateFunctionConfiguration cannot change it).
    response = lam.update_function_code(
        FunctionName=function_name, Architectures=[spec["architecture"]], **code
    )
    arn = response["FunctionArn"].removesuffix(":$LATEST")
    if token:
        lam.tag_resource(Resource=arn, Tags={CODE_S3_TAG: token})
        return f"code from s3://{spec['code_s3']['bucket']}/{spec['code_s3']['key']} uploaded"
    lam.untag_resource(Resource=arn, TagKeys=[CODE_S3_TAG])
    return f"code {spec['code_sha256'][:12]} uploaded"


def newest_version(lam, function_name: str) -> str:
    versions = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
        versions += [int(v["Version"]) for v in page["Versions"] if v["Version"] != "$LATEST"]
    return str(max(versions))


def point_alias(ctx, lam, function_name: str, version: str) -> str:
    """Point alias `live` at `version`: created when the run's observation found none (or,
    without an observation, when AWS has none); moved otherwise."""
    before = ctx.seen("alias_version") if ctx.seen("alias_arn") else None
    if ctx.observed is None:
        try:
            before = lam.get_alias(FunctionName=function_name, Name=ALIAS)["FunctionVersion"]
        except ClientError as exc:
            if not is_not_found(exc):
                raise
    if before is None:
        try:
            alias = lam.create_alias(
                FunctionName=function_name, Name=ALIAS, FunctionVersion=version
            )
        except ClientError as exc:
            # Created since the observation (an interrupted run): move it instead.
            if error_code(exc) != "ResourceConflictException":
                raise
        else:
            ctx.record_resource("alias_arn", alias["AliasArn"])
            ctx.remember("alias_arn", alias["AliasArn"])
            ctx.remember("alias_version", version)
            return f"alias {ALIAS} created at version {version}"
    if before != version:
        alias = lam.update_alias(FunctionName=function_name, Name=ALIAS, FunctionVersion=version)
        ctx.remember("alias_arn", alias["AliasArn"])
        ctx.remember("alias_version", version)
    return f"alias {ALIAS} → version {version} (was {before or 'another version'})"


def set_reserved(lam, function_name: str, wanted: int | None) -> str:
    if wanted is None:
        lam.delete_function_concurrency(FunctionName=function_name)
        return "reserved concurrency removed (the function uses the account's pool)"
    lam.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=wanted)
    return f"reserved concurrency {wanted}"


def set_provisioned(lam, function_name: str, wanted: int) -> str:
    if wanted:
        lam.put_provisioned_concurrency_config(
            FunctionName=function_name,
            Qualifier=ALIAS,
            ProvisionedConcurrentExecutions=wanted,
        )
        return f"provisioned concurrency {wanted} requested on alias {ALIAS}"
    ignore_not_found(
        lambda: lam.delete_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier=ALIAS
        )
    )
    return f"provisioned concurrency removed from alias {ALIAS}"


def config_kwargs(spec: dict, role_arn: str, for_update: bool = False) -> dict:
    kwargs = {
        "Runtime": spec["runtime"],
        "Handler": spec["handler"],
        "MemorySize": spec["memory_size"],
        "Timeout": spec["timeout"],
        "Description": spec.get("description", ""),
        "Environment": {"Variables": spec.get("environment") or {}},
    }
    if for_update:
        kwargs["Role"] = role_arn
    else:
        # Architectures can only be set with the code (create or update_function_code).
        kwargs["Architectures"] = [spec.get("architecture", "x86_64")]
    return kwargs


def resource_tags(ctx: Context) -> dict:
    return names.tags(
        service_slug=ctx.service.slug,
        environment_slug=ctx.environment.slug,
        team_slug=ctx.service.owner.slug,
    )


def ensure_role(ctx: Context, role_name: str, quiet: bool = False) -> str:
    iam = client(ctx, "iam")
    try:
        arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        message = f"role {arn} exists"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        try:
            arn = iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=TRUST_POLICY,
                Description="Execution role for Lambda functions deployed by Slipway",
                Tags=[{"Key": k, "Value": v} for k, v in env_tags(ctx).items()],
            )["Role"]["Arn"]
        except ClientError as create_exc:
            if error_code(create_exc) != "EntityAlreadyExists":
                raise
            arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=role_name, PolicyName=LOGS_POLICY_NAME, PolicyDocument=LOGS_POLICY
        )
        message = f"created role {arn}"
    ctx.remember("role_arn", arn)
    # Not recorded on the instance: the role is the environment's, shared by its functions.
    return arn if quiet else message


def env_tags(ctx: Context) -> dict:
    return {"slipway:environment": ctx.environment.slug, "managed-by": "slipway"}


# --- reads for observe() -----------------------------------------------------------------------
def observe_code_s3(ctx: Context) -> dict:
    location = ctx.spec.get("code_s3")
    if not location:
        return {}
    try:
        head = client(ctx, "s3").head_object(Bucket=location["bucket"], Key=location["key"])
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}:
            return {"code_s3_available": ""}
        raise
    etag = head.get("ETag", "").strip('"')
    return {"code_s3_available": s3_code_token(location["bucket"], location["key"], etag)}


def observe_versions(lam, function_name: str, latest: dict) -> dict:
    """The published versions and the alias `live` (two independent reads, made at once)."""

    def listed() -> list[dict]:
        pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=function_name)
        return [v for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]

    def alias() -> dict | None:
        try:
            return lam.get_alias(FunctionName=function_name, Name=ALIAS)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            return None

    published, found_alias = concurrently(listed, alias)
    newest = max(published, key=lambda v: int(v["Version"]), default=None)
    found = {
        "version_count": len(published),
        "latest_version": newest["Version"] if newest else None,
        "unpublished_changes": newest is None
        or any(newest.get(f) != latest.get(f) for f in VERSION_FIELDS),
        "alias_version": None,
        "alias_arn": "",
    }
    if found_alias is not None:
        found.update(
            alias_version=found_alias["FunctionVersion"], alias_arn=found_alias["AliasArn"]
        )
    return found


def observe_provisioned(lam, function_name: str) -> dict:
    try:
        config = lam.get_provisioned_concurrency_config(FunctionName=function_name, Qualifier=ALIAS)
    except ClientError as exc:
        if is_not_found(exc):
            return {"provisioned_concurrency": 0}
        raise
    return {
        "provisioned_concurrency": config.get("RequestedProvisionedConcurrentExecutions", 0),
        "provisioned_status": config.get("Status"),
    }
