"""DynamoDB tables: the table (keys, billing, indexes, deletion protection), its TTL, point-in-time
recovery and, for provisioned capacity, target-tracking auto-scaling of reads and writes.

Spec: `deployments.specs.dynamodb.DynamoDbSpec`. The table is `<service>-<environment>`
(names.dynamodb_table) unless an adopted one keeps its own name (`resources["table_name"]`).

AWS allows one change at a time on a table: while it is UPDATING, a second UpdateTable answers
ResourceInUseException, which the AWS boundary counts as transient, so the engine re-runs the
(idempotent) apply a little later and the plan picks up where it stopped. Key schemas cannot
change after creation: such a plan is refused with the reason. A table with deletion protection
on is not deleted: the delete plan is refused until an update turns protection off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from botocore.exceptions import ClientError

from catalog.services import table_users
from deployments import names
from deployments.errors import PlanFailed
from deployments.provisioners.base import (
    Change,
    Context,
    Observed,
    OwnedResource,
    Recorded,
    WaitResult,
    field_diff,
    owned_from,
)
from deployments.specs.dynamodb import DynamoDbSpec, Key
from portal.aws import aws_client, error_code, is_not_found

AUTOSCALING_DIMENSIONS = {
    "read": ("dynamodb:table:ReadCapacityUnits", "DynamoDBReadCapacityUtilization"),
    "write": ("dynamodb:table:WriteCapacityUnits", "DynamoDBWriteCapacityUtilization"),
}
BILLING = {"on_demand": "PAY_PER_REQUEST", "provisioned": "PROVISIONED"}
BILLING_LABEL = {"on_demand": "on demand", "provisioned": "provisioned"}


class KeyValues(TypedDict):
    name: str
    type: str  # S, N or B


class IndexValues(TypedDict):
    name: str
    partition_key: KeyValues | None
    sort_key: KeyValues | None
    projection: str
    status: str


class ScalingValues(TypedDict):
    min: int
    max: int
    target: int  # % utilisation


class DynamoDbValues(TypedDict, total=False):
    """A table's observation (`Observed.values`): only `table_name` when it does not exist."""

    table_name: str
    table_arn: str
    status: str
    partition_key: KeyValues | None
    sort_key: KeyValues | None
    billing_mode: str  # "provisioned" or "on_demand"
    read_capacity: int | None
    write_capacity: int | None
    deletion_protection: bool
    global_secondary_indexes: list[IndexValues]
    ttl_attribute: str
    point_in_time_recovery: bool
    autoscaling: ScalingValues | None
    used_by: list[str]  # services whose deployed spec uses the table


def _client(ctx: Context, service: str = "dynamodb"):
    return aws_client(service, environment=ctx.environment, actor=ctx.actor)


def table_name(instance) -> str:
    return instance.resources.get("table_name") or names.dynamodb_table(
        instance.service.slug, instance.environment.slug
    )


def _key(schema: list[dict], types: dict[str, str], role: str) -> KeyValues | None:
    for element in schema:
        if element["KeyType"] == role:
            name = element["AttributeName"]
            return {"name": name, "type": types.get(name, "S")}
    return None


def _key_text(key: KeyValues | dict | Key | None) -> str:
    if key is None:
        return "none"
    if isinstance(key, Key):
        return str(key)
    return str(Key(**key))


# --- observe -------------------------------------------------------------------------------------
def _observe_autoscaling(ctx: Context, name: str) -> ScalingValues | None:
    aas = _client(ctx, "application-autoscaling")
    resource = f"table/{name}"
    targets = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=[resource])
    found = {t["ScalableDimension"]: t for t in targets.get("ScalableTargets", [])}
    read = found.get(AUTOSCALING_DIMENSIONS["read"][0])
    if not read:
        return None
    policies = aas.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=resource)
    target = 70
    for policy in policies.get("ScalingPolicies", []):
        config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
        if policy["ScalableDimension"] == read["ScalableDimension"] and config:
            target = int(config.get("TargetValue", target))
    return {"min": read["MinCapacity"], "max": read["MaxCapacity"], "target": target}


