"""The Lambda function spec: what the form, the API and the provisioner agree a function is.

Stored shape (unchanged from before typed specs): kind, description, runtime, handler,
memory_size, timeout, architecture, environment {NAME: value}, reserved_concurrency (None =
unreserved), provisioned_concurrency, triggers {s3: [...], eventbridge: [...]}, and the code as
code_sha256 (a zip Slipway stored) or code_s3 {bucket, key}.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import zipfile
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from deployments.specs.base import Spec, invalid
from deployments.specs.dynamodb import TableAccess, unique_tables
from deployments.specs.sns import TopicSubscription, unique_subscriptions

RUNTIMES = {
    "python3.13": "Python 3.13",
    "python3.12": "Python 3.12",
    "python3.11": "Python 3.11",
    "nodejs22.x": "Node.js 22",
    "nodejs20.x": "Node.js 20",
    "java21": "Java 21 (zip upload)",
    "ruby3.3": "Ruby 3.3",
    "provided.al2023": "Custom runtime on Amazon Linux 2023 (zip upload)",
}
Runtime = Literal[
    "python3.13",
    "python3.12",
    "python3.11",
    "nodejs22.x",
    "nodejs20.x",
    "java21",
    "ruby3.3",
    "provided.al2023",
]
# Source typed into the form becomes this file in the zip, named after the handler's module.
SOURCE_SUFFIX = {"python": ".py", "nodejs": ".js", "ruby": ".rb"}
MAX_HANDLER = 128  # AWS's limit on Handler
HANDLER_RE = re.compile(r"^[A-Za-z0-9_\-/]+(\.[A-Za-z0-9_\-]+)+$")
ENV_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUS_RE = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_ENV_BYTES = 4 * 1024  # AWS's limit for all environment variables together
MAX_PATTERN_CHARS = 4096  # AWS's limit for an event pattern
MAX_PATTERN_DEPTH = 16  # deeper patterns match nothing real and only risk the parser
MAX_CONCURRENCY = 10000  # above any account's default quota; guardrails cap it lower
MAX_SOURCE_CHARS = 1_000_000
S3_EVENTS = (
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectTagging:*",
    "s3:LifecycleExpiration:*",
    "s3:ReducedRedundancyLostObject",
)


def bucket_name_error(name: str) -> str:
    """Why `name` is not a valid S3 bucket name ('' when it is)."""
    if not BUCKET_RE.match(name):
        return (
            f"{name!r} is not a valid bucket name: 3–63 lowercase letters, digits, dots and "
            "hyphens, starting and ending with a letter or digit."
        )
    if ".." in name or ".-" in name or "-." in name:
        return f"{name!r} is not a valid bucket name: no '..', '.-' or '-.'."
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return ""
    return f"{name!r} is not a valid bucket name: it looks like an IP address."


def _bucket(name: str) -> str:
    error = bucket_name_error(name)
    if error:
        raise invalid(error)
    return name


def _event(name: str) -> str:
    if name not in S3_EVENTS:
        raise invalid(f"{name!r} is not an S3 event type (e.g. s3:ObjectCreated:*).")
    return name


Bucket = Annotated[str, AfterValidator(_bucket)]
S3Event = Annotated[
    str, AfterValidator(_event), WithJsonSchema({"type": "string", "enum": list(S3_EVENTS)})
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeS3(_Part):
    """A zip in S3 the function's code is loaded from."""

    bucket: Bucket
    key: str = Field(min_length=1, max_length=1024)


class S3Trigger(_Part):
    """Objects landing in `bucket` (matching prefix/suffix) invoke the function's alias live."""

    bucket: Bucket
    events: list[S3Event] = Field(default_factory=lambda: ["s3:ObjectCreated:*"], min_length=1)
    prefix: str = Field("", max_length=1024)
    suffix: str = Field("", max_length=1024)


