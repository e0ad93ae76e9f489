"""The DynamoDB table forms (create, update, scale). They only parse what is typed; the rules
(key names, capacity limits, billing combinations, index types) live in `DynamoDbSpec`."""

from __future__ import annotations

from django import forms

from deployments.forms.common import NewServiceFields, SpecForm, TimedRevertField
from deployments.specs.dynamodb import DynamoDbSpec

KEY_TYPES = [("S", "String"), ("N", "Number"), ("B", "Binary")]
BILLING = [
    ("on_demand", "On demand (pay per request)"),
    ("provisioned", "Provisioned capacity"),
]
TEXTAREA = {"rows": 3, "spellcheck": "false", "class": "code"}
SPEC_FIELDS = {
    "partition_key": "partition_key_name",
    "partition_key.name": "partition_key_name",
    "partition_key.type": "partition_key_type",
    "sort_key": "sort_key_name",
    "sort_key.name": "sort_key_name",
    "sort_key.type": "sort_key_type",
    "autoscaling.min": "min_capacity",
    "autoscaling.max": "max_capacity",
    "autoscaling.target": "target_utilization",
    "global_secondary_indexes": "indexes",
}


def parse_indexes(text: str) -> tuple[list[dict], list[int]]:
    """'name: key:S [sort:N] [keys_only]' lines → index dicts, and the line number of each."""
    indexes, lines = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        words = rest.split()
        projection = "ALL"
        if words and words[-1].lower() in ("keys_only", "all"):
            projection = words.pop().upper()
        if not sep or not name.strip() or not 1 <= len(words) <= 2:
            raise forms.ValidationError(
                f"Line {number}: write name: partition_key:TYPE [sort_key:TYPE] [keys_only], "
                "e.g. by-customer: customer_id:S created_at:N"
            )
        keys = []
        for word in words:
            key, _, kind = word.partition(":")
            keys.append({"name": key, "type": (kind or "S").upper()})
        indexes.append(
            {
                "name": name.strip(),
                "partition_key": keys[0],
                "sort_key": keys[1] if len(keys) > 1 else None,
                "projection": projection,
            }
        )
        lines.append(number)
    return indexes, lines


def _index_lines(indexes: list[dict]) -> str:
    out = []
    for index in indexes or []:
        keys = [index["partition_key"], index.get("sort_key")]
        words = [f"{k['name']}:{k['type']}" for k in keys if k]
        if index.get("projection") == "KEYS_ONLY":
            words.append("keys_only")
        out.append(f"{index['name']}: {' '.join(words)}")
    return "\n".join(out)


class CapacityFields(SpecForm):
    """Billing mode, capacity and the optional auto-scaling of provisioned capacity."""

    spec_fields = SPEC_FIELDS

    billing_mode = forms.ChoiceField(choices=BILLING, initial="on_demand")
    read_capacity = forms.IntegerField(required=False, label="Read capacity units")
    write_capacity = forms.IntegerField(required=False, label="Write capacity units")
    autoscaling = forms.BooleanField(required=False, label="Auto-scale capacity")
    min_capacity = forms.IntegerField(required=False, label="Minimum units")
    max_capacity = forms.IntegerField(required=False, label="Maximum units")
    target_utilization = forms.IntegerField(
        required=False, initial=70, label="Target utilisation (%)", help_text="20–90."
    )

    def capacity_spec(self) -> dict:
        data = self.cleaned_data
        spec: dict = {"billing_mode": data.get("billing_mode") or "on_demand"}
        provisioned = spec["billing_mode"] == "provisioned"
        for field in ("read_capacity", "write_capacity"):
            spec[field] = data.get(field) if provisioned else None
        spec["autoscaling"] = None
        if provisioned and data.get("autoscaling"):
            spec["autoscaling"] = {
                "min": data.get("min_capacity"),
                "max": data.get("max_capacity"),
                "target": data.get("target_utilization") or 70,
            }
        return spec

    def spec(self) -> dict:
        return self.typed_spec.to_json()


def capacity_initial(spec: dict) -> dict:
    scaling = spec.get("autoscaling") or {}
    return {
        "billing_mode": spec.get("billing_mode", "on_demand"),
        "read_capacity": spec.get("read_capacity"),
        "write_capacity": spec.get("write_capacity"),
        "autoscaling": bool(scaling),
        "min_capacity": scaling.get("min"),
        "max_capacity": scaling.get("max"),
        "target_utilization": scaling.get("target", 70),
    }