def observe(ctx: Context) -> Observed[DynamoDbValues]:
    """The table as AWS describes it now, with its TTL, backups and auto-scaling."""
    name = table_name(ctx.instance)
    ddb = _client(ctx)
    try:
        table = ddb.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return Observed(exists=False, values={"table_name": name})
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    throughput = table.get("ProvisionedThroughput") or {}
    provisioned = billing == "PROVISIONED"
    values: DynamoDbValues = {
        "table_name": name,
        "table_arn": table["TableArn"],
        "status": table.get("TableStatus", ""),
        "partition_key": _key(table["KeySchema"], types, "HASH"),
        "sort_key": _key(table["KeySchema"], types, "RANGE"),
        "billing_mode": "provisioned" if provisioned else "on_demand",
        "read_capacity": throughput.get("ReadCapacityUnits") if provisioned else None,
        "write_capacity": throughput.get("WriteCapacityUnits") if provisioned else None,
        "deletion_protection": bool(table.get("DeletionProtectionEnabled")),
        "global_secondary_indexes": [
            {
                "name": index["IndexName"],
                "partition_key": _key(index["KeySchema"], types, "HASH"),
                "sort_key": _key(index["KeySchema"], types, "RANGE"),
                "projection": index.get("Projection", {}).get("ProjectionType", "ALL"),
                "status": index.get("IndexStatus", "ACTIVE"),
            }
            for index in table.get("GlobalSecondaryIndexes", [])
        ],
    }
    ttl = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    enabled = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    values["ttl_attribute"] = ttl.get("AttributeName", "") if enabled else ""
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    values["point_in_time_recovery"] = pitr == "ENABLED"
    values["autoscaling"] = _observe_autoscaling(ctx, name) if provisioned else None
    values["used_by"] = table_users(table=ctx.service, environment=ctx.environment)
    return Observed(exists=True, values=values)


# --- plan ----------------------------------------------------------------------------------------
def _index_shape(index: Mapping[str, Any]) -> tuple:
    return (
        index["name"],
        _key_text(index.get("partition_key")),
        _key_text(index.get("sort_key")),
        index.get("projection", "ALL"),
    )


def plan(spec: dict, observed: Observed[DynamoDbValues]) -> list[Change]:
    """The changes from what AWS holds to `spec` (pure)."""
    want = DynamoDbSpec.model_validate(spec)
    have = observed.values
    name = have.get("table_name", "the table")
    changes: list[Change] = []
    if not observed.exists:
        details = [f"partition key {want.partition_key}", f"sort key {_key_text(want.sort_key)}"]
        details.append(f"billing {BILLING_LABEL[want.billing_mode]}")
        details += [f"index {i.name} on {i.partition_key}" for i in want.global_secondary_indexes]
        details.append(f"deletion protection {'on' if want.deletion_protection else 'off'}")
        changes.append(Change("table.create", f"Create DynamoDB table {name}", tuple(details)))
        have = {}
    else:
        if (_key_text(have.get("partition_key")), _key_text(have.get("sort_key"))) != (
            _key_text(want.partition_key),
            _key_text(want.sort_key),
        ):
            raise PlanFailed(
                f"The keys of {name} cannot change once it exists (AWS keeps them for the table's "
                f"life): it has partition key {_key_text(have.get('partition_key'))} and sort key "
                f"{_key_text(have.get('sort_key'))}. Create a new table for a new key schema."
            )
        changes += _plan_capacity(want, have, name)
        changes += _plan_indexes(want, have)
        if have.get("deletion_protection") != want.deletion_protection:
            before, after = _on(have.get("deletion_protection")), _on(want.deletion_protection)
            changes.append(Change("table.protection", f"Deletion protection {before} → {after}"))
    if have.get("ttl_attribute", "") != want.ttl_attribute:
        ttl_before = (have.get("ttl_attribute") or "off") if observed.exists else None
        changes.append(
            Change(
                "ttl.update", field_diff("Time to live", ttl_before, want.ttl_attribute or "off")
            )
        )
    pitr_differs = have.get("point_in_time_recovery", False) != want.point_in_time_recovery
    if pitr_differs and (observed.exists or want.point_in_time_recovery):
        changes.append(
            Change(
                "pitr.update",
                "Point-in-time recovery "
                + ("on (35 days of restore points)" if want.point_in_time_recovery else "off"),
            )
        )
    scaling = want.autoscaling
    wanted_scaling = scaling.model_dump() if scaling else None
    if (have.get("autoscaling") or None) != wanted_scaling:
        if scaling:
            summary = (
                f"Auto-scale reads and writes {scaling.min}–{scaling.max} "
                f"units at {scaling.target} % utilisation"
            )
            changes.append(Change("autoscaling.update", summary))
        elif have.get("autoscaling"):
            changes.append(Change("autoscaling.delete", "Stop auto-scaling capacity"))
    return changes


def _on(value) -> str:
    return "on" if value else "off"


