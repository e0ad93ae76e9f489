"""The catalog search document (catalog/fields.py) and, on PostgreSQL, its indexes.

- GIN on the `tsvector` (full-text search with prefix matching, ranked by ts_rank);
- a pg_trgm GIN index on the name for close matches when a word has a typo (`%>`);
- (owner, kind, lifecycle): the filter counts group by these, read from the index alone.
SQLite gets the btree index only; its search is LIKE on the lowercased document.
"""

from django.db import migrations, models

import catalog.fields


def create(apps, schema_editor):
    execute = schema_editor.execute
    execute(
        "CREATE INDEX IF NOT EXISTS catalog_service_owner_kind_life "
        "ON catalog_service (owner_id, kind, lifecycle)"
    )
    if schema_editor.connection.vendor == "postgresql":
        execute(
            "CREATE INDEX IF NOT EXISTS catalog_service_search_gin "
            "ON catalog_service USING gin (search_document)"
        )
        execute(
            "CREATE INDEX IF NOT EXISTS catalog_service_name_trgm_word "
            "ON catalog_service USING gin (name gin_trgm_ops)"
        )
        execute("ANALYZE catalog_service")


def drop(apps, schema_editor):
    for name in (
        "catalog_service_owner_kind_life",
        "catalog_service_search_gin",
        "catalog_service_name_trgm_word",
    ):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_sns_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="service",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=catalog.fields.SearchDocument(),
                output_field=catalog.fields.SearchDocumentField(),
            ),
        ),
        migrations.RunPython(create, drop),
    ]