def _depth(value: Any, limit: int) -> int:
    """How deeply lists and objects nest in `value`, counting no further than `limit` + 1."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


class EventBridgeRule(_Part):
    """A rule on a custom event bus whose matching events invoke the function's alias live."""

    bus: str = Field(description="A custom event bus (it must exist), not 'default'.")
    pattern: dict[str, Any] = Field(
        description='Matches custom events by "source" and/or "detail-type" (non-empty lists).'
    )

    @field_validator("bus")
    @classmethod
    def _bus(cls, name: str) -> str:
        if name == "default":
            raise invalid(
                "Use a custom event bus; the default bus carries AWS's own service events."
            )
        if not BUS_RE.match(name):
            raise invalid(
                "Event bus names use letters, digits and . - _ / (at most 256 characters)."
            )
        return name

    @field_validator("pattern", mode="before")
    @classmethod
    def _pattern(cls, pattern: Any) -> Any:
        if not isinstance(pattern, dict):
            raise invalid('Write a JSON object, e.g. {"source": ["shop.orders"]}.')
        if _depth(pattern, MAX_PATTERN_DEPTH) > MAX_PATTERN_DEPTH:
            raise invalid(f"The JSON is nested deeper than {MAX_PATTERN_DEPTH} levels.")
        if len(json.dumps(pattern)) > MAX_PATTERN_CHARS:
            raise invalid("The event pattern may be at most 4096 characters.")
        keys = [k for k in ("source", "detail-type") if k in pattern]
        if not keys:
            raise invalid(
                'Match custom events by "source" or "detail-type", e.g. '
                '{"source": ["shop.orders"]}.'
            )
        for key in keys:
            value = pattern[key]
            if not isinstance(value, list) or not value:
                raise invalid(f'"{key}" must be a non-empty list of values to match.')
        return pattern


class Triggers(_Part):
    """What invokes the function besides direct calls."""

    s3: list[S3Trigger] = Field(default_factory=list, max_length=20)
    eventbridge: list[EventBridgeRule] = Field(default_factory=list, max_length=5)

    @field_validator("s3")
    @classmethod
    def _once_per_bucket(cls, triggers: list[S3Trigger]) -> list[S3Trigger]:
        seen = set()
        for trigger in triggers:
            if trigger.bucket in seen:
                raise invalid(f"Bucket {trigger.bucket} is listed twice.")
            seen.add(trigger.bucket)
        return triggers


Concurrency = Annotated[int, Field(ge=0, le=MAX_CONCURRENCY)]


class LambdaFields(Spec):
    """The fields a user chooses (every path), with their limits and cross-field rules."""

    scale_fields: ClassVar[tuple[str, ...]] = ("reserved_concurrency", "provisioned_concurrency")

    kind: Literal["lambda"] = "lambda"
    description: str = Field("", max_length=256)
    runtime: Runtime = "python3.12"
    handler: str = Field(
        "app.handler",
        max_length=MAX_HANDLER,
        description="module.function, e.g. app.handler (file app.py, function handler).",
    )
    memory_size: int = Field(128, ge=128, le=10240, description="MB, 128–10240.")
    timeout: int = Field(10, ge=1, le=900, description="Seconds, 1–900.")
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables, NAME: value (no secrets; at most 4 KB in all). "
        "The API never returns their values, only their names.",
    )
    reserved_concurrency: Concurrency | None = Field(
        None, description="Concurrent executions kept for the function; null = unreserved."
    )
    provisioned_concurrency: Concurrency = Field(
        0, description="Warm environments on alias live; at most the reserved concurrency."
    )
    triggers: Triggers = Field(default_factory=Triggers)
    code_s3: CodeS3 | None = Field(None, description="Load the code from a zip in S3.")
    tables: list[TableAccess] = Field(
        default_factory=list,
        max_length=20,
        description="DynamoDB tables the function uses; it gets its own execution role with a "
        "least-privilege policy for exactly these tables (and their indexes).",
    )

    @field_validator("tables")
    @classmethod
    def _tables(cls, grants: list[TableAccess]) -> list[TableAccess]:
        return unique_tables(grants)

    topics: list[TopicSubscription] = Field(
        default_factory=list,
        max_length=10,
        description="SNS topics (service/topic) the function subscribes to, each with an "
        "optional filter policy; only those topics may invoke it.",
    )

    @field_validator("topics")
    @classmethod
    def _topics(cls, subscriptions: list[TopicSubscription]) -> list[TopicSubscription]:
        return unique_subscriptions(subscriptions)

    @field_validator("handler")
    @classmethod
    def _handler(cls, handler: str) -> str:
        return handler_checked(handler)

    @field_validator("environment")
    @classmethod
    def _environment(cls, variables: dict[str, str]) -> dict[str, str]:
        for key in variables:
            if not ENV_KEY_RE.match(key):
                raise invalid(
                    f"{key!r} is not a variable name: use letters, digits and underscores, "
                    "starting with a letter."
                )
            if key.startswith("AWS_"):
                raise invalid(f"{key} is reserved by AWS Lambda.")
        if len(str(variables).encode()) > MAX_ENV_BYTES:
            raise invalid("Environment variables may total at most 4 KB.")
        return variables

    @field_validator("provisioned_concurrency")
    @classmethod
    def _within_reserved(cls, provisioned: int, info) -> int:
        reserved = info.data.get("reserved_concurrency")
        if reserved is not None and provisioned > reserved:
            raise invalid(
                f"Provisioned concurrency {provisioned} exceeds reserved concurrency {reserved}."
            )
        return provisioned


