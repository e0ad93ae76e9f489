"""Table access for the services that use DynamoDB tables (Lambda functions, ECS services).

A service's spec lists the tables it uses (`tables: [{table, access}]`); the provisioner gives
the service a role of its own and puts ONE inline policy on it, `slipway-tables`, allowing
exactly the actions of each access level on exactly those tables and their indexes. Tables are
named by their Slipway service and resolved in the environment being deployed; a table that is
not deployed there makes the plan fail with its name.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from catalog.models import ServiceInstance
from deployments.errors import PlanFailed
from deployments.provisioners.base import Change
from portal.aws import is_not_found

POLICY_NAME = "slipway-tables"
READ_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
]
WRITE_ACTIONS = [
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
]
ACCESS_LABEL = {"read": "read", "read_write": "read-write"}


def grants_of(spec: dict) -> list[dict]:
    return [g for g in spec.get("tables") or [] if isinstance(g, dict)]


def table_arns(environment, grants: list[dict]) -> dict[str, str]:
    """table slug → its table ARN in `environment` ("" when it is not deployed there)."""
    slugs = [g["table"] for g in grants]
    if not slugs:
        return {}
    found = {
        i.service.slug: i.resources.get("table_arn", "")
        for i in ServiceInstance.objects.filter(
            environment=environment,
            service__slug__in=slugs,
            service__kind="dynamodb",
            applied_spec__isnull=False,
        ).select_related("service")
    }
    return {slug: found.get(slug, "") for slug in slugs}


def document(grants: list[dict], arns: dict[str, str], environment_slug: str) -> dict | None:
    """The policy for these grants (None when there are none); PlanFailed for a missing table."""
    if not grants:
        return None
    missing = [g["table"] for g in grants if not arns.get(g["table"])]
    if missing:
        raise PlanFailed(
            f"{', '.join(missing)} is not a DynamoDB table deployed in {environment_slug}; "
            "deploy the table there first."
        )
    statements = []
    for grant in sorted(grants, key=lambda g: g["table"]):
        arn = arns[grant["table"]]
        actions = READ_ACTIONS + (WRITE_ACTIONS if grant["access"] == "read_write" else [])
        statements.append(
            {
                "Sid": "".join(c for c in grant["table"].title() if c.isalnum()),
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": [arn, f"{arn}/index/*"],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def summary(grants: list[dict]) -> tuple[str, ...]:
    return tuple(
        f"{ACCESS_LABEL[g['access']]} on table {g['table']}"
        for g in sorted(grants, key=lambda g: g["table"])
    )


def observe(iam, role: str) -> dict | None:
    """The role's table policy as AWS holds it (None: none, or no such role)."""
    try:
        found = iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return json.loads(found) if isinstance(found, str) else found


def same(a: dict | None, b: dict | None) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def put(iam, role: str, policy: dict | None) -> str:
    if policy is None:
        delete(iam, role)
        return "no table access"
    iam.put_role_policy(RoleName=role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
    return f"{role} may use {len(policy['Statement'])} table(s)"


def delete(iam, role: str) -> None:
    try:
        iam.delete_role_policy(RoleName=role, PolicyName=POLICY_NAME)
    except ClientError as exc:
        if not is_not_found(exc):
            raise


def delete_role(iam, role: str) -> None:
    """Delete a service's own role: its inline policies first, as IAM requires."""
    try:
        for name in iam.list_role_policies(RoleName=role).get("PolicyNames", []):
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        iam.delete_role(RoleName=role)
    except ClientError as exc:
        if not is_not_found(exc):
            raise


def policy_change(values: dict, *, subject: str, role_label: str) -> list[Change]:
    """The `tables.policy` change when the role's policy differs from the spec's grants
    (`values` holds what `observe` found: grants, table_arns, table_policy, environment_slug)."""
    grants = values.get("grants") or []
    if not grants:
        return []
    wanted = document(grants, values.get("table_arns", {}), values["environment_slug"])
    if same(values.get("table_policy"), wanted):
        return []
    plural = "s" if len(grants) != 1 else ""
    return [
        Change(
            "tables.policy",
            f"Let the {subject} use {len(grants)} DynamoDB table{plural}",
            summary(grants) + (f"policy {POLICY_NAME} on {role_label}",),
        )
    ]


def apply_policy(ctx, iam, role: str) -> str:
    """Put the policy for `ctx.spec`'s grants on `role`, resolved in the context's environment."""
    grants = grants_of(ctx.spec)
    arns = table_arns(ctx.environment, grants)
    return put(iam, role, document(grants, arns, ctx.environment.slug))
