"""The facet triggers of 0010 and 0011 again, for databases that applied earlier versions:
their statements over the transition tables now run by EXECUTE, planned for each statement's
actual row counts. A function's static statements keep the plan made on their first run; after
a single-row update that is a nested loop, and the next UPDATE of 45,000 services then joined
its old and new rows in ~45,000^2 comparisons (bench/catalog.py's fill: over 7 minutes).
(0010 and 0011 themselves now create these.)
"""

import importlib

from django.db import migrations

counts = importlib.import_module("catalog.migrations.0010_facet_counts")
log = importlib.import_module("catalog.migrations.0011_facet_log")


def replace(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(counts.FUNCTIONS)
            cursor.execute(log.FUNCTIONS)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0012_facet_counts_without_exists")]

    operations = [migrations.RunPython(replace, migrations.RunPython.noop)]
