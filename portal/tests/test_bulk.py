"""Bulk inserts without model instances: what lands is what bulk_create would have written."""

import pytest
from django.db import connection

from catalog import services
from catalog.models import Service
from interop.models import EntityRecord
from portal.bulk import instances_insert, rows_insert


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_records_land_with_json_foreign_keys_and_auto_now(personas, monkeypatch, vendor):
    monkeypatch.setattr(connection, "vendor", vendor)  # "sqlite": the bulk_create fallback
    team = personas["payments"]
    records = [
        EntityRecord(
            kind="Component",
            name=f"c{i}",
            team=team,
            title='It\'s "quoted"\ttabbed\\',
            links=[{"url": "https://docs.example.com", "title": "Docs"}],
            annotations={"a": "b"},
        )
        for i in range(3)
    ]
    assert instances_insert(EntityRecord, records) == 3
    stored = EntityRecord.objects.order_by("name")
    assert [r.name for r in stored] == ["c0", "c1", "c2"]
    first = stored[0]
    assert first.team == team and first.title == 'It\'s "quoted"\ttabbed\\'
    assert first.links == [{"url": "https://docs.example.com", "title": "Docs"}]
    assert first.annotations == {"a": "b"} and first.labels == {} and first.extra_spec == {}
    assert first.updated_at is not None and first.namespace == "default"


def test_dependency_rows_insert_and_nothing_for_no_rows(personas):
    a, b = (
        services.service_create(
            user=personas["alice"], owner=personas["payments"], slug=s, kind="lambda"
        )
        for s in ("a-svc", "b-svc")
    )
    through = Service.depends_on.through
    assert rows_insert(through, ["from_service", "to_service"], []) == 0
    assert rows_insert(through, ["from_service", "to_service"], [(a.pk, b.pk)]) == 1
    assert list(a.depends_on.all()) == [b]
