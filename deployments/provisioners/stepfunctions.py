"""Step Functions state machines: the machine and its own execution role, which may invoke exactly
the Lambda functions the definition names.

Spec: `deployments.specs.stepfunctions.StepFunctionsSpec`. Names: the machine and its role are
`<service>-<environment>` and `slipway-<environment>-<service>-sfn` (deployments.names). A Task
state naming `slipway:lambda:<service>` is resolved, per environment, to that service's `live`
alias; a service that is not deployed there makes the plan fail with its name.

Steps of a create: role (trust states.amazonaws.com) → its invoke policy → the machine. An
update changes the policy before the definition, so the machine never runs with a definition
its role cannot serve. The machine's type is fixed by AWS at creation: changing it is refused.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

from botocore.exceptions import ClientError

from catalog.models import ServiceInstance
from deployments import names
from deployments.errors import PlanFailed
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    Recorded,
    WaitResult,
    owned_from,
)
from deployments.specs.stepfunctions import StepFunctionsSpec, resolve
from portal.aws import aws_client, error_code, is_not_found


class StepFunctionsValues(TypedDict):
    """A Step Functions service's observation (`Observed.values`): its names and Lambda
    targets always; its role and state machine as far as they exist."""

    machine_name: str
    role_name: str
    lambda_targets: dict[str, str]  # Lambda service slug → its live alias ARN ("" if none)
    role_arn: NotRequired[str]
    invoke: NotRequired[list[str]]  # the function ARNs the role may invoke
    state_machine_arn: NotRequired[str]
    type: NotRequired[str]  # STANDARD or EXPRESS
    definition: NotRequired[dict[str, Any]]
    machine_role_arn: NotRequired[str]
    status: NotRequired[str]


TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
INVOKE_POLICY = "slipway-invoke"


def _client(ctx: Context, service: str):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


def _names(ctx: Context) -> tuple[str, str, str]:
    """(machine name, machine ARN, role name)."""
    service, env = ctx.service.slug, ctx.environment.slug
    machine = names.state_machine(service, env)
    arn = ctx.resources.get("state_machine_arn") or (
        f"arn:aws:states:{ctx.environment.region}:{ctx.environment.aws_account_id}"
        f":stateMachine:{machine}"
    )
    return machine, arn, names.state_machine_role(service, env)


def lambda_targets(environment, services: list[str]) -> dict[str, str]:
    """service slug → its `live` alias ARN in `environment` ("" when not deployed there)."""
    found = {
        i.service.slug: i.resources.get("alias_arn") or i.resources.get("function_arn") or ""
        for i in ServiceInstance.objects.filter(
            environment=environment,
            service__slug__in=services,
            service__kind="lambda",
            applied_spec__isnull=False,
        ).select_related("service")
    }
    return {slug: found.get(slug, "") for slug in services}


def invoke_resources(definition: dict) -> list[str]:
    """The Lambda ARNs a resolved definition invokes (what its role must be allowed)."""
    found: set[str] = set()

    def visit(value):
        if isinstance(value, str) and value.startswith("arn:aws") and ":lambda:" in value:
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(definition)
    return sorted(found)


def policy_document(resources: list[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": resources}
            ],
        },
        sort_keys=True,
    )


# --- observe -------------------------------------------------------------------------------------
def observe(ctx: Context) -> Observed[StepFunctionsValues]:
    machine, arn, role = _names(ctx)
    spec = StepFunctionsSpec.model_validate(ctx.spec)
    values: StepFunctionsValues = {
        "machine_name": machine,
        "role_name": role,
        "lambda_targets": lambda_targets(ctx.environment, spec.lambda_services()),
    }
    iam = _client(ctx, "iam")
    try:
        values["role_arn"] = iam.get_role(RoleName=role)["Role"]["Arn"]
        document = iam.get_role_policy(RoleName=role, PolicyName=INVOKE_POLICY)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = document.get("Statement") or []
        resources = statements[0].get("Resource", []) if statements else []
        values["invoke"] = sorted([resources] if isinstance(resources, str) else resources)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    try:
        described = _client(ctx, "stepfunctions").describe_state_machine(stateMachineArn=arn)
    except ClientError as exc:
        if not (is_not_found(exc) or error_code(exc) == "StateMachineDoesNotExist"):
            raise
        return Observed(exists=False, values=values)
    values["state_machine_arn"] = described["stateMachineArn"]
    values["type"] = described.get("type", "STANDARD")
    values["definition"] = json.loads(described["definition"])
    values["machine_role_arn"] = described.get("roleArn", "")
    values["status"] = described.get("status", "ACTIVE")
    return Observed(exists=True, values=values)


# --- plan ----------------------------------------------------------------------------------------
def resolved_definition(spec: StepFunctionsSpec, targets: dict[str, str], env: str) -> dict:
    missing = [slug for slug, arn in targets.items() if not arn]
    if missing:
        raise PlanFailed(
            f"The definition calls {', '.join(missing)}, which is not a Lambda service deployed "
            f"in {env}. Deploy it there first, or name a function by its ARN."
        )
    return resolve(spec.definition, targets)


def plan(spec: dict, observed: Observed[StepFunctionsValues]) -> list[Change]:
    want = StepFunctionsSpec.model_validate(spec)
    have = observed.values
    env = have.get("machine_name", "").rsplit("-", 1)[-1] or "this environment"
    definition = resolved_definition(want, have.get("lambda_targets", {}), env)
    invoke = invoke_resources(definition)
    changes: list[Change] = []
    if not have.get("role_arn"):
        changes.append(Change("role.create", f"Create execution role {have.get('role_name')}"))
    if have.get("invoke") != invoke:
        lines = tuple(invoke) or ("no Lambda functions",)
        changes.append(Change("role.policy", "Allow the role to invoke " + _count(invoke), lines))
    if not observed.exists:
        states = ", ".join(list(want.definition["States"])[:6])
        changes.append(
            Change(
                "machine.create",
                f"Create {want.type.lower()} state machine {have.get('machine_name')}",
                (f"states: {states}", *[f"calls {s}" for s in want.lambda_services()]),
            )
        )
        return changes
    if have.get("type") != want.type:
        raise PlanFailed(
            f"A state machine's type is fixed when it is created ({have.get('type')}); create a "
            "new service for an express (or standard) workflow."
        )
    if have.get("definition") != definition:
        changes.append(
            Change(
                "machine.update",
                "Update the state machine definition",
                tuple(_definition_diff(have.get("definition") or {}, definition)),
            )
        )
    return changes


def _count(invoke: list[str]) -> str:
    if not invoke:
        return "no Lambda functions"
    return f"{len(invoke)} Lambda function{'s' if len(invoke) != 1 else ''}"


def _definition_diff(before: dict, after: dict) -> list[str]:
    old, new = before.get("States") or {}, after.get("States") or {}
    lines = [f"state {n} added" for n in new if n not in old]
    lines += [f"state {n} removed" for n in old if n not in new]
    lines += [f"state {n} changed" for n in new if n in old and old[n] != new[n]]
    if before.get("StartAt") != after.get("StartAt"):
        lines.append(f"starts at {after.get('StartAt')}")
    return lines or ["definition changed"]


# --- apply ---------------------------------------------------------------------------------------
def _tags(ctx: Context, key: str = "Key", value: str = "Value") -> list[dict]:
    tags = names.tags(
        service_slug=ctx.service.slug,
        environment_slug=ctx.environment.slug,
        team_slug=ctx.service.owner.slug,
    )
    return [{key: k, value: v} for k, v in tags.items()]


def _definition_for(ctx: Context) -> tuple[StepFunctionsSpec, dict]:
    spec = StepFunctionsSpec.model_validate(ctx.spec)
    targets = lambda_targets(ctx.environment, spec.lambda_services())
    return spec, resolved_definition(spec, targets, ctx.environment.slug)


def apply(ctx: Context, change: Change) -> str:
    machine, arn, role = _names(ctx)
    iam = _client(ctx, "iam")
    sfn = _client(ctx, "stepfunctions")
    if change.key == "role.create":
        try:
            role_arn = iam.create_role(
                RoleName=role,
                AssumeRolePolicyDocument=TRUST_POLICY,
                Description=f"Execution role of state machine {machine} (Slipway)",
                Tags=_tags(ctx),
            )["Role"]["Arn"]
        except ClientError as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        ctx.record_resource("role_arn", role_arn)
        return f"role {role_arn}"
    if change.key == "role.policy":
        _, definition = _definition_for(ctx)
        invoke = invoke_resources(definition)
        if invoke:
            iam.put_role_policy(
                RoleName=role, PolicyName=INVOKE_POLICY, PolicyDocument=policy_document(invoke)
            )
            return f"may invoke {', '.join(invoke)}"
        _delete_policy(iam, role)
        return "invokes no Lambda functions"
    if change.key in ("machine.create", "machine.update"):
        spec, definition = _definition_for(ctx)
        role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        if change.key == "machine.update":
            sfn.update_state_machine(
                stateMachineArn=arn, definition=json.dumps(definition), roleArn=role_arn
            )
            return "definition updated"
        try:
            created = sfn.create_state_machine(
                name=machine,
                definition=json.dumps(definition),
                roleArn=role_arn,
                type=spec.type,
                tags=_tags(ctx, "key", "value"),
            )["stateMachineArn"]
        except ClientError as exc:
            if error_code(exc) != "StateMachineAlreadyExists":
                raise
            created = arn  # a retry after a crash: adopt it; the next plan updates it
        ctx.record_resource("state_machine_arn", created)
        return created
    if change.key == "machine.delete":
        try:
            sfn.delete_state_machine(stateMachineArn=arn)
        except ClientError as exc:
            if not (is_not_found(exc) or error_code(exc) == "StateMachineDoesNotExist"):
                raise
        return f"{machine} deleted"
    if change.key == "role.delete":
        _delete_policy(iam, role)
        try:
            iam.delete_role(RoleName=role)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        return f"role {role} deleted"
    raise ValueError(f"Unknown Step Functions change {change.key!r}")


def _delete_policy(iam, role: str) -> None:
    try:
        iam.delete_role_policy(RoleName=role, PolicyName=INVOKE_POLICY)
    except ClientError as exc:
        if not is_not_found(exc):
            raise


# --- wait, delete, ownership ---------------------------------------------------------------------
def wait(ctx: Context) -> WaitResult:
    _, arn, _ = _names(ctx)
    status = (
        _client(ctx, "stepfunctions")
        .describe_state_machine(stateMachineArn=arn)
        .get("status", "ACTIVE")
    )
    return WaitResult(done=status == "ACTIVE", detail=f"State machine {status}")


def plan_delete(observed: Observed[StepFunctionsValues]) -> list[Change]:
    changes = []
    if observed.exists:
        changes.append(
            Change("machine.delete", f"Delete state machine {observed.values['machine_name']}")
        )
    if observed.values.get("role_arn"):
        changes.append(
            Change("role.delete", f"Delete execution role {observed.values['role_name']}")
        )
    return changes


def wait_deleted(ctx: Context) -> WaitResult:
    _, arn, _ = _names(ctx)
    try:
        described = _client(ctx, "stepfunctions").describe_state_machine(stateMachineArn=arn)
    except ClientError as exc:
        if is_not_found(exc) or error_code(exc) == "StateMachineDoesNotExist":
            return WaitResult(done=True, detail="State machine deleted")
        raise
    return WaitResult(done=False, detail=f"State machine {described.get('status', '')}")


OWNED = {"state_machine_arn": "State machine", "role_arn": "Execution role (its own)"}


def owned_resources(
    observed: Observed[StepFunctionsValues] | Observed[Recorded],
) -> list[OwnedResource]:
    return owned_from(observed.values, OWNED)


def scale_values(spec: dict) -> dict[str, int | None]:
    return {}