def _plan_capacity(want: DynamoDbSpec, have: DynamoDbValues, name: str) -> list[Change]:
    details = []
    if have.get("billing_mode") != want.billing_mode:
        details.append(
            field_diff(
                "billing", BILLING_LABEL[have["billing_mode"]], BILLING_LABEL[want.billing_mode]
            )
        )
    if want.billing_mode == "provisioned" and not want.autoscaling:
        for field, label, wanted in (
            ("read_capacity", "reads", want.read_capacity),
            ("write_capacity", "writes", want.write_capacity),
        ):
            if have.get(field) != wanted:
                details.append(field_diff(label, have.get(field), wanted, "units"))
    if not details:
        return []
    return [Change("table.capacity", f"Capacity of {name}: " + "; ".join(details), tuple(details))]


def _plan_indexes(want: DynamoDbSpec, have: DynamoDbValues) -> list[Change]:
    observed = {i["name"]: i for i in have.get("global_secondary_indexes", [])}
    wanted = {i.name: i.model_dump() for i in want.global_secondary_indexes}
    changes = []
    for name, index in observed.items():
        if name not in wanted or _index_shape(index) != _index_shape(wanted[name]):
            changes.append(Change(f"index.delete:{name}", f"Remove index {name}"))
    for name, wanted_index in wanted.items():
        if name not in observed or _index_shape(observed[name]) != _index_shape(wanted_index):
            key = _key_text(wanted_index["partition_key"])
            changes.append(Change(f"index.create:{name}", f"Add index {name} on {key}"))
    return changes


# --- apply ---------------------------------------------------------------------------------------
def _key_schema(partition: Key, sort: Key | None) -> list[dict]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def _throughput(spec: DynamoDbSpec) -> dict:
    return {"ReadCapacityUnits": spec.read_capacity, "WriteCapacityUnits": spec.write_capacity}


def _index(spec: DynamoDbSpec, name: str) -> dict:
    index = next(i for i in spec.global_secondary_indexes if i.name == name)
    out = {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.partition_key, index.sort_key),
        "Projection": {"ProjectionType": index.projection},
    }
    if spec.billing_mode == "provisioned":
        out["ProvisionedThroughput"] = _throughput(spec)
    return out


def _create(ctx: Context, spec: DynamoDbSpec, name: str) -> str:
    kwargs = {
        "TableName": name,
        "KeySchema": _key_schema(spec.partition_key, spec.sort_key),
        "AttributeDefinitions": spec.attribute_definitions(),
        "BillingMode": BILLING[spec.billing_mode],
        "DeletionProtectionEnabled": spec.deletion_protection,
        "Tags": [
            {"Key": k, "Value": v}
            for k, v in names.tags(
                service_slug=ctx.service.slug,
                environment_slug=ctx.environment.slug,
                team_slug=ctx.service.owner.slug,
            ).items()
        ],
    }
    if spec.billing_mode == "provisioned":
        kwargs["ProvisionedThroughput"] = _throughput(spec)
    if spec.global_secondary_indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            _index(spec, i.name) for i in spec.global_secondary_indexes
        ]
    ddb = _client(ctx)
    try:
        arn = ddb.create_table(**kwargs)["TableDescription"]["TableArn"]
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        # A retry after a crash: the table exists already, so adopt it.
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ctx.record_resource("table_arn", arn)
    return arn


def _set_autoscaling(ctx: Context, spec: DynamoDbSpec, name: str) -> str:
    aas = _client(ctx, "application-autoscaling")
    scaling = spec.autoscaling
    if scaling is None:
        raise ValueError("autoscaling.update for a spec without auto-scaling")
    for dimension, metric in AUTOSCALING_DIMENSIONS.values():
        aas.register_scalable_target(
            ServiceNamespace="dynamodb",
            ResourceId=f"table/{name}",
            ScalableDimension=dimension,
            MinCapacity=scaling.min,
            MaxCapacity=scaling.max,
        )
        aas.put_scaling_policy(
            PolicyName=f"slipway-{name}-{dimension.rsplit(':', 1)[-1]}",
            ServiceNamespace="dynamodb",
            ResourceId=f"table/{name}",
            ScalableDimension=dimension,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(scaling.target),
                "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
            },
        )
    return f"{scaling.min}–{scaling.max} units at {scaling.target} %"


def _remove_autoscaling(ctx: Context, name: str) -> str:
    aas = _client(ctx, "application-autoscaling")
    for dimension, _metric in AUTOSCALING_DIMENSIONS.values():
        try:
            aas.deregister_scalable_target(
                ServiceNamespace="dynamodb", ResourceId=f"table/{name}", ScalableDimension=dimension
            )
        except ClientError as exc:
            if error_code(exc) != "ObjectNotFoundException":
                raise
    return "auto-scaling removed"


