"""Lambda functions: an execution role (IAM) and the function itself (code + configuration)."""

from __future__ import annotations

import base64
import json

from botocore.exceptions import ClientError

from deployments import names
from deployments.provisioners.base import Change, Context, Observed, WaitResult, field_diff
from portal.aws import aws_client, error_code, is_not_found

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
# Spec field → (label in the diff, unit).
CONFIG_FIELDS = {
    "runtime": ("runtime", ""),
    "handler": ("handler", ""),
    "memory_size": ("memory", "MB"),
    "timeout": ("timeout", "s"),
    "architecture": ("architecture", ""),
    "description": ("description", ""),
    "environment": ("environment variables", ""),
}


def _names(ctx_or_instance) -> tuple[str, str]:
    instance = getattr(ctx_or_instance, "instance", ctx_or_instance)
    env = instance.environment.slug
    return names.lambda_function(instance.service.slug, env), names.lambda_role(env)


def _client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


def _hex_sha(code_sha256_b64: str) -> str:
    return base64.b64decode(code_sha256_b64).hex() if code_sha256_b64 else ""


def _env_repr(variables: dict) -> str:
    # Show keys only: values may be sensitive and never belong in a diff or a log.
    return ", ".join(sorted(variables)) or "(none)"


def observe(ctx: Context) -> Observed:
    """Describe the function and its role as AWS has them now."""
    function_name, role_name = _names(ctx)
    values: dict = {"function_name": function_name, "role_name": role_name}
    try:
        values["role_arn"] = _client(ctx, "iam").get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    try:
        config = _client(ctx, "lambda").get_function(FunctionName=function_name)["Configuration"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return Observed(exists=False, values=values)
    values.update(
        function_arn=config["FunctionArn"],
        runtime=config.get("Runtime"),
        handler=config.get("Handler"),
        memory_size=config.get("MemorySize"),
        timeout=config.get("Timeout"),
        architecture=(config.get("Architectures") or ["x86_64"])[0],
        description=config.get("Description", ""),
        environment=(config.get("Environment") or {}).get("Variables", {}),
        code_sha256=_hex_sha(config.get("CodeSha256", "")),
        state=config.get("State"),
    )
    return Observed(exists=True, values=values)


def plan(spec: dict, observed: Observed) -> list[Change]:
    """The changes that take AWS from `observed` to `spec` (empty: nothing to do)."""
    values = observed.values
    changes = []
    if not values.get("role_arn"):
        changes.append(Change("role.ensure", f"Create IAM execution role {values['role_name']}"))
    if not observed.exists:
        details = tuple(
            field_diff(label, None, _display(key, spec.get(key)), unit)
            for key, (label, unit) in CONFIG_FIELDS.items()
        )
        changes.append(
            Change("function.create", f"Create Lambda function {values['function_name']}", details)
        )
        return changes
    if spec["code_sha256"] != values.get("code_sha256"):
        changes.append(
            Change(
                "function.code",
                "Update function code",
                (field_diff("code", values.get("code_sha256", "")[:12], spec["code_sha256"][:12]),),
            )
        )
    details = tuple(
        field_diff(label, _display(key, values.get(key)), _display(key, spec.get(key)), unit)
        for key, (label, unit) in CONFIG_FIELDS.items()
        if _normal(key, spec.get(key)) != _normal(key, values.get(key))
    )
    if details:
        changes.append(Change("function.config", "Update function configuration", details))
    return changes


def _normal(key: str, value):
    if key == "environment":
        return value or {}
    if key == "description":
        return value or ""
    return value


def _display(key: str, value):
    if key == "environment":
        return _env_repr(value or {})
    if key == "description":
        return repr(value or "")
    return value


def apply(ctx: Context, change: Change) -> str:
    """Carry out one change; every branch first checks what exists, so a re-run adopts it.

    Returns a short message for the step log.
    """
    function_name, role_name = _names(ctx)
    spec = ctx.spec
    if change.key == "role.ensure":
        return _ensure_role(ctx, role_name)
    role_arn = ctx.resources.get("role_arn") or _ensure_role(ctx, role_name, quiet=True)
    lam = _client(ctx, "lambda")
    if change.key == "function.create":
        try:
            arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
            ctx.record_resource("function_arn", arn)
            return f"adopted existing function {arn}"
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        response = lam.create_function(
            FunctionName=function_name,
            Role=role_arn,
            Code={"ZipFile": ctx.artifact_loader(spec["code_sha256"])},
            Tags=_tags(ctx),
            **_config_kwargs(spec, role_arn),
        )
        ctx.record_resource("function_arn", response["FunctionArn"])
        return f"created {response['FunctionArn']}"
    if change.key == "function.code":
        lam.update_function_code(
            FunctionName=function_name, ZipFile=ctx.artifact_loader(spec["code_sha256"])
        )
        return f"code {spec['code_sha256'][:12]} uploaded"
    if change.key == "function.config":
        lam.update_function_configuration(
            FunctionName=function_name, **_config_kwargs(spec, role_arn, for_update=True)
        )
        return "; ".join(change.details)
    raise ValueError(f"Unknown Lambda change {change.key!r}")


def _config_kwargs(spec: dict, role_arn: str, for_update: bool = False) -> dict:
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


def _tags(ctx: Context) -> dict:
    return names.tags(
        service_slug=ctx.service.slug,
        environment_slug=ctx.environment.slug,
        team_slug=ctx.service.owner.slug,
    )


def _ensure_role(ctx: Context, role_name: str, quiet: bool = False) -> str:
    iam = _client(ctx, "iam")
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
                Tags=[{"Key": k, "Value": v} for k, v in _env_tags(ctx).items()],
            )["Role"]["Arn"]
        except ClientError as create_exc:
            if error_code(create_exc) != "EntityAlreadyExists":
                raise
            arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=role_name, PolicyName=LOGS_POLICY_NAME, PolicyDocument=LOGS_POLICY
        )
        message = f"created role {arn}"
    ctx.record_resource("role_arn", arn)
    return arn if quiet else message


def _env_tags(ctx: Context) -> dict:
    return {"slipway:environment": ctx.environment.slug, "managed-by": "slipway"}


def wait(ctx: Context) -> WaitResult:
    """Done when the function is Active and its last update Successful."""
    function_name, _ = _names(ctx)
    config = _client(ctx, "lambda").get_function_configuration(FunctionName=function_name)
    state = config.get("State", "Active")
    update = config.get("LastUpdateStatus", "Successful")
    if state == "Failed":
        return WaitResult(done=False, error=f"Function state Failed: {config.get('StateReason')}")
    if update == "Failed":
        reason = config.get("LastUpdateStatusReason")
        return WaitResult(done=False, error=f"Last update failed: {reason}")
    if state == "Active" and update == "Successful":
        return WaitResult(done=True, detail="State Active, last update Successful")
    return WaitResult(done=False, detail=f"State {state}, last update {update}")
