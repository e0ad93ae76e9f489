"""Hostile and malformed catalog files: a message naming file, document and field; no 500s,
nothing stored for what was refused (checked on PostgreSQL, the suite's database)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Service, Team
from interop.importer import catalog_import
from interop.models import EntityRecord
from interop.tests.uploads import upload

HEAD = "apiVersion: backstage.io/v1alpha1\nkind: Component\n"


def component(metadata: str = "", spec: str = "", name: str = "victim") -> str:
    return (
        f"{HEAD}metadata:\n  name: {name}\n{metadata}"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: payments\n{spec}"
    )


def nothing_stored():
    assert not Service.objects.exists()
    assert not EntityRecord.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Values YAML can build that are not JSON.
        (
            component("  annotations:\n    x: !!binary aGVsbG8=\n"),
            "metadata.annotations.x: the YAML tag !!binary",
        ),
        (component("  labels: !!set {a, b}\n"), "metadata.labels: the YAML tag !!set"),
        (component("  labels: !!omap [{a: 1}]\n"), "metadata.labels: the YAML tag !!omap"),
        (component("  title: !custom thing\n"), "metadata.title: the YAML tag '!custom'"),
        (component("  labels: {x: .nan}\n"), "metadata.labels.x: non-finite numbers"),
        (component("  labels: {x: 0x" + "f" * 40 + "}\n"), "metadata.labels.x: the number is too"),
        (component("  title: !!int 1e99999\n"), "is not a valid !!int"),
        (component("  title: !!bool maybe\n"), "is not a valid !!bool"),
        # Known fields of the wrong type.
        (
            component("  annotations: [a, b]\n"),
            "metadata.annotations: Input should be a valid dict",
        ),
        (component("  links: 5\n"), "metadata.links: Input should be a valid list"),
        (component("  tags: 5\n"), "metadata.tags: Input should be a valid list"),
        (component("  tags: [ok, {a: 1}]\n"), "metadata.tags.1: Input should be a valid string"),
        (component("  labels: {count: 5}\n"), "metadata.labels.count: Input should be a valid str"),
        (component("  links: [{title: no url}]\n"), "metadata.links.0.url: Field required"),
        (component(spec="  dependsOn: component:x\n"), "spec.dependsOn: Input should be a valid"),
        (component("  description: " + "d" * 2001 + "\n"), "metadata.description: String should"),
        (component(name="'7'"), "metadata.name: Use 2–40 lowercase"),
        # Text PostgreSQL refuses, anywhere in the document.
        (component('  description: "a\\0b"\n'), "metadata.description: NUL bytes"),
        (component('  labels: {"k\\0": v}\n'), "metadata.labels: a key holds a NUL byte"),
        (
            component('  annotations: {x: "a\\x00"}\n'),
            "metadata.annotations.x: NUL bytes and unpaired",
        ),
        (component(spec='  extra: {deep: ["\\0"]}\n'), "spec.extra.deep[0]: NUL bytes"),
        # Shapes that blow up parsers.
        (component("  labels: " + "[" * 30 + "]" * 30 + "\n"), "nested deeper than 20 levels"),
        (component("  labels: &a {x: 1}\n  annotations: *a\n"), "YAML aliases are not allowed"),
        (component("  labels: {<<: {x: y}}\n"), "merge keys (<<): only plain text keys"),
        (component("  labels: {[a]: b}\n"), "this key: only plain text keys"),
    ],
)
def test_malformed_entity_is_named_and_not_stored(personas, text, message):
    report = catalog_import(files=[("hostile.yaml", text)], actor=None, source="cli")
    assert any(e.startswith("hostile.yaml#1") and message in e for e in report.errors), report
    assert report.created == []
    nothing_stored()


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000 + "]" * 100_000,
        "a: " + "{b: " * 5000 + "1" + "}" * 5000,
        "- " * 5000 + "x",
        "a: \x00",
        "a: b\n  c: [unclosed",
    ],
    ids=["deep-flow-sequence", "deep-flow-mapping", "deep-block", "raw-nul", "broken"],
)
def test_unparseable_file_is_named_and_skipped(personas, text):
    report = catalog_import(
        files=[("bad.yaml", text), ("good.yaml", component(name="fine"))], actor=None, source="cli"
    )
    assert len(report.errors) == 1 and report.errors[0].startswith("bad.yaml: not valid YAML")
    assert report.created == ["Component fine"]  # the rest of the import goes on


def test_dates_are_kept_as_the_text_written(personas):
    report = catalog_import(
        files=[("dated.yaml", component("  labels: {since: 2024-01-01}\n"))],
        actor=None,
        source="cli",
    )
    assert report.errors == [] and report.created == ["Component victim"]
    assert EntityRecord.objects.get(name="victim").labels == {"since": "2024-01-01"}
    again = catalog_import(
        files=[("dated.yaml", component("  labels: {since: 2024-01-01}\n"))],
        actor=None,
        source="cli",
    )
    assert again.unchanged == ["Component victim"] and again.updated == []


def test_hostile_uploads_never_500_and_store_nothing(client, personas):
    client.force_login(personas["staff"])
    uploads = {
        "deep.yaml": component("  labels: " + "[" * 100_000 + "]" * 100_000 + "\n"),
        "binary.yaml": component("  annotations:\n    x: !!binary aGVsbG8=\n"),
        "nul.yaml": component('  description: "\\0"\n'),
        "links.yaml": component("  links: 5\n"),
        "latin1.yaml": "name: caf\xe9".encode("latin-1"),
    }
    files = [
        SimpleUploadedFile(n, c if isinstance(c, bytes) else c.encode()) for n, c in uploads.items()
    ]
    response = upload(client, files)
    assert response.status_code == 200
    errors = response.context["report"].errors
    for name in uploads:
        assert any(e.startswith(name) for e in errors), (name, errors)
    nothing_stored()


def test_a_file_over_the_size_cap_is_refused(personas):
    text = component("  description: x\n") + "#" * (1024 * 1024)
    report = catalog_import(files=[("big.yaml", text)], actor=None, source="cli")
    assert report.errors == ["big.yaml: larger than 1024 KB; skipped."]
    nothing_stored()


def test_duplicate_names_are_reported_and_none_is_imported(personas):
    other_api = (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: shared}\n"
        "spec: {type: openapi, lifecycle: production, owner: payments, definition: x}\n"
    )
    report = catalog_import(
        files=[
            ("a.yaml", component(name="twice")),
            ("b.yaml", component("  title: Second\n", name="twice")),
            ("c.yaml", component(name="shared") + "---\n" + other_api),
            (
                "d.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: payments}\n",
            ),
            (
                "e.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: payments}\n",
            ),
        ],
        actor=None,
        source="cli",
    )
    assert sorted(e.split(":")[0] for e in report.errors) == [
        "a.yaml#1 (Component twice)",
        "b.yaml#1 (Component twice)",
        "d.yaml#1 (Group payments)",
        "e.yaml#1 (Group payments)",
    ]
    assert any(
        "'twice' appears 2 times in this import (a.yaml#1, b.yaml#1)" in e for e in report.errors
    )
    # A Component and an API may share a name (Backstage keeps kinds apart): the API takes
    # the catalog name `<name>-api`.
    assert sorted(Service.objects.values_list("slug", "entity__kind")) == [
        ("shared", "Component"),
        ("shared-api", "API"),
    ]
    assert Team.objects.get(slug="payments").name == "Payments"  # untouched


def test_a_source_location_that_is_not_a_url_is_named(personas):
    bad = "  annotations:\n    backstage.io/source-location: 'url:https://exa mple.com/x'\n"
    report = catalog_import(files=[("url.yaml", component(bad))], actor=None, source="cli")
    assert report.errors == ["url.yaml#1 (Component victim): repo_url: Enter a valid URL."]
    nothing_stored()


def test_a_system_whose_type_is_not_text_is_refused(personas):
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: odd}\n"
        "spec: {owner: payments, type: [[]]}\n"
    )
    report = catalog_import(files=[("odd.yaml", text)], actor=None, source="cli")
    assert report.created == [] and report.errors == [
        "odd.yaml#1 (System odd): spec.type: Input should be a valid string."
    ]
