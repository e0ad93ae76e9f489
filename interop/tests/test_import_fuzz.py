"""Property-based: generated hostile catalog files through the upload page never give a 5xx,
and what is refused leaves no row behind; what is accepted re-imports as unchanged."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from catalog.models import Service, Team
from interop.models import EntityRecord
from interop.tests.uploads import upload

# YAML snippets for one value: odd tags and types, aliases, deep nesting, huge text.
ODD_VALUES = st.sampled_from(
    [
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!omap [{a: 1}]",
        "!!pairs [{a: 1}]",
        "!!python/object/apply:os.system ['true']",
        "!local thing",
        "!!timestamp 2024-01-01",
        "2024-01-01T10:00:00Z",
        "!!float .nan",
        ".inf",
        "!!int 0x" + "f" * 30,
        "!!bool maybe",
        "&a [*a]",
        "*nowhere",
        "{<<: {a: b}}",
        "{[a]: b}",
        "{? {a: b} : c}",
        "~",
        "[]",
        "{}",
        "5",
        "-1.5e300",
        "true",
        "|\n    block text",
    ]
)
DEEP = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n) | st.integers(1, 300).map(
    lambda n: "{a: " * n + "1" + "}" * n
)
HUGE = st.integers(0, 1_200_000).map(lambda n: json.dumps("x" * n))
# Any unicode, NUL and control characters included, written as a JSON string: JSON's escapes
# (\u0000, \ud800...) are valid YAML double-quoted escapes.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=50).map(json.dumps)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
).map(json.dumps)
VALUE = st.one_of(ODD_VALUES, DEEP, HUGE, TEXT, JSONISH)

FIELDS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "metadata.labels",
    "metadata.annotations",
    "metadata.tags",
    "metadata.links",
    "spec.owner",
    "spec.type",
    "spec.lifecycle",
    "spec.system",
    "spec.dependsOn",
    "spec.members",
    "spec.profile",
    "kind",
    "apiVersion",
]


def entity(kind: str, field: str, value: str) -> str:
    """A valid entity of `kind` with `field` replaced by the YAML `value`."""
    body = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "fuzzed", "description": "d"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "payments"},
    }
    if kind == "Group":
        body["metadata"]["name"] = "fuzz-team"
        body["spec"] = {"type": "team", "children": []}
    lines = [f"apiVersion: {body['apiVersion']}", f"kind: {kind}"]
    for section in ("metadata", "spec"):
        lines.append(f"{section}:")
        items = dict(body[section])
        if field.startswith(section + "."):
            items[field.split(".", 1)[1]] = None
        for key, item in items.items():
            shown = value if f"{section}.{key}" == field else json.dumps(item)
            lines.append(f"  {key}: {shown}")
    text = "\n".join(lines) + "\n"
    if field in ("kind", "apiVersion"):
        text = text.replace(f"{field}: {body[field]}", f"{field}: {value}", 1)
    return text


def rows() -> tuple:
    return (Service.objects.count(), Team.objects.count(), EntityRecord.objects.count())


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["Component", "API", "Group", "System"]),
    field=st.sampled_from(FIELDS),
    value=VALUE,
    garbage=st.binary(min_size=1, max_size=200),
)
def test_hostile_catalog_files_never_500_nor_leave_rows(
    client, personas, kind, field, value, garbage
):
    client.force_login(personas["staff"])
    Service.objects.all().delete()
    EntityRecord.objects.all().delete()
    Team.objects.exclude(slug__in=["payments", "search"]).delete()
    before = rows()
    text = entity(kind, field, value)
    files = [
        SimpleUploadedFile("fuzzed.yaml", text.encode("utf-8", "surrogatepass")),
        SimpleUploadedFile("garbage.yaml", garbage),
    ]
    response = upload(client, files)
    assert response.status_code < 500
    if response.status_code == 400:  # refused by the form (size cap): nothing read at all
        event("refused by the form")
        assert "files" in response.context["form"].errors and rows() == before
        return
    report = response.context["report"]
    refused = [e for e in report.errors if e.startswith("fuzzed.yaml")]
    if refused or not report.created:
        event("refused")
        assert rows() == before, report
        return
    event("accepted")
    # Accepted: what was stored reads back the same (a second import changes nothing).
    again = upload(
        client, [SimpleUploadedFile("fuzzed.yaml", text.encode("utf-8", "surrogatepass"))]
    )
    assert again.status_code == 200
    assert again.context["report"].created == [] and again.context["report"].updated == []
