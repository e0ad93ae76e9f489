"""The Lambda forms: create (service + first deploy), update (any spec field), scale (concurrency).

They validate everything AWS (or the emulator) would not; errors land next to their field.
"""

from __future__ import annotations

import json

from django import forms
from pydantic_core import PydanticCustomError

from deployments.forms.common import NewServiceFields, SpecForm, TimedRevertField
from deployments.forms.dynamodb import format_table_access, parse_table_access, tables_field
from deployments.forms.lambda_fields import (
    ConcurrencyFields,
    format_s3_triggers,
    parse_event_pattern,
    parse_s3_triggers,
)
from deployments.forms.sns import (
    format_topic_subscriptions,
    parse_topic_subscriptions,
    topics_field,
)
from deployments.packages import zip_problem
from deployments.provisioners.lambda_ import normalized
from deployments.specs.lambda_ import (
    MAX_HANDLER,
    RUNTIMES,
    LambdaSpec,
    deterministic_zip,
    environment_errors,
    source_zip,
)

__all__ = ["LambdaScaleForm", "LambdaServiceForm", "LambdaUpdateForm", "deterministic_zip"]

LAMBDA_RUNTIMES = list(RUNTIMES.items())
MAX_ZIP_BYTES = 50 * 1024 * 1024  # AWS's limit for a direct zip upload
DEFAULT_PYTHON_SOURCE = """import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"hello": "from Slipway"})}
"""


