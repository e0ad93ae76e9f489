"""The DynamoDB table spec: keys, billing (on demand, or provisioned with auto-scaling), TTL,
point-in-time recovery, deletion protection and global secondary indexes.

Stored shape: kind, partition_key {name, type}, sort_key {name, type} or None, billing_mode
("on_demand" | "provisioned"), read_capacity, write_capacity (provisioned only), autoscaling
({min, max, target} or None; provisioned only, applied to reads and writes alike),
ttl_attribute ("" = off), point_in_time_recovery, deletion_protection,
global_secondary_indexes [{name, partition_key, sort_key, projection}].
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deployments.specs.base import Spec, invalid

ATTRIBUTE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
INDEX_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,255}$")
MAX_INDEXES = 20  # AWS's default quota of global secondary indexes per table
MAX_CAPACITY = 40_000  # AWS's default per-table provisioned throughput quota
KeyType = Literal["S", "N", "B"]
KEY_TYPE_LABELS = {"S": "string", "N": "number", "B": "binary"}


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Key(_Part):
    """One key attribute: its name and scalar type (string, number or binary)."""

    name: str = Field(description="Attribute name (letters, digits, _ . -; 1–255)")
    type: KeyType = Field("S", description="S (string), N (number) or B (binary)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ATTRIBUTE_RE.match(value):
            raise invalid(
                f"{value!r} is not an attribute name DynamoDB accepts: 1–255 letters, digits, "
                "underscores, dots or hyphens."
            )
        return value

    def __str__(self) -> str:
        return f"{self.name} ({KEY_TYPE_LABELS[self.type]})"


class Index(_Part):
    """A global secondary index: its own keys over the same items."""

    name: str = Field(description="Index name (3–255 letters, digits, _ . -)")
    partition_key: Key
    sort_key: Key | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = Field(
        "ALL", description="Which attributes the index copies"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not INDEX_RE.match(value):
            raise invalid(f"{value!r}: index names are 3–255 letters, digits, _ . or -.")
        return value


class TableAutoscaling(_Part):
    """Target tracking on consumed capacity, for reads and writes alike."""

    min: int = Field(ge=1, le=MAX_CAPACITY, description="Fewest capacity units")
    max: int = Field(ge=1, le=MAX_CAPACITY, description="Most capacity units")
    target: int = Field(70, ge=20, le=90, description="Target utilisation, percent (20–90)")

    @model_validator(mode="after")
    def _order(self) -> TableAutoscaling:
        if self.min > self.max:
            raise invalid("The minimum must not exceed the maximum.", field="min")
        return self


class DynamoDbSpec(Spec):
    """A DynamoDB table owned by one service in one environment."""

    scale_fields: ClassVar[tuple[str, ...]] = (
        "billing_mode",
        "read_capacity",
        "write_capacity",
        "autoscaling",
    )

    kind: Literal["dynamodb"] = "dynamodb"
    partition_key: Key
    sort_key: Key | None = None
    billing_mode: Literal["on_demand", "provisioned"] = "on_demand"
    read_capacity: int | None = Field(None, ge=1, le=MAX_CAPACITY)
    write_capacity: int | None = Field(None, ge=1, le=MAX_CAPACITY)
    autoscaling: TableAutoscaling | None = None
    ttl_attribute: str = Field("", description="Attribute holding the expiry time; empty = off")
    point_in_time_recovery: bool = True
    deletion_protection: bool = True
    global_secondary_indexes: list[Index] = Field(default_factory=list, max_length=MAX_INDEXES)

    @field_validator("ttl_attribute")
    @classmethod
    def _ttl(cls, value: str) -> str:
        value = value.strip()
        if value and not ATTRIBUTE_RE.match(value):
            raise invalid(f"{value!r} is not an attribute name DynamoDB accepts.")
        return value

    @model_validator(mode="after")
    def _rules(self) -> DynamoDbSpec:
        if self.sort_key and self.sort_key.name == self.partition_key.name:
            raise invalid("The sort key must differ from the partition key.", field="sort_key")
        if self.billing_mode == "provisioned":
            for field in ("read_capacity", "write_capacity"):
                if getattr(self, field) is None:
                    raise invalid("Required for provisioned capacity.", field=field)
            if self.autoscaling:
                for field in ("read_capacity", "write_capacity"):
                    value = getattr(self, field)
                    if not self.autoscaling.min <= value <= self.autoscaling.max:
                        raise invalid(
                            "Start within the auto-scaling minimum and maximum.", field=field
                        )
        else:
            if self.read_capacity is not None or self.write_capacity is not None:
                raise invalid(
                    "On-demand tables have no provisioned capacity; choose provisioned.",
                    field="billing_mode",
                )
            if self.autoscaling is not None:
                raise invalid(
                    "Auto-scaling applies to provisioned capacity only.", field="billing_mode"
                )
        names = [i.name for i in self.global_secondary_indexes]
        if len(names) != len(set(names)):
            raise invalid("Index names must be unique.", field="global_secondary_indexes")
        types = self._attribute_types(strict=False)
        for index in self.global_secondary_indexes:
            for key in filter(None, (index.partition_key, index.sort_key)):
                if types.get(key.name, key.type) != key.type:
                    raise invalid(
                        f"{key.name} is {KEY_TYPE_LABELS[types[key.name]]} elsewhere in this "
                        "table; one attribute has one type.",
                        field="global_secondary_indexes",
                    )
                types.setdefault(key.name, key.type)
        return self

    def _attribute_types(self, *, strict: bool = True) -> dict[str, str]:
        keys = [self.partition_key, self.sort_key]
        for index in self.global_secondary_indexes if strict else ():
            keys += [index.partition_key, index.sort_key]
        types: dict[str, str] = {}
        for key in filter(None, keys):
            types.setdefault(key.name, key.type)
        return types

    def attribute_definitions(self) -> list[dict[str, str]]:
        """Every key attribute of the table and its indexes, once, as AWS wants them."""
        return [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in sorted(self._attribute_types().items())
        ]


class TableAccess(_Part):
    """A service's use of a DynamoDB table: Slipway grants exactly this on exactly that table."""

    table: str = Field(
        description="The table's Slipway service name, deployed in the same environment",
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    )
    access: Literal["read", "read_write"] = Field("read", description="read or read_write")


def unique_tables(grants: list[TableAccess]) -> list[TableAccess]:
    """Refuse a table named twice (one access level per table)."""
    names = [g.table for g in grants]
    if len(names) != len(set(names)):
        raise invalid("Name each table once, with one access level.")
    return grants
