"""A covering index for the filter counts of a search: (service_id) INCLUDE (environment_id,
status), so counting the instances of the services a search matches (catalog.facets,
`_counted_together`) reads the index alone, without a heap fetch per instance (at 50,000
services a search for "ledger" reaches ~16,000 instances). PostgreSQL only; the other
databases count with the plain `service_id` index. Like 0003, the model does not declare it
(INCLUDE is not portable); this migration is its one home.
"""

from django.db import migrations

NAME = "catalog_instance_service_env_status"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON catalog_serviceinstance (service_id) "
            "INCLUDE (environment_id, status)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_alter_service_kind")]

    operations = [migrations.RunPython(create, drop)]
