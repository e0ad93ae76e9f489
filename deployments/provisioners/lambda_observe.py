"""Lambda: what AWS holds for a function now (role, function, versions, alias, concurrency,
triggers, topics), read with independent calls made at once (portal.aws.concurrently)."""

from __future__ import annotations

import base64

from botocore.exceptions import ClientError

from deployments import names
from deployments.provisioners import lambda_access as access
from deployments.provisioners import lambda_steps as steps
from deployments.provisioners import lambda_topics as topics
from deployments.provisioners import lambda_triggers as triggers
from deployments.provisioners.base import Context, Observed
from portal.aws import concurrently, is_not_found


def resource_names(ctx: Context) -> tuple[str, str]:
    instance = ctx.instance
    env = instance.environment.slug
    # An adopted function keeps the name it had before Slipway managed it.
    function_name = instance.resources.get("function_name") or names.lambda_function(
        instance.service.slug, env
    )
    return function_name, names.lambda_role(env)


def _hex_sha(code_sha256_b64: str) -> str:
    return base64.b64decode(code_sha256_b64).hex() if code_sha256_b64 else ""


def observe(ctx: Context) -> Observed:
    """Describe role, function, versions, alias, concurrency and triggers as AWS has them now."""
    function_name, _ = resource_names(ctx)
    role_name = access.role_name(ctx)
    values: dict = {"function_name": function_name, "role_name": role_name}
    iam, lam = steps.client(ctx, "iam"), steps.client(ctx, "lambda")
    # The role and the function are independent reads: made at once.
    role, function = concurrently(
        lambda: _found_or_none(lambda: iam.get_role(RoleName=role_name)),
        lambda: _found_or_none(lambda: lam.get_function(FunctionName=function_name)),
    )
    if role is not None:
        values["role_arn"] = role["Role"]["Arn"]
    if function is None:
        values.update(steps.observe_code_s3(ctx))
        # Triggers can outlive a function deleted behind Slipway's back; find them by name.
        values["triggers"] = triggers.observe(ctx, function_name, "", [])
        access.observe(ctx, values, "")
        topics.observe(ctx, values, "", [])
        return Observed(exists=False, values=values)
    config = function["Configuration"]
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
        code_s3_deployed=(function.get("Tags") or {}).get(steps.CODE_S3_TAG, ""),
        state=config.get("State"),
        reserved_concurrency=(function.get("Concurrency") or {}).get(
            "ReservedConcurrentExecutions"
        ),
    )
    values.update(steps.observe_code_s3(ctx))
    # The alias's provisioned concurrency and policy are read with the versions and the alias
    # when Slipway recorded the alias (an update); otherwise only once the alias is seen.
    recorded = bool(ctx.instance.resources.get("alias_arn"))
    versions, *alias_reads = concurrently(
        lambda: steps.observe_versions(lam, function_name, config),
        *(
            (
                lambda: steps.observe_provisioned(lam, function_name),
                lambda: triggers.policy_statements(lam, function_name),
            )
            if recorded
            else ()
        ),
    )
    values.update(versions)
    alias_arn = values.get("alias_arn", "")
    if alias_arn and not alias_reads:
        alias_reads = [
            steps.observe_provisioned(lam, function_name),
            triggers.policy_statements(lam, function_name),
        ]
    provisioned, statements = alias_reads if alias_arn else ({}, [])
    values.update(provisioned)
    values["triggers"] = triggers.observe(ctx, function_name, alias_arn, statements)
    topics.observe(ctx, values, alias_arn, statements)
    access.observe(ctx, values, config.get("Role", ""))
    return Observed(exists=True, values=values)


def _found_or_none(call):
    """The call's answer, or None when AWS says the resource does not exist."""
    try:
        return call()
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return None