def parse_env_vars(text: str) -> dict[str, str]:
    """Parse KEY=VALUE lines (the spec checks the names); raise ValidationError on a line
    that is not a pair."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(
                f"Line {number}: write KEY=value, with a key of letters, digits and underscores."
            )
        variables[key.strip()] = value.strip()
    return variables


# Where each part of the spec is typed on the form.
LAMBDA_SPEC_FIELDS = {
    "environment": "env_vars",
    "triggers.s3": "s3_triggers",
    "triggers.eventbridge.0.bus": "event_bus",
    "triggers.eventbridge.0.pattern": "event_pattern",
    "triggers.eventbridge": "event_bus",
    "code_s3.bucket": "code_s3_bucket",
    "code_s3.key": "code_s3_key",
    "code_s3": "code_s3_bucket",
    "code_sha256": "source",
    "tables": "tables",
    "topics": "topics",
}


SPEC_FIELD_ORDER = [
    "description",
    "runtime",
    "handler",
    "source",
    "code_zip",
    "code_s3_bucket",
    "code_s3_key",
    "memory_size",
    "timeout",
    "architecture",
    "env_vars",
    "reserved_concurrency",
    "provisioned_concurrency",
    "s3_triggers",
    "event_bus",
    "event_pattern",
    "tables",
    "topics",
]


class LambdaSpecFields(SpecForm, ConcurrencyFields):
    """Every field of a Lambda spec (create and update share them; see `spec_from`).

    The fields only parse what is typed; `LambdaSpec` holds the limits and rules.
    """

    field_order = SPEC_FIELD_ORDER
    spec_fields = LAMBDA_SPEC_FIELDS

    description = forms.CharField(required=False, widget=forms.TextInput)
    runtime = forms.ChoiceField(choices=LAMBDA_RUNTIMES, initial="python3.12")
    handler = forms.CharField(
        initial="app.handler",
        max_length=MAX_HANDLER,
        help_text="module.function, e.g. app.handler (file app.py, function handler).",
    )
    source = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        initial=DEFAULT_PYTHON_SOURCE,
        help_text="The handler's source file. Leave empty when you upload a zip.",
    )
    code_zip = forms.FileField(
        required=False, label="Or upload a zip", help_text="Up to 50 MB; replaces the source."
    )
    code_s3_bucket = forms.CharField(
        required=False,
        label="Or a zip in S3: bucket",
        help_text="With the key below, the function's code comes from this S3 object.",
    )
    code_s3_key = forms.CharField(required=False, label="S3 key of the zip")
    memory_size = forms.IntegerField(label="Memory (MB)", initial=128, help_text="128–10240 MB.")
    timeout = forms.IntegerField(label="Timeout (s)", initial=10, help_text="1–900 seconds.")
    architecture = forms.ChoiceField(
        choices=[("x86_64", "x86_64"), ("arm64", "arm64 (Graviton)")], initial="x86_64"
    )
    env_vars = forms.CharField(
        required=False,
        label="Environment variables",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
        help_text="One KEY=value per line. No secrets: reference them from SSM instead.",
    )
    s3_triggers = forms.CharField(
        required=False,
        label="S3 triggers",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code"}),
        help_text="One bucket per line: bucket-name [s3:ObjectCreated:* …] [prefix=in/] "
        "[suffix=.csv]. Other notifications in the bucket are left alone.",
    )
    event_bus = forms.CharField(
        required=False,
        label="EventBridge bus",
        help_text="A custom event bus (it must exist); a rule on it invokes alias live.",
    )
    event_pattern = forms.CharField(
        required=False,
        label="Event pattern (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
        help_text='Matches custom events, e.g. {"source": ["shop.orders"], '
        '"detail-type": ["OrderPlaced"]}.',
    )
    tables = tables_field()
    topics = topics_field()

    def clean_handler(self):
        return self.cleaned_data["handler"].strip()

    def clean_code_zip(self):
        upload = self.cleaned_data.get("code_zip")
        if not upload:
            return None
        if upload.size > MAX_ZIP_BYTES:
            raise forms.ValidationError("The zip is larger than 50 MB.")
        content = upload.read()
        problem = zip_problem(content)  # size unzipped, file count, expansion, paths
        if problem:
            raise forms.ValidationError(problem)
        return content

    def clean_code_s3_bucket(self):
        return self.cleaned_data.get("code_s3_bucket", "").strip()

    def clean_env_vars(self):
        return parse_env_vars(self.cleaned_data.get("env_vars", ""))

    def clean_s3_triggers(self):
        triggers, self.spec_lines["s3_triggers"] = parse_s3_triggers(
            self.cleaned_data.get("s3_triggers", "")
        )
        return triggers

    def clean_topics(self):
        found, self.spec_lines["topics"] = parse_topic_subscriptions(
            self.cleaned_data.get("topics", "")
        )
        return found

    def clean_tables(self):
        grants, self.spec_lines["tables"] = parse_table_access(self.cleaned_data.get("tables", ""))
        return grants

    def clean_event_bus(self):
        return self.cleaned_data.get("event_bus", "").strip()

    def clean_event_pattern(self):
        text = self.cleaned_data.get("event_pattern", "").strip()
        return parse_event_pattern(text) if text else None

    def clean(self):
        cleaned = super().clean()
        # Bus and pattern are one rule in the spec, typed in two boxes here.
        bus, pattern = cleaned.get("event_bus"), cleaned.get("event_pattern")
        if bus and pattern is None and "event_pattern" not in self.errors:
            self.add_error("event_pattern", "Write the event pattern the rule on this bus matches.")
        if pattern is not None and not bus and "event_bus" not in self.errors:
            self.add_error("event_bus", "Name the custom event bus this pattern applies to.")
        bucket, key = cleaned.get("code_s3_bucket"), cleaned.get("code_s3_key", "").strip()
        if bool(bucket) != bool(key) and "code_s3_bucket" not in self.errors:
            self.add_error(
                "code_s3_key" if bucket else "code_s3_bucket", "Give both bucket and key."
            )
        cleaned["code_s3"] = {"bucket": bucket, "key": key} if bucket and key else None
        return cleaned

    def _zip_from_source(self, cleaned: dict) -> bytes | None:
        """The typed source zipped under the handler's module name (None: cannot)."""
        runtime, handler = cleaned.get("runtime"), cleaned.get("handler")
        if not (runtime and handler):
            return None
        try:
            return source_zip(runtime, handler, cleaned["source"])
        except PydanticCustomError as exc:
            about_handler = (exc.context or {}).get("field") == "handler"
            self.add_error("handler" if about_handler else "code_zip", exc.message())
            return None

    def spec_from(self, base: dict) -> dict:
        """`base` (the applied spec, or {}) with every field of this form applied."""
        data = self.cleaned_data
        spec = {**base, "kind": "lambda", **self.concurrency_spec()}
        for field in ("runtime", "handler", "memory_size", "timeout", "architecture"):
            if data.get(field) is not None:
                spec[field] = data[field]
        spec["description"] = data.get("description", "")
        if "env_vars" in data:
            spec["environment"] = data["env_vars"]
        triggers = dict(base.get("triggers") or {})
        if "s3_triggers" in data:
            triggers["s3"] = data["s3_triggers"]
        if "event_bus" in data and "event_pattern" in data:
            triggers["eventbridge"] = (
                [{"bus": data["event_bus"], "pattern": data["event_pattern"]}]
                if data["event_bus"] and data["event_pattern"] is not None
                else []
            )
        spec["triggers"] = triggers
        if "tables" in data:
            spec["tables"] = data["tables"]
        if "topics" in data:
            spec["topics"] = data["topics"]
        if data.get("code"):
            spec.pop("code_s3", None)  # the view stores the zip and sets code_sha256
        elif data.get("code_s3"):
            spec.pop("code_sha256", None)
            spec["code_s3"] = data["code_s3"]
        return spec

    def validate(self, base: dict) -> None:
        """Check the spec this form builds through `LambdaSpec` (errors go to their fields)."""
        self.validate_spec(LambdaSpec, self.spec_from(base))

    def spec(self) -> dict:
        return self.typed_spec.to_json()


