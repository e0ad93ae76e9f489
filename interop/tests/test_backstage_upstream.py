"""Backstage's own example catalog (examples/backstage-upstream/), and what a Backstage user's
catalog holds beyond Groups and Components: Users, Resources, Locations, namespaces and users
as owners."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from catalog.models import Membership, Service, Team
from interop import backstage
from interop.exporter import catalog_export
from interop.importer import catalog_import
from interop.models import EntityRecord
from interop.tests.test_backstage import catalog_state

UPSTREAM = Path(__file__).resolve().parents[2] / "examples" / "backstage-upstream"


def import_upstream():
    files = backstage.files_from_paths([UPSTREAM])
    return catalog_import(files=files, actor=None, source="cli")


@pytest.fixture
def accounts(db):
    """Slipway accounts for two of the example's users: one by email, one by username."""
    model = get_user_model()
    return {
        "janelle": model.objects.create_user("jdawe", email="Janelle-Dawe@example.com"),
        "guest": model.objects.create_user("guest", email="someone-else@example.org"),
    }


def members(slug: str) -> set[str]:
    return set(Membership.objects.filter(team__slug=slug).values_list("user__username", flat=True))


def test_upstream_examples_lose_nothing(accounts):
    report = import_upstream()

    # The deliberately invalid entity is refused for its real first problem, naming the file,
    # the document and the field; the group `guest` nobody defines is named too.
    invalid = [e for e in report.errors if "invalid component" in e]
    assert len(invalid) == 2, report.errors
    assert (
        "invalid-component.yaml#1 (Component invalid component): metadata.name: "
        "'invalid component' is not a valid name (it contains a space)" in invalid[0]
    )
    assert "invalid-component.yaml#1 (Component invalid component): metadata.tags.1:" in invalid[1]
    others = [e for e in report.errors if "invalid component" not in e]
    assert (
        len(others) == 1 and "(Component playback-order): spec.owner: group 'guest'" in (others[0])
    )

    # Users → memberships of the accounts that match (email, any case; or username).
    assert members("team-a") == {"jdawe", "guest"}
    assert any("'breanna.davison' matches no Slipway account" in w for w in report.warnings)
    assert EntityRecord.objects.filter(kind="User").count() == 17  # every User kept
    assert EntityRecord.objects.get(kind="User", name="janelle.dawe").user == accounts["janelle"]

    # A user-owned Component: held by the user's personal team, which the account is in.
    searcher = Service.objects.get(slug="searcher")
    assert searcher.owner.slug == "user-guest"
    assert searcher.owned_by(accounts["guest"]) and not searcher.owned_by(accounts["janelle"])
    assert Service.objects.get(slug="shuffle-api").owner.slug == "user-guest"

    # Resources are catalog entries with owner and system; dependsOn resolves to them.
    db = Service.objects.get(slug="artists-db")
    assert (db.kind, db.owner.slug, db.system) == ("resource", "team-a", "artist-engagement-portal")
    lookup = Service.objects.get(slug="artist-lookup")
    assert list(lookup.depends_on.values_list("slug", flat=True)) == ["artists-db"]

    # Namespaces: a Component in `alternative` owned by default/team-a; a second `guest` User
    # in `development` kept apart from the default one.
    other = Service.objects.get(slug="alternative-different-namespace")
    assert (other.owner.slug, other.entity.namespace) == ("team-a", "alternative")
    assert EntityRecord.objects.filter(kind="User", name="guest").count() == 2

    # An API sharing a Component's name is kept: the catalog calls it wayback-archive-api.
    assert Service.objects.get(slug="wayback-archive-api").entity.kind == "API"
    # Domains are kept, a user may own one too.
    playback = EntityRecord.objects.get(kind="Domain", name="playback")
    assert playback.team.slug == "user-frank-tiernan"

    # Locations are followed inside the import: URLs and missing files are named.
    assert any(
        "acme-corp.yaml#1 (Location acme-corp): target https://github.com/" in w and "is a URL" in w
        for w in report.warnings
    )
    assert any(
        "all.yaml#1 (Location example-all): target ./all-ai-resources.yaml is not in this "
        "import" in w
        for w in report.warnings
    )
    assert not any("all-components.yaml" in w for w in report.warnings)  # all 13 uploaded


def test_upstream_round_trip_changes_nothing(accounts):
    first = import_upstream()
    assert first.created
    before = catalog_state()
    exported = catalog_export()
    kinds = [doc.kind for doc in backstage.load([("x.yaml", exported)]).documents]
    assert kinds.count("User") == 17 and kinds.count("Resource") == 1
    assert kinds.count("Domain") == 3 and "namespace: alternative" in exported
    assert "owner: user:guest" in exported
    assert "user-guest" not in exported  # the personal team is not a Group

    report = catalog_import(files=[("export.yaml", exported)], actor=None, source="cli")
    assert report.errors == [] and report.created == [] and report.updated == [], report
    assert catalog_state() == before
    # And the upstream files themselves, imported again, change nothing either.
    again = import_upstream()
    assert again.created == [] and again.updated == [], again
    assert catalog_state() == before


CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: everything}
spec:
  targets: [./org/people.yaml, ./services.yaml, ./missing.yaml, https://example.com/x.yaml]
"""
PEOPLE = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: platform}
spec: {type: team, children: [], members: [carol]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: platform, namespace: labs}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: ann.lee}
spec:
  profile: {email: ann@example.com}
  memberOf: [platform, labs/platform]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: nobody}
spec: {memberOf: [platform]}
"""
SERVICES = """
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: orders-db}
spec: {type: database, owner: platform, system: orders}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: orders-db, namespace: labs}
spec: {type: database, owner: platform}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: orders}
spec:
  type: service
  lifecycle: production
  owner: user:ann.lee
  dependsOn: [resource:orders-db, resource:labs/orders-db, component:labs/orders]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: orders, namespace: labs}
spec: {type: service, lifecycle: experimental, owner: platform, dependsOn: [resource:orders-db]}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: orders}
spec: {owner: platform}
"""


def test_groups_users_resources_locations_namespaces_and_user_owners(db):
    model = get_user_model()
    ann = model.objects.create_user("ann", email="ann@example.com")
    carol = model.objects.create_user("carol")
    files = [
        ("catalog/all.yaml", CATALOG),
        ("catalog/org/people.yaml", PEOPLE),
        ("catalog/services.yaml", SERVICES),
    ]
    report = catalog_import(files=files, actor=None, source="web")
    assert report.errors == [], report.errors

    # Two namespaces, two teams; memberships from Group.members and User.memberOf.
    assert members("platform") == {"carol", "ann"}
    assert members("labs-platform") == {"ann"}
    assert members("user-ann-lee") == {"ann"}  # the team holding what ann.lee owns
    assert any("'nobody' matches no Slipway account" in w for w in report.warnings)

    # Every dependency, per namespace: the default `orders` needs both databases and the
    # labs `orders`; the labs one needs the labs database (its namespace is the default).
    orders = Service.objects.get(slug="orders")
    assert sorted(orders.depends_on.values_list("slug", flat=True)) == [
        "labs-orders",
        "labs-orders-db",
        "orders-db",
    ]
    labs = Service.objects.get(slug="labs-orders")
    assert list(labs.depends_on.values_list("slug", flat=True)) == ["labs-orders-db"]
    assert labs.owner.slug == "labs-platform"
    assert Service.objects.get(slug="orders-db").system == "orders"
    assert Service.objects.get(slug="labs-orders-db").owner.slug == "labs-platform"

    # The user-owned component: ann may change it, carol (platform, not ann.lee) may not.
    assert orders.owner.slug == "user-ann-lee"
    assert orders.owned_by(ann) and not orders.owned_by(carol)

    # Location targets: followed inside the upload, the rest named.
    warnings = "\n".join(report.warnings)
    assert "target ./missing.yaml is not in this import" in warnings
    assert "target https://example.com/x.yaml is a URL" in warnings
    assert "people.yaml is not" not in warnings and "services.yaml is not" not in warnings

    # Export and import again: nothing changes.
    before = catalog_state()
    exported = catalog_export()
    again = catalog_import(files=[("export.yaml", exported)], actor=None, source="cli")
    assert again.errors == [] and again.created == [] and again.updated == [], again
    assert catalog_state() == before
    assert Team.objects.filter(slug__startswith="user-").count() == 1


def test_catalog_resource_is_not_deployable(db, personas, client):
    """A catalog-only resource has a page, and the deploy link says it cannot be deployed."""
    from catalog.models import Environment

    catalog_import(files=[("s.yaml", SERVICES.split("---")[0])], actor=None, source="cli")
    catalog_import(
        files=[("p.yaml", PEOPLE.split("---")[0] + "---" + SERVICES.split("---")[0])],
        actor=None,
        source="cli",
    )
    service = Service.objects.get(slug="orders-db")
    Membership.objects.create(team=service.owner, user=personas["alice"])
    env = Environment.objects.get_or_create(
        slug="dev", defaults={"name": "Dev", "aws_account_id": "123456789012"}
    )[0]
    client.force_login(personas["alice"])
    for name in (
        "catalog:service_detail",
        "catalog:service_settings",
        "deployments:service_deployments",
        "monitoring:metrics",
        "monitoring:logs",
    ):
        assert client.get(reverse(name, args=[service.slug])).status_code == 200, name
    listed = client.get(reverse("catalog:service_list"), {"kind": "resource"})
    assert "orders-db" in listed.content.decode()
    url = reverse("deployments:deploy", args=[service.slug, env.slug])
    response = client.get(url, follow=True)
    assert b"catalog entry only" in response.content
