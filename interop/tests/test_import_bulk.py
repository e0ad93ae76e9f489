"""Large imports: any file order, batched writes, one audit event, fresh filter counts."""

import re

from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service, Team
from interop.importer import catalog_import
from interop.models import EntityRecord


def generated(components: int, *, groups: int = 3, systems: int = 2) -> list[tuple[str, str]]:
    """A small catalog in the bench's shape, components first in name order."""
    head = "apiVersion: backstage.io/v1alpha1\n"
    files = []
    for c in range(components):
        files.append(
            (
                f"a-components/c{c:03d}.yaml",
                f"{head}kind: Component\nmetadata: {{name: comp-{c:03d}, tags: [t{c % 4}]}}\n"
                f"spec: {{type: service, lifecycle: production, owner: group:team-{c % groups},"
                f" system: sys-{c % systems},"
                f" dependsOn: ['component:comp-{(c + 1) % components:03d}', 'resource:db']}}\n",
            )
        )
    for s in range(systems):
        files.append(
            (
                f"s-systems/s{s}.yaml",
                f"{head}kind: System\nmetadata: {{name: sys-{s}}}\nspec: {{owner: team-{s}}}\n",
            )
        )
    for g in range(groups):
        files.append(
            (
                f"z-groups/g{g}.yaml",
                f"{head}kind: Group\nmetadata: {{name: team-{g}}}\n"
                f"spec: {{type: team, children: [], members: [alice]}}\n",
            )
        )
    return files


def test_owners_later_in_the_files_resolve_and_dependencies_too(personas):
    report = catalog_import(files=generated(30), actor=personas["staff"], source="cli")
    assert report.errors == []
    assert len(report.created) == 30 + 2 + 3
    assert (
        Service.objects.count() == 30 and Team.objects.filter(slug__startswith="team-").count() == 3
    )
    first = Service.objects.get(slug="comp-000")
    assert first.owner.slug == "team-0" and first.system == "sys-0"
    assert list(first.depends_on.values_list("slug", flat=True)) == ["comp-001"]
    assert first.entity.extra_spec["dependsOn"] == ["resource:db"]
    assert Service.objects.get(slug="comp-029").depends_on.get().slug == "comp-000"
    assert set(Team.objects.get(slug="team-1").members.values_list("username", flat=True)) == {
        "alice"
    }


def test_one_audit_event_per_import_with_counts_and_changes(personas):
    catalog_import(files=generated(20), actor=personas["staff"], source="cli")
    before = AuditEvent.objects.count()
    files = generated(20)
    files[0] = (files[0][0], files[0][1].replace("lifecycle: production", "lifecycle: deprecated"))
    report = catalog_import(files=files, actor=personas["staff"], source="cli")
    assert report.updated == ["Component comp-000"] and len(report.unchanged) == 19 + 2 + 3
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    assert event.action == "catalog.import" and event.actor == personas["staff"]
    assert event.after["counts"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 24,
        "warnings": 0,
        "errors": 0,
    }
    assert event.after["updated"] == [
        {"entity": "Component comp-000", "changes": {"lifecycle": ["production", "deprecated"]}}
    ]


def test_a_reimport_that_changes_nothing_says_unchanged_and_writes_nothing(
    personas, django_assert_max_num_queries
):
    catalog_import(files=generated(20), actor=None, source="cli")
    stamps = list(EntityRecord.objects.order_by("pk").values_list("updated_at", flat=True))
    with django_assert_max_num_queries(20):
        report = catalog_import(files=generated(20), actor=None, source="cli")
    assert report.created == [] and report.updated == [] and len(report.unchanged) == 25
    assert list(EntityRecord.objects.order_by("pk").values_list("updated_at", flat=True)) == stamps


