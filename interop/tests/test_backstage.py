"""Backstage import/export against the example catalog in examples/backstage/."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditEvent
from catalog.models import Membership, Service, Team
from interop import backstage
from interop.exporter import catalog_export
from interop.importer import catalog_import
from interop.models import EntityRecord

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backstage"


def import_examples(actor=None):
    return catalog_import(files=backstage.files_from_paths([EXAMPLES]), actor=actor, source="cli")


def catalog_state() -> dict:
    """Everything the catalog and the interop records hold, for before/after comparisons."""
    return {
        "teams": list(Team.objects.order_by("slug").values()),
        "members": sorted(Membership.objects.values_list("team__slug", "user__username", "role")),
        "services": list(Service.objects.order_by("slug").values()),
        "depends": sorted(
            Service.depends_on.through.objects.values_list("from_service__slug", "to_service__slug")
        ),
        "records": list(EntityRecord.objects.order_by("kind", "name").values()),
    }


def test_example_catalog_imports_with_owners_and_relations(personas):
    report = import_examples(actor=personas["staff"])
    assert report.errors == []
    # 3 Groups, 2 Systems, 7 Components, 2 APIs and a Resource; payments and search teams exist.
    assert len(report.created) == 3 + 2 + 7 + 2 + 1 - 2
    assert "Group payments" in report.updated  # name/description/members refreshed

    payments, search = Team.objects.get(slug="payments"), Team.objects.get(slug="search")
    assert search.name == "Search & Discovery"
    assert Team.objects.get(slug="engineering").name == "Engineering"
    checkout = Service.objects.get(slug="checkout")
    assert (checkout.owner, checkout.kind, checkout.lifecycle) == (payments, "ecs", "production")
    assert checkout.name == "Checkout service" and checkout.system == "checkout"
    assert checkout.repo_url == "https://git.example.com/payments/checkout"
    assert checkout.docs_url == "https://docs.example.com/checkout"
    assert checkout.tags == ["python", "payments"]
    assert set(checkout.depends_on.values_list("slug", flat=True)) == {
        "ledger",
        "payment-webhooks",
        "payments-db",  # a Resource: a catalog-only entry of kind "resource"
    }
    db = Service.objects.get(slug="payments-db")
    assert (db.kind, db.owner, db.entity.kind, db.entity.spec_type) == (
        "resource",
        payments,
        "Resource",
        "database",
    )
    record = checkout.entity
    assert record.extra_spec["providesApis"] == ["payments-api"]
    assert "dependsOn" not in record.extra_spec  # every dependency resolved
    assert record.annotations["github.com/project-slug"] == "example/checkout"

    # spec.type → kind: annotation wins, function → lambda, library → ecs (reported).
    assert Service.objects.get(slug="ledger").kind == "lambda"
    webhooks = Service.objects.get(slug="payment-webhooks")
    assert (webhooks.kind, webhooks.lifecycle) == ("lambda", "experimental")  # beta → experimental
    assert Service.objects.get(slug="search-client").kind == "ecs"
    assert Service.objects.get(slug="search-gateway").kind == "apigateway"
    # APIs are services of kind apigateway, their definition kept on the record.
    api = Service.objects.get(slug="payments-api")
    assert (api.kind, api.owner, api.system) == ("apigateway", payments, "checkout")
    assert api.entity.kind == "API" and "openapi: 3.0.0" in api.entity.extra_spec["definition"]
    assert list(
        Service.objects.get(slug="search-ui").depends_on.values_list("slug", flat=True)
    ) == ["search-api"]
    # Systems are kept with their owner; Groups give memberships of known users only.
    assert EntityRecord.objects.get(kind="System", name="discovery").team == search
    assert set(payments.members.values_list("username", flat=True)) == {"alice", "bob"}
    assert any("'dora' has no Slipway account" in w for w in report.warnings)
    assert any(
        "(Location search-extras): target ./more/catalog-info.yaml is not in this import" in w
        for w in report.warnings
    )
    assert any("'library' is not deployable" in w for w in report.warnings)

    # Audited: one event for the whole import, with the counts and what changed.
    event = AuditEvent.objects.get(action="catalog.import")
    assert (event.actor, event.source) == (personas["staff"], "cli")
    assert event.after["counts"]["created"] == 13
    assert "Component checkout" in event.after["created"]
    assert "Group payments" in [change["entity"] for change in event.after["updated"]]
    assert AuditEvent.objects.filter(source="cli").count() == 1  # nothing else from the import


def test_reimport_updates_instead_of_duplicating(personas):
    import_examples()
    before = catalog_state()
    report = import_examples()
    assert report.created == [] and report.updated == [] and report.errors == []
    assert catalog_state() == before

    # A changed file updates the existing rows.
    text = (EXAMPLES / "payments" / "catalog-info.yaml").read_text()
    changed = text.replace(
        "lifecycle: production\n  owner: payments", "lifecycle: deprecated\n  owner: search"
    )
    report = catalog_import(files=[("edited.yaml", changed)], actor=None, source="web")
    assert "Component ledger" in report.updated
    ledger = Service.objects.get(slug="ledger")
    assert (ledger.lifecycle, ledger.owner.slug) == ("deprecated", "search")
    assert Service.objects.filter(slug="ledger").count() == 1
    event = AuditEvent.objects.filter(action="catalog.import").latest("pk")
    assert event.after["updated"] == [
        {
            "entity": "Component ledger",
            "changes": {"lifecycle": ["production", "deprecated"], "owner": ["payments", "search"]},
        }
    ]


def test_export_then_reimport_changes_nothing(personas, tmp_path):
    import_examples()
    before = catalog_state()
    exported = catalog_export()
    kinds = [doc.kind for doc in backstage.load([("x.yaml", exported)]).documents]
    assert kinds.count("Group") == 3 and kinds.count("System") == 2
    assert kinds.count("Component") == 7 and kinds.count("API") == 2
    assert kinds.count("Resource") == 1

    report = catalog_import(files=[("export.yaml", exported)], actor=None, source="cli")
    assert report.errors == [] and report.created == [] and report.updated == [], report
    assert catalog_state() == before

    # The command writes the same export, and imports it back unchanged too.
    out = tmp_path / "catalog.yaml"
    call_command("export_backstage", "--output", str(out))
    assert out.read_text() == exported
    call_command("import_backstage", str(out))
    assert catalog_state() == before


def test_export_of_slipway_made_services_round_trips(personas):
    from catalog import services as catalog_services

    catalog_services.service_create(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="lambda",
        name="Orders",
        tags=["go"],
    )
    exported = catalog_export()
    assert "slipway.dev/kind: lambda" in exported
    services_before = list(Service.objects.order_by("slug").values())
    report = catalog_import(files=[("export.yaml", exported)], actor=None, source="cli")
    assert report.errors == [] and report.created == []
    assert list(Service.objects.order_by("slug").values()) == services_before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [unclosed", "not valid YAML"),
        ("- just a list", "not a mapping"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}", "apiVersion is not backstage.io"),
        ("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}", "no metadata.name"),
        ("base: &a [1, 2]\nmore: [*a, *a]", "aliases are not allowed"),
        ("!!python/object/apply:os.system ['true']", "!!python/object/apply:os.system is not"),
        (b"\xff\xfe", "not UTF-8"),
        ("x" * (backstage.MAX_FILE_BYTES + 1), "larger than"),
    ],
)
def test_bad_files_are_reported_not_crashed_on(db, content, message):
    report = catalog_import(files=[("bad.yaml", content)], actor=None, source="cli")
    assert len(report.errors) == 1 and message in report.errors[0], report.errors
    assert not Service.objects.exists()


def test_entity_errors_do_not_stop_the_rest(personas):
    text = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: orphan}
spec: {type: service, lifecycle: production, owner: group:nobody}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: Bad_Name}
spec: {type: service, lifecycle: production, owner: payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: fine}
spec: {type: service, lifecycle: production, owner: user:alice}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: good}
spec: {type: service, lifecycle: production, owner: payments}
"""
    report = catalog_import(files=[("mixed.yaml", text)], actor=None, source="cli")
    errors = sorted(report.errors)
    assert len(errors) == 2
    assert errors[0].startswith("mixed.yaml#1 (Component orphan): spec.owner: group 'nobody'")
    assert errors[1].startswith("mixed.yaml#2 (Component Bad_Name): metadata.name: Use 2–40")
    assert list(Service.objects.values_list("slug", flat=True)) == ["fine", "good"]
    # A user may own a service (as in Backstage): it is held by the user's personal team,
    # whose member is the user's account, so alice may change it and charlie may not.
    fine = Service.objects.get(slug="fine")
    assert fine.owner.slug == "user-alice"
    assert fine.owned_by(personas["alice"]) and not fine.owned_by(personas["charlie"])


def test_command_reports_and_fails_on_errors(personas, tmp_path, capsys):
    from django.core.management.base import CommandError

    call_command("import_backstage", str(EXAMPLES))
    out = capsys.readouterr().out
    assert "created   Component checkout" in out and "errors" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed")
    with pytest.raises(CommandError):
        call_command("import_backstage", str(bad))
    with pytest.raises(CommandError):
        call_command("import_backstage", str(tmp_path / "missing"))
    assert get_user_model().objects.count() == 4  # nothing else touched
