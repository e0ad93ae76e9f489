"""Lambda functions: the execution role, the function, a version per deploy behind alias `live`,
reserved and provisioned concurrency, and triggers (S3, EventBridge; see `lambda_triggers`).

Spec keys (older specs lack the later ones; missing means the default in `normalized`):
kind, runtime, handler, memory_size, timeout, architecture, description, environment,
code_sha256 (a stored zip) or code_s3 {"bucket", "key"}, reserved_concurrency (None =
unreserved), provisioned_concurrency (0 = none, on alias `live`), triggers {"s3", "eventbridge"}.

Every deploy that changes code or configuration publishes a version and moves `live` to it;
provisioned concurrency and all triggers point at the alias, never at $LATEST.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from deployments import names
from deployments.provisioners import lambda_access as access
from deployments.provisioners import lambda_steps as steps
from deployments.provisioners import lambda_topics as topics
from deployments.provisioners import lambda_triggers as triggers
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    WaitResult,
    field_diff,
    owned_from,
)
from deployments.provisioners.lambda_observe import observe as observe  # the kind's observe
from deployments.provisioners.lambda_observe import resource_names as _names
from deployments.specs import checked_spec
from portal.aws import is_not_found

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
ALIAS = names.LAMBDA_ALIAS


def normalized(spec: dict) -> dict:
    """The spec with every optional key present (older specs stay valid)."""
    out = {
        "description": "",
        "environment": {},
        "architecture": "x86_64",
        "reserved_concurrency": None,
        "provisioned_concurrency": 0,
        **spec,
    }
    found = spec.get("triggers") or {}
    out["triggers"] = {"s3": found.get("s3") or [], "eventbridge": found.get("eventbridge") or []}
    return out


def scale_values(spec: dict) -> dict[str, int | None]:
    """The numbers the environment's guardrails check.

    Provisioned concurrency 0 means "on demand" (the function still serves), so it is reported
    as absent rather than as a scale to zero; reserved concurrency 0 really stops the function.
    """
    spec = normalized(spec)
    return {
        "reserved_concurrency": spec["reserved_concurrency"],
        "provisioned_concurrency": spec["provisioned_concurrency"] or None,
    }


def _env_repr(variables: dict) -> str:
    # Show keys only: values may be sensitive and never belong in a diff or a log.
    return ", ".join(sorted(variables)) or "(none)"


# --- plan ----------------------------------------------------------------------------------------
def plan(spec: dict, observed: Observed) -> list[Change]:
    """The changes that take AWS from `observed` to `spec` (empty: nothing to do). Pure."""
    checked_spec(spec)  # the typed spec's rules (deployments/specs/lambda_.py); raises ValueError
    spec = normalized(spec)
    values = observed.values
    changes = []
    if not values.get("role_arn"):
        changes.append(Change("role.ensure", f"Create IAM execution role {values['role_name']}"))
    changes += access.plan_policy(values)
    if not observed.exists:
        details = tuple(
            field_diff(label, None, _display(key, spec.get(key)), unit)
            for key, (label, unit) in CONFIG_FIELDS.items()
        ) + (field_diff("code", None, _code_display(spec)),)
        changes.append(
            Change("function.create", f"Create Lambda function {values['function_name']}", details)
        )
    else:
        changes += _plan_function_update(spec, values)
    changes += access.plan_cleanup(values)
    changes += _plan_version(changes, values)
    changes += _plan_concurrency(spec, values)
    changes += [
        Change(key, summary, details)
        for key, summary, details in triggers.plan(
            spec, values.get("triggers", {}), values["function_name"]
        )
    ]
    changes += topics.plan(values)
    return changes


def _code_display(spec: dict) -> str:
    if spec.get("code_s3"):
        return f"s3://{spec['code_s3']['bucket']}/{spec['code_s3']['key']}"
    return f"zip {spec.get('code_sha256', '')[:12]}"


def _plan_function_update(spec: dict, values: dict) -> list[Change]:
    changes = []
    if spec.get("code_s3"):
        code_changed = values.get("code_s3_deployed") != values.get("code_s3_available")
        before = "zip" if not values.get("code_s3_deployed") else "previous S3 object"
        if not values.get("code_s3_available"):
            before += " (the S3 object is missing: upload it first, or this step fails)"
    else:
        code_changed = spec.get("code_sha256") != values.get("code_sha256")
        before = values.get("code_sha256", "")[:12]
    code_details = [field_diff("code", before, _code_display(spec))] if code_changed else []
    # The architecture can only change together with the code (UpdateFunctionCode).
    if spec["architecture"] != values.get("architecture"):
        code_details.append(
            field_diff("architecture", values.get("architecture"), spec["architecture"])
        )
    if code_details:
        changes.append(Change("function.code", "Update function code", tuple(code_details)))
    details = tuple(
        field_diff(label, _display(key, values.get(key)), _display(key, spec.get(key)), unit)
        for key, (label, unit) in CONFIG_FIELDS.items()
        if key != "architecture" and _normal(key, spec.get(key)) != _normal(key, values.get(key))
    )
    role_line = access.role_detail(values)
    if role_line:
        details += (role_line,)
    if details:
        changes.append(Change("function.config", "Update function configuration", details))
    return changes


def _plan_version(planned: list[Change], values: dict) -> list[Change]:
    """Publish when code or configuration change or $LATEST is unpublished; else fix the alias."""
    function_changes = {"function.create", "function.code", "function.config"}
    alias = values.get("alias_version")
    if values.get("unpublished_changes", True) or any(c.key in function_changes for c in planned):
        detail = field_diff(f"alias {ALIAS}", f"version {alias}" if alias else None, "new version")
        return [
            Change("version.publish", f"Publish a new version and point {ALIAS} at it", (detail,))
        ]
    latest = values["latest_version"]
    if alias != latest:
        before = f"version {alias}" if alias else None
        return [
            Change(
                "alias.ensure",
                f"Point alias {ALIAS} at version {latest}",
                (field_diff(f"alias {ALIAS}", before, f"version {latest}"),),
            )
        ]
    return []


def _plan_concurrency(spec: dict, values: dict) -> list[Change]:
    changes = []
    want, have = spec["reserved_concurrency"], values.get("reserved_concurrency")
    if want != have:
        line = field_diff(
            "reserved concurrency",
            have if have is not None else "unreserved",
            want if want is not None else "unreserved",
        )
        changes.append(Change("concurrency.reserved", "Set reserved concurrency", (line,)))
    want, have = spec["provisioned_concurrency"] or 0, values.get("provisioned_concurrency") or 0
    if want != have:
        line = field_diff(f"provisioned concurrency (alias {ALIAS})", have, want)
        changes.append(Change("concurrency.provisioned", "Set provisioned concurrency", (line,)))
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


def plan_delete(observed: Observed) -> list[Change]:
    """Teardown in reverse dependency order; the shared execution role stays."""
    values = observed.values
    changes = [
        Change(key, summary, details)
        for key, summary, details in triggers.plan_delete(values.get("triggers", {}))
    ]
    changes += topics.plan_delete(values)
    if not observed.exists:
        return changes
    if values.get("provisioned_concurrency"):
        changes.append(
            Change(
                "concurrency.provisioned.delete",
                f"Remove provisioned concurrency from alias {ALIAS}",
                (field_diff("provisioned concurrency", values["provisioned_concurrency"], 0),),
            )
        )
    if values.get("alias_arn"):
        changes.append(Change("alias.delete", f"Delete alias {ALIAS}"))
    count = values.get("version_count", 0)
    changes.append(
        Change(
            "function.delete",
            f"Delete Lambda function {values['function_name']}",
            (f"with its {count} published version(s) and reserved concurrency",),
        )
    )
    if values.get("own_role_arn"):
        changes.append(
            Change("role.own.delete", f"Delete the function's own role {values['own_role']}")
        )
    return changes


# --- apply ---------------------------------------------------------------------------------------
def apply(ctx: Context, change: Change) -> str:
    """Carry out one change; every branch first checks what exists, so a re-run adopts it.

    Returns a short message for the step log.
    """
    function_name, _ = _names(ctx)
    role_name = access.role_name(ctx)
    spec = normalized(ctx.spec)
    lam = steps.client(ctx, "lambda")
    key = change.key
    if key in access.KEYS:
        return access.apply(ctx, key)
    if key == "role.ensure":
        return steps.ensure_role(ctx, role_name)
    if key.startswith((triggers.S3_KEY, triggers.EVENTS_KEY, topics.PREFIX)):
        alias_arn = ctx.seen("alias_arn") or _alias_arn(ctx, lam, function_name, key)
        if key.startswith(topics.PREFIX):
            return topics.apply(ctx, key, function_name, alias_arn)
        return triggers.apply(ctx, key, function_name, alias_arn)
    if key == "function.create":
        return steps.create_function(ctx, lam, function_name, role_name, spec)
    if key == "function.code":
        return steps.update_code(ctx, lam, function_name, spec)
    if key == "function.config":
        role_arn = ctx.seen("role_arn") or steps.ensure_role(ctx, role_name, quiet=True)
        lam.update_function_configuration(
            FunctionName=function_name, **steps.config_kwargs(spec, role_arn, for_update=True)
        )
        return "; ".join(change.details)
    if key == "version.publish":
        version = lam.publish_version(FunctionName=function_name)["Version"]
        return f"published version {version}; " + steps.point_alias(
            ctx, lam, function_name, version
        )
    if key == "alias.ensure":
        return steps.point_alias(ctx, lam, function_name, steps.newest_version(lam, function_name))
    if key == "concurrency.reserved":
        return steps.set_reserved(lam, function_name, spec["reserved_concurrency"])
    if key in ("concurrency.provisioned", "concurrency.provisioned.delete"):
        wanted = 0 if key.endswith(".delete") else spec["provisioned_concurrency"]
        return steps.set_provisioned(lam, function_name, wanted)
    if key == "alias.delete":
        steps.ignore_not_found(lambda: lam.delete_alias(FunctionName=function_name, Name=ALIAS))
        return f"alias {ALIAS} deleted"
    if key == "function.delete":
        steps.ignore_not_found(lambda: lam.delete_function(FunctionName=function_name))
        return f"function {function_name} deleted (the shared execution role stays)"
    raise ValueError(f"Unknown Lambda change {key!r}")


def _alias_arn(ctx: Context, lam, function_name: str, key: str) -> str:
    """The alias's ARN from AWS (when this run has not observed it)."""
    try:
        return lam.get_alias(FunctionName=function_name, Name=ALIAS)["AliasArn"]
    except ClientError as exc:
        # Removing a trigger must work even when the alias (or function) is already gone.
        if not (is_not_found(exc) and key.endswith(".delete")):
            raise
        return ctx.resources.get("alias_arn", "")