class TableFields(CapacityFields):
    """Every field of a table spec."""

    partition_key_name = forms.CharField(label="Partition key", help_text="e.g. order_id")
    partition_key_type = forms.ChoiceField(choices=KEY_TYPES, initial="S", label="Its type")
    sort_key_name = forms.CharField(required=False, label="Sort key", help_text="e.g. created_at")
    sort_key_type = forms.ChoiceField(choices=KEY_TYPES, initial="S", label="Its type")
    ttl_attribute = forms.CharField(
        required=False,
        label="Time-to-live attribute",
        help_text="Items expire at the epoch seconds in this attribute. Empty: never.",
    )
    point_in_time_recovery = forms.BooleanField(
        required=False, initial=True, help_text="Restore to any second of the last 35 days."
    )
    deletion_protection = forms.BooleanField(
        required=False,
        initial=True,
        help_text="AWS refuses to delete the table while this is on. Turn it off in an update "
        "before deleting.",
    )
    indexes = forms.CharField(
        required=False,
        label="Global secondary indexes",
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="One per line: name: partition_key:TYPE [sort_key:TYPE] [keys_only] "
        "(TYPE is S, N or B).",
    )

    def clean_indexes(self):
        indexes, lines = parse_indexes(self.cleaned_data.get("indexes", ""))
        self.spec_lines["indexes"] = lines
        return indexes

    def clean(self):
        cleaned = super().clean()
        self.validate_spec(DynamoDbSpec, self.spec_dict())
        return cleaned

    def spec_dict(self) -> dict:
        data = self.cleaned_data
        sort_name = (data.get("sort_key_name") or "").strip()
        spec = {
            "kind": "dynamodb",
            "partition_key": {
                "name": (data.get("partition_key_name") or "").strip(),
                "type": data.get("partition_key_type") or "S",
            },
            "sort_key": (
                {"name": sort_name, "type": data.get("sort_key_type") or "S"} if sort_name else None
            ),
            "ttl_attribute": data.get("ttl_attribute") or "",
            "point_in_time_recovery": bool(data.get("point_in_time_recovery")),
            "deletion_protection": bool(data.get("deletion_protection")),
            "global_secondary_indexes": data.get("indexes") or [],
            **self.capacity_spec(),
        }
        return spec


class DynamoDbServiceForm(NewServiceFields, TableFields):
    """Create a DynamoDB table in one environment."""

    name_help = "Lowercase letters, digits and hyphens; the table is <name>-<environment>."


class DynamoDbUpdateForm(TableFields):
    """Change a table's settings and indexes; its keys are fixed for the table's life."""

    def __init__(self, data=None, files=None, *, spec: dict, **kwargs):
        sort = spec.get("sort_key") or {}
        initial = {
            "partition_key_name": spec["partition_key"]["name"],
            "partition_key_type": spec["partition_key"]["type"],
            "sort_key_name": sort.get("name", ""),
            "sort_key_type": sort.get("type", "S"),
            "ttl_attribute": spec.get("ttl_attribute", ""),
            "point_in_time_recovery": spec.get("point_in_time_recovery", True),
            "deletion_protection": spec.get("deletion_protection", True),
            "indexes": _index_lines(spec.get("global_secondary_indexes")),
            **capacity_initial(spec),
        }
        super().__init__(data, files, initial=initial, **kwargs)
        for field in ("partition_key_name", "partition_key_type", "sort_key_name", "sort_key_type"):
            # Disabled fields keep their initial value whatever is posted: keys never change.
            self.fields[field].disabled = True
            self.fields[field].help_text = "Fixed for the table's life."


class DynamoDbScaleForm(CapacityFields, TimedRevertField):
    """Only billing and capacity; everything else stays as applied."""

    def __init__(self, data=None, *, spec: dict, **kwargs):
        self.base_spec = spec
        super().__init__(data, initial=capacity_initial(spec), **kwargs)

    def clean(self):
        cleaned = super().clean()
        self.validate_spec(DynamoDbSpec, {**self.base_spec, **self.capacity_spec()})
        return cleaned


# --- the "tables it uses" field of the Lambda and ECS forms ---------------------------------------
TABLES_HELP = (
    "One per line: table-service: read or read_write, e.g. orders-db: read_write. Slipway gives "
    "this service its own role with access to exactly these tables."
)


def tables_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        label="DynamoDB tables it uses",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code"}),
        help_text=TABLES_HELP,
    )


def parse_table_access(text: str) -> tuple[list[dict], list[int]]:
    """'table: access' lines → [{"table", "access"}], and the line number of each."""
    grants, lines = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        table, _, access = line.partition(":")
        access = access.strip().lower().replace("-", "_") or "read"
        if not table.strip() or access not in ("read", "read_write"):
            raise forms.ValidationError(
                f"Line {number}: write table-service: read or table-service: read_write."
            )
        grants.append({"table": table.strip(), "access": access})
        lines.append(number)
    return grants, lines


def format_table_access(grants: list[dict] | None) -> str:
    return "\n".join(f"{g['table']}: {g['access']}" for g in grants or [])
