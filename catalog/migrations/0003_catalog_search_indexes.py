"""Indexes for the catalog page at 50,000 services.

- PostgreSQL: pg_trgm GIN indexes on exactly the expressions Django's `icontains` compiles to
  (`UPPER(col::text) LIKE UPPER('%word%')`), so a search reads only candidate rows; a
  (created_at, id) index for the newest/oldest keyset sorts; an (environment, status) index
  for the environment/status filter and facet.
- SQLite (the default development database): the same btree indexes; search stays a scan,
  which is fine at development sizes. The models do not declare these indexes because the
  trigram ones cannot be expressed portably; this migration is their one home.
"""

from django.db import migrations

TRIGRAM_COLUMNS = ["slug", "name", "description", "tags"]
BTREE = [
    ("catalog_service_created_id", "catalog_service", "created_at, id"),
    ("catalog_instance_env_status", "catalog_serviceinstance", "environment_id, status"),
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    execute = schema_editor.execute
    for name, table, columns in BTREE:
        execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
    if vendor == "postgresql":
        execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in TRIGRAM_COLUMNS:
            execute(
                f"CREATE INDEX IF NOT EXISTS catalog_service_{column}_trgm ON catalog_service "
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )


def drop(apps, schema_editor):
    execute = schema_editor.execute
    for name, _table, _columns in BTREE:
        execute(f"DROP INDEX IF EXISTS {name}")
    if schema_editor.connection.vendor == "postgresql":
        for column in TRIGRAM_COLUMNS:
            execute(f"DROP INDEX IF EXISTS catalog_service_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_environment_alb_and_guardrails")]

    operations = [migrations.RunPython(create, drop)]
