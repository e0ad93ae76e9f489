"""The count triggers of 0010 again, for databases that applied its first version: whether an
update moved anything is a count(*) over the join of its transition tables, not EXISTS, whose
fast-start nested loop made an UPDATE of 45,000 services that moves none (created_at) take
over 15 minutes instead of well under a second. (0010 itself now creates these.)
"""

import importlib

from django.db import migrations

counts = importlib.import_module("catalog.migrations.0010_facet_counts")


def replace(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(counts.FUNCTIONS)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0011_facet_log")]

    operations = [migrations.RunPython(replace, migrations.RunPython.noop)]