def test_numbers_postgresql_rewrites_still_read_back_as_unchanged(personas):
    # jsonb keeps numbers as numerics: 6.349623548326721e+16 reads back as the int
    # 63496235483267210, 1.0e+300 as a 301-digit int. The same file imported again is unchanged;
    # a real change (1 → true, 2.5 → 2.6) is still an update.
    head = "apiVersion: backstage.io/v1alpha1\n"
    files = [
        ("g.yaml", f"{head}kind: Group\nmetadata: {{name: team-0}}\nspec: {{type: team}}\n"),
        (
            "c.yaml",
            f"{head}kind: Component\nmetadata: {{name: big}}\n"
            "spec: {type: service, lifecycle: production, owner: team-0,"
            " profile: 6.349623548326721e+16, nested: [{x: -2.1248399442880643e+52}, 1.0e+300],"
            " ratio: 2.5, flag: 1}\n",
        ),
    ]
    assert catalog_import(files=files, actor=None, source="cli").errors == []
    stored = EntityRecord.objects.get(name="big").extra_spec
    again = catalog_import(files=files, actor=None, source="cli")
    assert again.created == [] and again.updated == [], stored
    changed = [(files[0]), ("c.yaml", files[1][1].replace("ratio: 2.5", "ratio: 2.6"))]
    assert catalog_import(files=changed, actor=None, source="cli").updated == ["Component big"]
    flagged = [(files[0]), ("c.yaml", files[1][1].replace("flag: 1", "flag: true"))]
    assert catalog_import(files=flagged, actor=None, source="cli").updated == ["Component big"]


def test_statements_do_not_grow_with_the_number_of_entities(
    personas, django_assert_max_num_queries
):
    # Reads are one IN-lookup per kind of row, writes one INSERT per batch: the count is the
    # same for 10 components as for 200 (no per-entity statements).
    with django_assert_max_num_queries(40):
        small = catalog_import(files=generated(10), actor=None, source="cli")
    Service.objects.all().delete()
    with django_assert_max_num_queries(40):
        large = catalog_import(files=generated(200), actor=None, source="cli")
    assert small.errors == [] and large.errors == [] and Service.objects.count() == 200


def _catalog_page(client, **params) -> tuple[int, dict[str, int]]:
    """(the total the catalog page shows, the team filter's counts by team) from its HTML."""
    html = client.get(reverse("catalog:service_list"), params).content.decode()
    total = int(re.search(r'class="result-summary"[^>]*><strong>(\d+)</strong>', html)[1])
    facet = html.split('id="facet-team"', 1)[1].split("</section>", 1)[0]
    counts = re.findall(r'href="[^"]*team=([\w-]+)[^"]*"[^>]*>.*?<span class="count">(\d+)<', facet)
    return total, {team: int(count) for team, count in counts}


def test_filter_counts_are_right_at_once_after_an_import(client, personas):
    client.force_login(personas["alice"])
    assert _catalog_page(client)[0] == 0  # counts now cached
    catalog_import(files=generated(60), actor=None, source="cli")
    total, teams = _catalog_page(client)
    assert total == 60
    assert {team: n for team, n in teams.items() if n} == {"team-0": 20, "team-1": 20, "team-2": 20}
    assert _catalog_page(client, q="comp-05")[0] == 10


def test_command_imports_a_directory_in_any_order(personas, tmp_path, capsys):
    for name, text in generated(12):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    call_command("import_backstage", str(tmp_path), verbosity=0)
    out = capsys.readouterr().out
    assert out.startswith("17 created, 0 updated, 0 unchanged, 0 warnings, 0 errors (17 files")
    assert Service.objects.count() == 12
    assert AuditEvent.objects.get(action="catalog.import").source == "cli"


def test_table_dependencies_from_deployed_specs_survive_a_reimport(personas):
    from catalog import services as catalog_services

    catalog_import(files=generated(3), actor=None, source="cli")
    table = catalog_services.service_create(
        user=personas["staff"], owner=personas["payments"], slug="orders-table", kind="dynamodb"
    )
    service = Service.objects.get(slug="comp-000")
    service.depends_on.add(table)  # as service_table_uses_sync does after a deploy
    report = catalog_import(files=generated(3), actor=None, source="cli")
    assert report.updated == [] and "Component comp-000" in report.unchanged
    assert set(service.depends_on.values_list("slug", flat=True)) == {"comp-001", "orders-table"}
    # A file may name it too, as the export does (`resource:`), with the same result.
    files = generated(3)
    files[0] = (files[0][0], files[0][1].replace("'resource:db'", "'resource:orders-table'"))
    report = catalog_import(files=files, actor=None, source="cli")
    assert set(service.depends_on.values_list("slug", flat=True)) == {"comp-001", "orders-table"}