class LambdaServiceForm(NewServiceFields, LambdaSpecFields):
    """Create a Lambda function service and deploy it to one environment."""

    field_order = ["name", "owner", "environment", *SPEC_FIELD_ORDER]
    name_label = "Function name"
    name_help = (
        "Lowercase letters, digits and hyphens. Also the catalog id; the function in AWS is "
        "called <name>-<environment>."
    )

    def clean(self):
        cleaned = super().clean()
        # The source box starts filled in, so an upload or an S3 location wins over it.
        if cleaned.get("code_zip"):
            cleaned["code"] = cleaned["code_zip"]
        elif cleaned.get("code_s3"):
            pass
        elif cleaned.get("source", "").strip():
            cleaned["code"] = self._zip_from_source(cleaned)
        elif cleaned.get("runtime") and cleaned.get("handler"):
            self.add_error("source", "Write the handler's source, upload a zip, or name an S3 zip.")
        self.validate({})
        name, environment = cleaned.get("name"), cleaned.get("environment")
        if self.typed_spec is not None and name and environment:
            for field, message in environment_errors(
                self.typed_spec, environment=environment, name=name
            ):
                self.add_error(field, message)
        return cleaned


class LambdaUpdateForm(LambdaSpecFields):
    """Change any part of a deployed function; leave the code fields empty to keep its code."""

    def __init__(self, *args, spec: dict, **kwargs):
        self.applied = normalized(spec)
        super().__init__(*args, initial=_initial_from(self.applied), **kwargs)
        self.fields[
            "source"
        ].help_text = "Leave empty to keep the deployed code; anything typed here replaces it."

    def clean(self):
        cleaned = super().clean()
        # The S3 fields start filled in when the code came from S3, so typed source wins here.
        if cleaned.get("code_zip"):
            cleaned["code"] = cleaned["code_zip"]
        elif cleaned.get("source", "").strip():
            cleaned["code"] = self._zip_from_source(cleaned)
        self.validate(self.applied)
        return cleaned


class LambdaScaleForm(SpecForm, ConcurrencyFields, TimedRevertField):
    """Only the concurrency numbers; the environment's guardrails check them."""

    def __init__(self, data=None, *, spec: dict, **kwargs):
        self.applied = normalized(spec)
        initial = {k: self.applied[k] for k in ("reserved_concurrency", "provisioned_concurrency")}
        super().__init__(data, initial=initial, **kwargs)

    def clean(self):
        cleaned = super().clean()
        self.validate_spec(LambdaSpec, {**self.applied, **self.concurrency_spec()})
        return cleaned

    def spec(self) -> dict:
        return self.typed_spec.to_json()


def _initial_from(spec: dict) -> dict:
    eventbridge = spec["triggers"]["eventbridge"]
    first = eventbridge[0] if eventbridge else None
    location = spec.get("code_s3") or {}
    return {
        "description": spec.get("description", ""),
        "runtime": spec.get("runtime"),
        "handler": spec.get("handler"),
        "source": "",
        "memory_size": spec.get("memory_size"),
        "timeout": spec.get("timeout"),
        "architecture": spec.get("architecture"),
        "env_vars": "\n".join(f"{k}={v}" for k, v in spec["environment"].items()),
        "reserved_concurrency": spec["reserved_concurrency"],
        "provisioned_concurrency": spec["provisioned_concurrency"],
        "code_s3_bucket": location.get("bucket", ""),
        "code_s3_key": location.get("key", ""),
        "s3_triggers": format_s3_triggers(spec["triggers"]["s3"]),
        "event_bus": first["bus"] if first else "",
        "event_pattern": json.dumps(first["pattern"], indent=2) if first else "",
        "tables": format_table_access(spec.get("tables")),
        "topics": format_topic_subscriptions(spec.get("topics")),
    }
