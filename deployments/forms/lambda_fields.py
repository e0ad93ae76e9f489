"""Textarea encodings and fields of the Lambda forms: S3 triggers, EventBridge, concurrency.

The parsers here only read what the user typed (lines, words, JSON); what makes a bucket,
event type, bus or pattern valid lives in the typed spec (deployments/specs/lambda_.py), which
the form validates through.
"""

from __future__ import annotations

from django import forms

from deployments.specs.lambda_ import MAX_PATTERN_CHARS, MAX_PATTERN_DEPTH
from portal import forms as portal_forms
from portal.untrusted import UntrustedInputError, loads_json_limited


def parse_s3_triggers(text: str) -> tuple[list[dict], list[int]]:
    """One trigger per line: `bucket [event …] [prefix=…] [suffix=…]`, and each one's line."""
    triggers, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        trigger: dict = {"bucket": words[0], "events": [], "prefix": "", "suffix": ""}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if sep and key in ("prefix", "suffix"):
                trigger[key] = value
            else:
                trigger["events"].append(word)
        trigger["events"] = trigger["events"] or ["s3:ObjectCreated:*"]
        triggers.append(trigger)
        lines.append(number)
    return triggers, lines


def format_s3_triggers(triggers: list[dict]) -> str:
    lines = []
    for t in triggers:
        words = [t["bucket"], *t.get("events", [])]
        words += [f"{k}={t[k]}" for k in ("prefix", "suffix") if t.get(k)]
        lines.append(" ".join(words))
    return "\n".join(lines)


def parse_event_pattern(text: str):
    """The JSON value typed in the pattern box (the spec says which values are patterns)."""
    if len(text) > MAX_PATTERN_CHARS:
        raise forms.ValidationError("The event pattern may be at most 4096 characters.")
    try:
        return loads_json_limited(text, max_depth=MAX_PATTERN_DEPTH, max_bytes=MAX_PATTERN_CHARS)
    except UntrustedInputError as exc:
        raise forms.ValidationError(str(exc)) from None


def concurrency_field(label: str, help_text: str, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, help_text=help_text, **kwargs)


class ConcurrencyFields(portal_forms.Form):
    """Reserved and provisioned concurrency, shared by the create, update and scale forms."""

    reserved_concurrency = concurrency_field(
        "Reserved concurrency",
        "Concurrent executions kept for this function, and its ceiling. Empty = unreserved; "
        "0 stops all invocations.",
    )
    provisioned_concurrency = concurrency_field(
        "Provisioned concurrency",
        "Warm execution environments on alias live (0 = none).",
        initial=0,
    )

    def concurrency_spec(self) -> dict:
        data = self.cleaned_data
        spec = {"provisioned_concurrency": data.get("provisioned_concurrency") or 0}
        if "reserved_concurrency" in data:
            spec["reserved_concurrency"] = data["reserved_concurrency"]
        return spec