# --- wait ----------------------------------------------------------------------------------------
def wait(ctx: Context) -> WaitResult:
    """Done when the function is Active, its last update Successful, provisioned capacity READY."""
    function_name, _ = _names(ctx)
    lam = steps.client(ctx, "lambda")
    config = lam.get_function_configuration(FunctionName=function_name)
    state = config.get("State", "Active")
    update = config.get("LastUpdateStatus", "Successful")
    if state == "Failed":
        return WaitResult(done=False, error=f"Function state Failed: {config.get('StateReason')}")
    if update == "Failed":
        reason = config.get("LastUpdateStatusReason")
        return WaitResult(done=False, error=f"Last update failed: {reason}")
    if not (state == "Active" and update == "Successful"):
        return WaitResult(done=False, detail=f"State {state}, last update {update}")
    if normalized(ctx.spec)["provisioned_concurrency"]:
        provisioned = lam.get_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier=ALIAS
        )
        status = provisioned.get("Status")
        if status == "FAILED":
            return WaitResult(
                done=False,
                error=f"Provisioned concurrency failed: {provisioned.get('StatusReason')}",
            )
        if status != "READY":
            return WaitResult(done=False, detail=f"Provisioned concurrency {status}")
    return WaitResult(done=True, detail="State Active, last update Successful")


def wait_deleted(ctx: Context) -> WaitResult:
    """Done when AWS no longer knows the function."""
    function_name, _ = _names(ctx)
    try:
        config = steps.client(ctx, "lambda").get_function_configuration(FunctionName=function_name)
    except ClientError as exc:
        if is_not_found(exc):
            return WaitResult(done=True, detail=f"Function {function_name} is gone")
        raise
    return WaitResult(done=False, detail=f"Function still exists (state {config.get('State')})")


# --- what the instance owns ----------------------------------------------------------------------
OWNED = {
    "function_arn": "Lambda function",
    "alias_arn": f"Alias {ALIAS}",
    "own_role_arn": "Execution role (its own, for table access)",
}


def owned_resources(observed: Observed) -> list[OwnedResource]:
    """The function (with its versions) and its alias. The execution role is the
    environment's, shared by every function there: never this service's own resource."""
    return owned_from(observed.values, OWNED)
