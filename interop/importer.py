"""Backstage catalog import: Groups → Teams, Users → memberships, Components, APIs and
Resources → Services, Systems and Domains kept, Locations followed within the import.

One import, whatever its size or file order, runs in three phases:

1. Read: parse every file with limits and check every document (backstage.py, entities.py).
   A malformed entity becomes an error line naming its file, document and field, and is
   left out; so is every copy of a name that appears twice in the import.
2. Plan (import_plan.py): read what already exists in a handful of queries, then decide in
   memory, Groups and Systems first, then Components and APIs, with references (owners,
   dependsOn) resolved against the import itself and the catalog. An entity whose owner
   cannot be found is an error too; nothing has been written yet.
3. Write: everything planned, in one transaction, through the catalog's bulk services, with
   one audit event for the import listing what changed. After commit: ANALYZE and fresh
   facet counts (catalog_bulk_done).

A re-import matches rows by slug, so it never duplicates; an entity whose data did not change
is reported as unchanged and writes nothing.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.db import transaction

from audit.services import audit_record
from catalog import services as catalog_services
from interop import backstage, entities
from interop.backstage import Document, label, quote
from interop.import_plan import Plan
from interop.models import EntityRecord
from portal import bulk

BATCH = 1000
Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # "<user> joins team <slug>": every membership the import adds (Groups' members, Users'
    # memberOf, personal teams), so nobody joins a team unseen.
    memberships: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "warnings": len(self.warnings),
            "errors": len(self.errors),
        }

    def summary(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.counts().items())

    def as_dict(self) -> dict[str, list[str]]:
        """The report as JSON-able lists (an import job keeps it for its page)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ImportReport:
        return cls(**{name: list(data.get(name) or []) for name in cls.__dataclass_fields__})


def catalog_import(
    *,
    files: list[tuple[str, bytes | str]],
    actor,
    source: str,
    max_total_bytes: int | None = None,
    max_documents: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import Backstage entities from (file name, content) pairs (see the module doc).

    `progress(stage, done, total)` is called between the steps (outside the write
    transaction): stage is one of reading, planning, writing, analyzing, done; total is the
    number of entities read, done how many of them are planned.
    """
    # An import builds a few hundred thousand small objects that all live until it ends;
    # the cyclic garbage collector would rescan them again and again (a third of the time
    # at 20,000 entities) for nothing to free.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import(files, actor, source, max_total_bytes, max_documents, progress)
    finally:
        if collecting:
            gc.enable()


def _import(files, actor, source, max_total_bytes, max_documents, progress) -> ImportReport:
    step: Progress = progress or (lambda _stage, _done, _total: None)
    step("reading", 0, 0)
    loaded = backstage.load(files, max_total_bytes=max_total_bytes, max_documents=max_documents)
    report = ImportReport(errors=list(loaded.errors))
    by_kind = _checked(loaded.documents, report)

    total = sum(len(docs) for docs in by_kind.values())
    step("planning", 0, total)
    plan = Plan(report=report)
    plan.run(
        {kind: _unique(docs, report) for kind, docs in by_kind.items()},
        files=files,
        progress=lambda done: step("planning", done, total),
    )

    step("writing", total, total)
    with transaction.atomic():
        _write(plan)
        audit_record(
            actor=actor,
            action="catalog.import",
            target=("interop.import", "", f"{len(files)} file(s)"),
            after={
                "files": len(files),
                "counts": report.counts(),
                "created": report.created,
                "updated": plan.changes,
                "memberships": report.memberships,
                "errors": report.errors[:100],
            },
            result="ok" if not report.errors else "failed",
            source=source,
        )
    step("analyzing", total, total)
    if report.changed:
        catalog_services.catalog_bulk_done(also=[EntityRecord])
    step("done", total, total)
    return report


def _checked(documents: list[Document], report: ImportReport) -> dict[str, list[Document]]:
    """Documents of the supported kinds whose fields are well-formed, by kind."""
    by_kind: dict[str, list[Document]] = {kind: [] for kind in backstage.SUPPORTED_KINDS}
    for doc in documents:
        problems = entities.shape_problems(doc)
        if problems:
            report.errors += [f"{doc.source}: {problem}" for problem in problems]
            continue
        if doc.kind not in by_kind:
            report.warnings.append(
                f"{doc.source}: kind {quote(doc.kind)} is not imported; skipped."
            )
            continue
        problems = entities.entity_problems(doc)
        if problems:
            report.errors += [f"{_who(doc)}: {problem}" for problem in problems]
            continue
        by_kind[doc.kind].append(doc)
    return by_kind


def _who(doc: Document) -> str:
    return f"{doc.source} ({doc.kind} {label(doc.name)})"


def _unique(docs: list[Document], report: ImportReport) -> list[Document]:
    """Documents whose name appears once; every copy of a repeated name is an error.

    Which copy was meant cannot be guessed, so none is imported ("last one wins" would
    silently drop the others). `docs` are of one kind; namespaces are kept apart.
    """
    by_name: dict[tuple[str, str], list[Document]] = defaultdict(list)
    for doc in docs:
        by_name[(doc.namespace, doc.name)].append(doc)
    kept = []
    for (_namespace, name), same in by_name.items():
        if len(same) == 1:
            kept.append(same[0])
            continue
        where = ", ".join(doc.source for doc in same[:5])
        for doc in same:
            report.errors.append(
                f"{_who(doc)}: metadata.name: {name!r} appears {len(same)} times in this "
                f"import ({where}); none of them was imported."
            )
    return kept


def _write(plan: Plan) -> None:
    """Everything the plan decided, in batches, in the caller's transaction."""
    catalog_services.teams_bulk_save(
        new=plan.new_teams, changed=plan.changed_teams, fields=["name", "description"]
    )
    catalog_services.memberships_bulk_add(pairs=plan.new_memberships)
    catalog_services.services_bulk_save(
        new=plan.new_services, changed=plan.changed_services, fields=list(Plan.SERVICE_FIELDS)
    )
    catalog_services.service_dependencies_bulk_set(wanted=plan.dependencies)
    # Teams and services created above now have pks; bulk_create/bulk_update copy them onto
    # the records' foreign keys.
    bulk.instances_insert(EntityRecord, plan.new_records)
    if plan.changed_records:
        EntityRecord.objects.bulk_update(
            plan.changed_records, ["team", "service", *Plan.RECORD_FIELDS], batch_size=BATCH
        )
