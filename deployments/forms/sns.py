"""The SNS forms (create, update): topics by name, and queues subscribed to topics, one per line.

Queue lines read `name: service/topic [envelope] [filter policy as JSON]`, e.g.
`audit: orders/order-placed {"type": ["order.placed"]}`. Messages arrive raw (as published)
unless `envelope` asks for SNS's JSON envelope. The rules live in `SnsSpec`.
"""

from __future__ import annotations

from django import forms

from deployments.forms.common import NewServiceFields, SpecForm
from deployments.specs.sns import MAX_FILTER_DEPTH, SnsSpec
from portal.untrusted import UntrustedInputError, loads_json_limited

TEXTAREA = {"rows": 3, "spellcheck": "false", "class": "code"}
SPEC_FIELDS = {"topics": "topics", "queues": "queues"}


def parse_queues(text: str) -> tuple[list[dict], list[int]]:
    queues, lines = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        ref, _, rest = rest.strip().partition(" ")
        rest = rest.strip()
        raw = True
        if rest.startswith("envelope"):
            raw, rest = False, rest.removeprefix("envelope").strip()
        if not sep or not name.strip() or not ref:
            raise forms.ValidationError(
                f"Line {number}: write name: service/topic [envelope] [filter policy JSON]."
            )
        policy = None
        if rest:
            try:
                policy = loads_json_limited(rest, max_depth=MAX_FILTER_DEPTH + 2)
            except UntrustedInputError as exc:
                raise forms.ValidationError(f"Line {number}: the filter policy: {exc}") from exc
            if not isinstance(policy, dict):
                raise forms.ValidationError(f"Line {number}: a filter policy is a JSON object.")
        queues.append(
            {"name": name.strip(), "topic": ref, "filter_policy": policy, "raw_delivery": raw}
        )
        lines.append(number)
    return queues, lines


def format_queues(queues: list[dict]) -> str:
    import json

    out = []
    for q in queues or []:
        parts = [f"{q['name']}: {q['topic']}"]
        if not q.get("raw_delivery", True):
            parts.append("envelope")
        if q.get("filter_policy"):
            parts.append(json.dumps(q["filter_policy"]))
        out.append(" ".join(parts))
    return "\n".join(out)


class TopicFields(SpecForm):
    spec_fields = SPEC_FIELDS

    topics = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="One topic name per line, e.g. order-placed. Other services subscribe to it as "
        "<this service>/<topic>.",
    )
    queues = forms.CharField(
        required=False,
        label="Subscribed queues",
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="One per line: name: service/topic [envelope] [filter policy JSON], e.g. "
        'audit: orders/order-placed {"type": ["order.placed"]}',
    )

    def clean_topics(self):
        names = [n.strip() for n in self.cleaned_data.get("topics", "").splitlines()]
        return [{"name": n} for n in names if n and not n.startswith("#")]

    def clean_queues(self):
        queues, self.spec_lines["queues"] = parse_queues(self.cleaned_data.get("queues", ""))
        return queues

    def clean(self):
        cleaned = super().clean()
        if "topics" in cleaned and "queues" in cleaned:
            self.validate_spec(
                SnsSpec, {"kind": "sns", "topics": cleaned["topics"], "queues": cleaned["queues"]}
            )
        return cleaned

    def spec(self) -> dict:
        return self.typed_spec.to_json()


class SnsServiceForm(NewServiceFields, TopicFields):
    """Create a service that owns SNS topics (and queues subscribed to topics)."""

    name_help = "Lowercase letters, digits and hyphens; topics are <name>-<environment>-<topic>."


class SnsUpdateForm(TopicFields):
    def __init__(self, data=None, files=None, *, spec: dict, **kwargs):
        initial = {
            "topics": "\n".join(t["name"] for t in spec.get("topics") or []),
            "queues": format_queues(spec.get("queues") or []),
        }
        super().__init__(data, files, initial=initial, **kwargs)


# --- the "topics it subscribes to" field of the Lambda form ---------------------------------------
def topics_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        label="SNS topics it subscribes to",
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text="One per line: service/topic [filter policy JSON], e.g. orders/order-placed "
        '{"type": ["order.placed"]}. Only these topics may invoke the function.',
    )


def parse_topic_subscriptions(text: str) -> tuple[list[dict], list[int]]:
    subscriptions, lines = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ref, _, rest = line.partition(" ")
        policy = None
        if rest.strip():
            try:
                policy = loads_json_limited(rest.strip(), max_depth=MAX_FILTER_DEPTH + 2)
            except UntrustedInputError as exc:
                raise forms.ValidationError(f"Line {number}: the filter policy: {exc}") from exc
            if not isinstance(policy, dict):
                raise forms.ValidationError(f"Line {number}: a filter policy is a JSON object.")
        subscriptions.append({"topic": ref, "filter_policy": policy})
        lines.append(number)
    return subscriptions, lines


def format_topic_subscriptions(subscriptions: list[dict] | None) -> str:
    import json

    return "\n".join(
        s["topic"] + (f" {json.dumps(s['filter_policy'])}" if s.get("filter_policy") else "")
        for s in subscriptions or []
    )
