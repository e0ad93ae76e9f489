"""Inserting many plain rows at once, for bulk services that need no primary keys back.

`bulk_create` builds a model instance per row and quotes every value in Python (for a text
column inside PostgreSQL's UNNEST arrays, a regular-expression substitution per value): for
the 21,200 entity records and 40,000 dependency rows of a 20,000-component import that was
about a third of the write step. On PostgreSQL, COPY streams the rows as they are; elsewhere
(SQLite in development) this falls back to `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models

BATCH = 1000


def rows_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert `rows` (tuples of values for `fields`, foreign keys by their id) into `model`'s
    table in the caller's transaction; returns how many. Defaults are not applied: name every
    column that has no database default."""
    rows = list(rows)
    if not rows:
        return 0
    columns = [model._meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        attnames = [field.attname for field in columns]
        model._default_manager.bulk_create(
            [model(**dict(zip(attnames, row, strict=True))) for row in rows], batch_size=BATCH
        )
        return len(rows)
    # JSON values need Django's adapter (psycopg would send a list as an array); text,
    # numbers and datetimes adapt as they are.
    json_at = [i for i, field in enumerate(columns) if isinstance(field, models.JSONField)]
    quoted = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
    ):
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = columns[i].get_db_prep_save(row[i], connection)
            copy.write_row(row)
    return len(rows)


def instances_insert(model: type[models.Model], instances: Sequence[models.Model]) -> int:
    """Insert unsaved `instances` like `bulk_create` would (auto_now values, foreign keys to
    rows saved since they were assigned), without setting their primary keys."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not getattr(field, "generated", False)
    ]
    rows = []
    for instance in instances:
        instance._prepare_related_fields_for_save(operation_name="instances_insert")
        rows.append(tuple(field.pre_save(instance, True) for field in fields))
    return rows_insert(model, [field.name for field in fields], rows)
