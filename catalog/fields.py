"""The search document of a service: a generated column, full-text on PostgreSQL.

- PostgreSQL: a stored `tsvector` (the 'simple' configuration: no stemming, so a slug, a tag or
  a made-up name is matched as written) with weights A = slug and name, B = tags,
  C = description, for ranking. Migration 0004 indexes it with GIN; `catalog.filters` queries
  it with prefix matching (`to_tsquery('simple', 'ledg:*')`).
- SQLite (the default development database): the same text, lowercased, searched with LIKE.

The database keeps the column up to date on every write, bulk ones included.
"""

from django.db import models


class SearchDocument(models.Func):
    """The expression the column is generated from (one per database vendor)."""

    output_field = models.TextField()

    def __init__(self):
        super().__init__(
            models.F("slug"), models.F("name"), models.F("tags"), models.F("description")
        )

    def as_sql(self, compiler, connection, **extra_context):
        slug, name, tags, description = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"LOWER({slug[0]} || ' ' || {name[0]} || ' ' || {tags[0]} || ' ' || {description[0]})"
        return sql, ()

    def as_postgresql(self, compiler, connection, **extra_context):
        slug, name, tags, description = (
            compiler.compile(e)[0] for e in self.get_source_expressions()
        )

        # Hyphens and underscores become spaces first: the parser reads "comp-050" as "comp"
        # and the signed number "-050", which the prefix "05:*" would never match.
        def words(text: str) -> str:
            return f"to_tsvector('simple'::regconfig, translate({text}, '-_', '  '))"

        names = f"{slug} || ' ' || {name}"
        sql = (
            f"setweight({words(names)}, 'A') || "
            f"setweight({words(f'({tags})::text')}, 'B') || "
            f"setweight({words(description)}, 'C')"
        )
        return sql, ()


class SearchDocumentField(models.TextField):
    """`tsvector` on PostgreSQL, text elsewhere; only ever written by the database."""

    def db_type(self, connection):
        return "tsvector" if connection.vendor == "postgresql" else "text"


class Matches(models.Lookup):
    """`search_document__matches="ledg:* & pay:*"`: a tsquery (PostgreSQL only)."""

    lookup_name = "matches"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @@ to_tsquery('simple'::regconfig, {rhs})", (*lhs_params, *rhs_params)


SearchDocumentField.register_lookup(Matches)


class Rank(models.Func):
    """ts_rank of the document against a tsquery (PostgreSQL only), as a double: a `real`
    read into Python and sent back would not compare equal (the keyset cursor needs it to)."""

    output_field = models.FloatField()
    template = "ts_rank(%(expressions)s)::float8"

    def __init__(self, document, tsquery: str):
        query = models.Func(
            models.Value(tsquery), template="to_tsquery('simple'::regconfig, %(expressions)s)"
        )
        super().__init__(document, query)