class LambdaSpec(LambdaFields):
    """A Lambda function as stored on deployments and instances."""

    code_sha256: str = Field("", description="Hex SHA-256 of the zip Slipway stored.")

    @field_validator("code_sha256")
    @classmethod
    def _sha(cls, sha: str) -> str:
        if sha and not SHA256_RE.match(sha):
            raise invalid("Not a hex SHA-256 digest.")
        return sha

    @model_serializer(mode="wrap")
    def _stored(self, handler) -> dict:
        # One code key is stored: code_sha256 or code_s3 (as the provisioner reads it).
        data = handler(self)
        if not data.get("code_sha256"):
            data.pop("code_sha256", None)
        if data.get("code_s3") is None:
            data.pop("code_s3", None)
        for key in ("tables", "topics"):
            if not data.get(key):
                data.pop(key, None)  # specs stored before these fields stay as they were
        return data

    @model_validator(mode="after")
    def _one_code_source(self) -> LambdaSpec:
        if self.code_s3 and self.code_sha256:
            raise invalid("Give the code as a stored zip or an S3 zip, not both.", field="code_s3")
        return self


class LambdaInput(LambdaFields):
    """A new function through the API: the spec's fields, with the code as source or S3 zip."""

    source: str | None = Field(
        None,
        max_length=MAX_SOURCE_CHARS,
        description="The handler's source file (Python, Node.js or Ruby); Slipway zips it as "
        "<module><suffix> after the handler's module. Or give code_s3.",
    )

    @model_validator(mode="after")
    def _code(self) -> LambdaInput:
        if self.source and self.code_s3:
            raise invalid("Give the source or an S3 zip, not both.", field="source")
        if not self.source and not self.code_s3:
            raise invalid(
                "Write the handler's source, upload a zip, or name an S3 zip.", field="source"
            )
        if self.source:
            source_zip(self.runtime, self.handler, self.source)  # raises when it cannot
        return self


def handler_checked(handler: str, *, field: str | None = None) -> str:
    """`handler` if AWS would take it as module.function; raises `invalid` (placed under
    `field`, for checks made outside the field's own validator) otherwise."""
    if len(handler) > MAX_HANDLER:
        raise invalid(f"A handler has at most {MAX_HANDLER} characters.", field=field)
    if not HANDLER_RE.match(handler):
        raise invalid("Write the handler as module.function, e.g. app.handler.", field=field)
    return handler


def source_zip(runtime: str, handler: str, source: str) -> bytes:
    """The typed source zipped under the handler's module name, with fixed timestamps (so the
    same source gives the same code hash). Raises `invalid` for runtimes that need a zip, and
    for a handler AWS would refuse (its module names the file in the zip)."""
    handler_checked(handler, field="handler")
    match = re.match(r"[a-z]+", runtime)
    family = match.group(0) if match else runtime
    suffix = SOURCE_SUFFIX.get(family)
    if suffix is None:
        raise invalid(f"{runtime} needs a zip upload.", field="source")
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    return deterministic_zip(module + suffix, source)


def deterministic_zip(filename: str, source: str) -> bytes:
    """Zip one file with fixed timestamps, so the same source gives the same code hash."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def environment_errors(spec: LambdaSpec, *, environment, name: str | None) -> list[tuple[str, str]]:
    """(field, message): a new function's AWS name, <name>-<environment>, must fit Lambda."""
    from deployments import names

    if not name:
        return []
    function_name = names.lambda_function(name, environment.slug)
    if len(function_name) <= names.LAMBDA_NAME_MAX:
        return []
    return [
        (
            "name",
            f"The function name {function_name!r} would be longer than "
            f"{names.LAMBDA_NAME_MAX} characters.",
        )
    ]
