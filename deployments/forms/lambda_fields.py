"""Parsers and fields for the Lambda forms: S3 locations and triggers, EventBridge, concurrency.

Each parser raises ValidationError with a message for the field it came from, so the form shows
it next to that field; none of them talks to AWS.
"""

from __future__ import annotations

import ipaddress
import re

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from portal import forms as portal_forms
from portal.untrusted import UntrustedInputError, loads_json_limited

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUS_RE = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
MAX_PATTERN_CHARS = 4096  # AWS's limit for an event pattern
MAX_PATTERN_DEPTH = 16  # deeper patterns match nothing real and only risk the parser
MAX_CONCURRENCY = 10000  # above any account's default quota; guardrails cap it lower
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


def validate_bucket(name: str) -> str:
    error = bucket_name_error(name)
    if error:
        raise forms.ValidationError(error)
    return name


def parse_s3_triggers(text: str) -> list[dict]:
    """One trigger per line: `bucket [event …] [prefix=…] [suffix=…]`."""
    triggers, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        bucket, events, filters = words[0], [], {"prefix": "", "suffix": ""}
        error = bucket_name_error(bucket)
        if error:
            raise forms.ValidationError(f"Line {number}: {error}")
        if bucket in seen:
            raise forms.ValidationError(f"Line {number}: bucket {bucket} is listed twice.")
        seen.add(bucket)
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if sep and key in filters:
                filters[key] = value
            elif word in S3_EVENTS:
                events.append(word)
            else:
                raise forms.ValidationError(
                    f"Line {number}: {word!r} is neither an S3 event type (e.g. "
                    "s3:ObjectCreated:*) nor prefix=… / suffix=…."
                )
        triggers.append({"bucket": bucket, "events": events or ["s3:ObjectCreated:*"], **filters})
    return triggers


def format_s3_triggers(triggers: list[dict]) -> str:
    lines = []
    for t in triggers:
        words = [t["bucket"], *t.get("events", [])]
        words += [f"{k}={t[k]}" for k in ("prefix", "suffix") if t.get(k)]
        lines.append(" ".join(words))
    return "\n".join(lines)


def parse_event_pattern(text: str) -> dict:
    """A JSON object matching custom events by "source" and/or "detail-type" (lists)."""
    if len(text) > MAX_PATTERN_CHARS:
        raise forms.ValidationError("The event pattern may be at most 4096 characters.")
    try:
        pattern = loads_json_limited(text, max_depth=MAX_PATTERN_DEPTH, max_bytes=MAX_PATTERN_CHARS)
    except UntrustedInputError as exc:
        raise forms.ValidationError(str(exc)) from None
    if not isinstance(pattern, dict):
        raise forms.ValidationError('Write a JSON object, e.g. {"source": ["shop.orders"]}.')
    keys = [k for k in ("source", "detail-type") if k in pattern]
    if not keys:
        raise forms.ValidationError(
            'Match custom events by "source" or "detail-type", e.g. {"source": ["shop.orders"]}.'
        )
    for key in keys:
        value = pattern[key]
        if not isinstance(value, list) or not value:
            raise forms.ValidationError(f'"{key}" must be a non-empty list of values to match.')
    return pattern


def validate_bus(name: str) -> str:
    if name == "default":
        raise forms.ValidationError(
            "Use a custom event bus; the default bus carries AWS's own service events."
        )
    if not BUS_RE.match(name):
        raise forms.ValidationError(
            "Event bus names use letters, digits and . - _ / (at most 256 characters)."
        )
    return name


def concurrency_field(label: str, help_text: str, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_CONCURRENCY)],
        help_text=help_text,
        **kwargs,
    )


class ConcurrencyFields(portal_forms.Form):
    """Reserved and provisioned concurrency, shared by the create, update and scale forms."""

    reserved_concurrency = concurrency_field(
        "Reserved concurrency",
        "Concurrent executions kept for this function, and its ceiling. Empty = unreserved; "
        "0 stops all invocations.",
    )
    provisioned_concurrency = concurrency_field(
        "Provisioned concurrency",
        "Warm execution environments on alias live (0 = none). The embedded emulator does "
        "not implement this: any value above 0 fails there.",
        initial=0,
    )

    def clean_concurrency(self, cleaned: dict) -> None:
        """Provisioned capacity cannot exceed the reserved ceiling (AWS refuses it)."""
        reserved = cleaned.get("reserved_concurrency")
        provisioned = cleaned.get("provisioned_concurrency") or 0
        cleaned["provisioned_concurrency"] = provisioned
        if reserved is not None and provisioned > reserved:
            self.add_error(
                "provisioned_concurrency",
                f"Provisioned concurrency {provisioned} exceeds reserved concurrency {reserved}.",
            )

    def concurrency_spec(self) -> dict:
        return {
            "reserved_concurrency": self.cleaned_data.get("reserved_concurrency"),
            "provisioned_concurrency": self.cleaned_data.get("provisioned_concurrency") or 0,
        }