def apply(ctx: Context, change: Change) -> str:
    """Carry out one change; each is an idempotent 'ensure' of one setting."""
    name = table_name(ctx.instance)
    action, _, index = change.key.partition(":")
    ddb = _client(ctx)
    if action == "table.delete":
        try:
            ddb.delete_table(TableName=name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        return f"{name} deleted"
    if action == "autoscaling.delete":
        return _remove_autoscaling(ctx, name)
    spec = DynamoDbSpec.model_validate(ctx.spec)
    if action == "table.create":
        return _create(ctx, spec, name)
    if action == "table.capacity":
        kwargs: dict = {"TableName": name, "BillingMode": BILLING[spec.billing_mode]}
        if spec.billing_mode == "provisioned":
            kwargs["ProvisionedThroughput"] = _throughput(spec)
        ddb.update_table(**kwargs)
        return f"billing {BILLING_LABEL[spec.billing_mode]}"
    if action == "table.protection":
        ddb.update_table(TableName=name, DeletionProtectionEnabled=spec.deletion_protection)
        return f"deletion protection {_on(spec.deletion_protection)}"
    if action == "index.delete":
        try:
            ddb.update_table(
                TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index}}]
            )
        except ClientError as exc:
            if error_code(exc) not in ("ResourceNotFoundException", "ValidationException"):
                raise
        return f"index {index} removed"
    if action == "index.create":
        ddb.update_table(
            TableName=name,
            AttributeDefinitions=spec.attribute_definitions(),
            GlobalSecondaryIndexUpdates=[{"Create": _index(spec, index)}],
        )
        return f"index {index} added"
    if action == "ttl.update":
        return _set_ttl(ddb, name, spec.ttl_attribute)
    if action == "pitr.update":
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": spec.point_in_time_recovery
            },
        )
        return f"point-in-time recovery {_on(spec.point_in_time_recovery)}"
    if action == "autoscaling.update":
        return _set_autoscaling(ctx, spec, name)
    raise ValueError(f"Unknown DynamoDB change {change.key!r}")


def _set_ttl(ddb, name: str, attribute: str) -> str:
    current = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    enabled = current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    if enabled and current.get("AttributeName") != attribute:
        # AWS turns TTL off before it can watch another attribute.
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": False, "AttributeName": current["AttributeName"]},
        )
    if attribute:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
        return f"items expire by {attribute}"
    return "time to live off"


# --- wait, delete, ownership ---------------------------------------------------------------------
def wait(ctx: Context) -> WaitResult:
    """Done when the table and every index are ACTIVE."""
    table = _client(ctx).describe_table(TableName=table_name(ctx.instance))["Table"]
    pending = [
        i["IndexName"]
        for i in table.get("GlobalSecondaryIndexes", [])
        if i.get("IndexStatus") != "ACTIVE"
    ]
    status = table.get("TableStatus", "")
    if status == "ACTIVE" and not pending:
        return WaitResult(done=True, detail="Table ACTIVE")
    detail = f"Table {status}" + (f"; building index {', '.join(pending)}" if pending else "")
    return WaitResult(done=False, detail=detail)


def plan_delete(observed: Observed[DynamoDbValues]) -> list[Change]:
    """Remove auto-scaling, then the table; refused while deletion protection is on."""
    if not observed.exists:
        return []
    name = observed.values["table_name"]
    if observed.values.get("deletion_protection"):
        raise PlanFailed(
            f"{name} has deletion protection on, so it is not deleted. If you really mean to "
            "delete its data, first deploy an update that turns deletion protection off."
        )
    users = observed.values.get("used_by") or []
    if users:
        raise PlanFailed(
            f"{', '.join(users)} use{'s' if len(users) == 1 else ''} {name}: remove the table "
            "from their specs first, so their roles lose access before the table goes."
        )
    changes = []
    if observed.values.get("autoscaling"):
        changes.append(Change("autoscaling.delete", "Stop auto-scaling capacity"))
    changes.append(Change("table.delete", f"Delete DynamoDB table {name} and all its items"))
    return changes


def wait_deleted(ctx: Context) -> WaitResult:
    try:
        table = _client(ctx).describe_table(TableName=table_name(ctx.instance))["Table"]
    except ClientError as exc:
        if is_not_found(exc):
            return WaitResult(done=True, detail="Table deleted")
        raise
    return WaitResult(done=False, detail=f"Table {table.get('TableStatus', '')}")


def owned_resources(observed: Observed[DynamoDbValues] | Observed[Recorded]) -> list[OwnedResource]:
    return owned_from(observed.values, {"table_arn": "DynamoDB table"})


def scale_values(spec: dict) -> dict[str, int | None]:
    """Capacity units are not counts of running things: no guardrail numbers for tables."""
    return {}
