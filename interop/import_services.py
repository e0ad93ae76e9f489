"""Planning Components, APIs and Resources (→ catalog services) and their dependsOn.

Part of the import plan (import_plan.py): every service of the import is decided first, then
dependsOn is resolved against those and the existing catalog in one pass, so a dependency on
a service later in the files, or already in Slipway, resolves alike. Each entity is found
again by (kind, namespace, name) through its record; a new one takes its name as slug
(`<namespace>-<name>` outside the default namespace). A Resource becomes a catalog-only
service of kind "resource" (owner, system and dependencies like any service; adoptable
later), or the kind Slipway runs when its `slipway.dev/kind` annotation says so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from catalog.models import Service
from interop import backstage, refs
from interop.backstage import RESOURCE_KINDS, SPEC_DEPENDENCY_KINDS, Document
from interop.import_plan import _chunks, _fetch, instances_of
from interop.models import EntityRecord

if TYPE_CHECKING:
    from interop.import_plan import Plan

SERVICE_KINDS = ("Component", "API", "Resource")
REF_KINDS = {"component": "Component", "api": "API", "resource": "Resource"}
# spec fields with a catalog column (or re-derived on export); every other one is kept on the
# entity record as written, so nothing a Backstage file says is lost.
_SERVICE_SPEC = ("type", "lifecycle", "owner", "system", "dependsOn")
_URL = URLValidator()
Key = tuple[str, str, str]  # (kind, namespace, name)


def _key(doc: Document) -> Key:
    return (doc.kind, doc.namespace, doc.name)


def _candidates(doc: Document) -> list[str]:
    """Catalog slugs an entity may take, first choice first: its name (namespaced), then,
    for an API or a Resource that shares its name with a Component (Backstage keeps kinds
    apart, the catalog has one list), `<name>-api` / `<name>-resource`."""
    base = refs.catalog_slug(doc.namespace, doc.name)
    if doc.kind == "Component":
        return [base]
    return [base, f"{base}-{doc.kind.lower()}"[:40].rstrip("-")]


class _Existing:
    """The services an import may touch, found by slug and through their entity records."""

    def __init__(self, plan: Plan, docs: list[Document]):
        dep_refs = [ref for d in docs for ref in _depends_refs(d)]
        plan._load_records(docs)
        known = {name for _kind, _namespace, name in plan._records}
        missing = {r.name for r in dep_refs} - known  # most name a service of the import
        for record in _fetch(EntityRecord.objects.all(), "name", missing):
            plan._records.setdefault((record.kind, record.namespace, record.name), record)
        self.records = plan._records
        slugs = {slug for d in docs for slug in _candidates(d)}
        slugs |= {refs.catalog_slug(r.namespace, r.name) for r in dep_refs}
        self.by_slug = {s.slug: s for s in _fetch(Service.objects.all(), "slug", slugs)}
        self.by_pk = {s.pk: s for s in self.by_slug.values()}
        wanted = {r.service_id for r in self.records.values() if r.service_id} - set(self.by_pk)
        for service in _fetch(Service.objects.all(), "pk", wanted):
            self.by_pk[service.pk] = service
        # Which entity each of these services already stands for.
        self.entity_of: dict[int, Key] = {
            r.service_id: k for k, r in self.records.items() if r.service_id
        }
        unknown = set(self.by_pk) - set(self.entity_of)
        for record in _fetch(EntityRecord.objects.all(), "service_id", unknown):
            self.entity_of[record.service_id] = (record.kind, record.namespace, record.name)

    def of(self, key: Key) -> Service | None:
        """The service an earlier import made for entity `key`."""
        record = self.records.get(key)
        return self.by_pk.get(record.service_id) if record and record.service_id else None

    def free(self, slug: str, key: Key) -> bool:
        """May entity `key` take the existing service with `slug` (if any)?"""
        service = self.by_slug.get(slug)
        return service is None or self.entity_of.get(service.pk, key) == key


def plan_services(plan: Plan, docs: list[Document]) -> None:
    plan._load_teams(plan._owner_slug(d) for d in docs)
    existing = _Existing(plan, docs)
    imported_ids = [s.pk for s in existing.by_pk.values()]
    deployed = instances_of(imported_ids)
    current = _current_dependencies(imported_ids)

    planned: dict[Key, Service] = {}
    taken: set[str] = set()
    pending = []
    for doc in docs:
        try:
            slug, service = _allocate(doc, existing, taken)
            service, created, changes = _service(plan, doc, slug, service, deployed)
        except ValidationError as exc:
            plan._error(doc, exc)
            continue
        taken.add(service.slug)
        planned[_key(doc)] = service
        pending.append((doc, service, created, changes))

    for doc, service, created, changes in pending:
        wanted: dict[str, Service] = {}
        unresolved: list[str] = []
        for value in doc.spec.get("dependsOn") or []:
            target = _target(value, doc, planned, existing)
            if target is None or target is service:
                unresolved.append(value)  # kept for export (unknown components...)
            else:
                wanted.setdefault(target.slug, target)
        held = {} if created else current.get(service.pk, {})
        before = set(held)
        # Tables a deployed spec uses are dependencies the deployments keep in step
        # (catalog.services.service_table_uses_sync); a file that does not name them keeps them.
        for slug, (pk, kind) in held.items():
            if kind in SPEC_DEPENDENCY_KINDS and slug not in wanted:
                wanted[slug] = Service(pk=pk, slug=slug, kind=kind)
        if set(wanted) != before:
            plan.dependencies.append((service, list(wanted.values())))
            if not created:
                changes["depends_on"] = [sorted(before), sorted(wanted)]
        _, record_changed = plan._record(
            doc, service=service, extra_spec=_extra_spec(doc, unresolved)
        )
        if record_changed and not created:
            changes.setdefault("record", True)
        plan._outcome(doc, created=created, changes=changes)


def _allocate(doc: Document, existing: _Existing, taken: set[str]) -> tuple[str, Service | None]:
    """(slug, existing service or None) for one entity (see _candidates)."""
    key = _key(doc)
    service = existing.of(key)
    if service is not None:
        return service.slug, service
    for slug in _candidates(doc):
        if slug not in taken and existing.free(slug, key):
            return slug, existing.by_slug.get(slug)
    other = existing.by_slug.get(_candidates(doc)[0])
    holder = existing.entity_of.get(other.pk) if other else None
    what = f"the {holder[0]} {holder[1]}/{holder[2]}" if holder else "another entity"
    raise ValidationError(
        f"metadata.name: the catalog name {_candidates(doc)[0]!r} is taken by {what}."
    )


def _target(value, doc: Document, planned: dict, existing: _Existing) -> Service | None:
    """The service a dependsOn reference names: in this import, else by its record, else (a
    service Slipway made itself) by its slug."""
    ref = refs.parse_ref(value, default_kind="component", namespace=doc.namespace)
    if ref is None or ref.kind not in REF_KINDS:
        return None
    key = (REF_KINDS[ref.kind], ref.namespace, ref.name)
    target = planned.get(key) or existing.of(key)
    if target is None:
        slug = refs.catalog_slug(ref.namespace, ref.name)
        if not existing.free(slug, key):
            return None
        target = existing.by_slug.get(slug)
    if target is not None and ref.kind == "resource" and target.kind not in RESOURCE_KINDS:
        return None  # `resource:x` names a table or a catalog resource, never a Component
    return target


def _depends_refs(doc: Document):
    for value in doc.spec.get("dependsOn") or []:
        ref = refs.parse_ref(value, default_kind="component", namespace=doc.namespace)
        if ref and ref.kind in REF_KINDS:
            yield ref


def _current_dependencies(service_ids: list[int]) -> dict[int, dict[str, tuple[int, str]]]:
    """service id → {slug: (pk, kind)} of what it depends on now."""
    through = Service.depends_on.through
    current: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    for chunk in _chunks(service_ids):
        for from_id, pk, slug, kind in through.objects.filter(
            from_service_id__in=chunk
        ).values_list("from_service_id", "to_service_id", "to_service__slug", "to_service__kind"):
            current[from_id][slug] = (pk, kind)
    return current


def _service(plan: Plan, doc: Document, slug: str, service: Service | None, deployed):
    """(service with the desired values set, created?, changes) for one entity."""
    spec, meta = doc.spec, doc.metadata
    owner = plan._owner(doc, spec.get("owner"))
    annotations = meta.get("annotations") or {}
    if doc.kind == "API":
        kind, deployable = "apigateway", True
    elif doc.kind == "Resource":
        explicit = str(annotations.get(backstage.KIND_ANNOTATION, "")).lower()
        kind, deployable = (explicit if explicit in RESOURCE_KINDS else "resource"), True
    else:
        kind, deployable = backstage.kind_for(spec.get("type") or "", annotations)
    if not deployable:
        plan.report.warnings.append(
            f"{doc.source}: spec.type {spec.get('type')!r} is not deployable; "
            "catalogued as an ECS service (its type is kept for export)."
        )
    lifecycle, _exact = backstage.lifecycle_for(spec.get("lifecycle"))
    system_ref = refs.parse_ref(spec.get("system"), default_kind="system", namespace=doc.namespace)
    desired = {
        "name": (meta.get("title") or doc.name)[:100],
        "kind": kind,
        "lifecycle": lifecycle,
        "system": system_name(system_ref.namespace, system_ref.name) if system_ref else "",
        "description": meta.get("description") or "",
        "tags": list(dict.fromkeys(tag.lower() for tag in meta.get("tags") or [])),
        "repo_url": _source_url(annotations),
        "docs_url": _docs_url(meta.get("links") or []),
    }
    created = service is None
    changes: dict = {}
    if service is None:
        service = Service(slug=slug, owner=owner, **desired)
    else:
        if service.kind != kind and (service.pk in deployed or kind == "resource"):
            if service.pk in deployed:
                plan.report.warnings.append(
                    f"{doc.source}: {doc.name} is deployed as {service.kind}; its kind is kept."
                )
            desired["kind"] = service.kind  # nor does a Resource undo an adoption
        changes = {
            k: [getattr(service, k), v] for k, v in desired.items() if getattr(service, k) != v
        }
        if owner.pk is None or service.owner_id != owner.pk:
            changes["owner"] = [plan.team_slug(service.owner_id), owner.slug]
            service.owner = owner
        for key, value in desired.items():
            setattr(service, key, value)
    if created or changes:
        # entities.py has checked the slug, lengths and types, and kind/lifecycle come from
        # fixed maps; what is left of Service.full_clean() is the URLs (the rest of it was a
        # third of the planning time at 20,000 services).
        for field_name in ("repo_url", "docs_url"):
            if getattr(service, field_name):
                try:
                    _URL(getattr(service, field_name))
                except ValidationError as exc:
                    raise ValidationError({field_name: exc.messages}) from exc
        (plan.new_services if created else plan.changed_services).append(service)
    return service, created, changes


def system_name(namespace: str, name: str) -> str:
    """Service.system for a System: its name, `namespace/name` outside the default one."""
    return name if namespace == "default" else f"{namespace}/{name}"


def _extra_spec(doc: Document, unresolved: list[str]) -> dict:
    """Spec fields with no catalog column, kept on the entity record for export."""
    spec = doc.spec
    extra = {k: v for k, v in spec.items() if k not in _SERVICE_SPEC and v not in (None, [], "")}
    if isinstance(extra.get("definition"), str):
        extra["definition"] = extra["definition"][: backstage.MAX_DEFINITION_CHARS]
    if spec.get("lifecycle") is not None and not backstage.lifecycle_for(spec["lifecycle"])[1]:
        extra["lifecycle"] = spec.get("lifecycle")
    if unresolved:
        extra["dependsOn"] = unresolved
    return extra


def _source_url(annotations: dict) -> str:
    """backstage.io/source-location `url:https://…` → the repo URL (other forms ignored)."""
    value = str(annotations.get("backstage.io/source-location") or "")
    if value.startswith("url:"):
        value = value[4:]
    return value if value.startswith(("https://", "http://")) and len(value) <= 200 else ""


def _docs_url(links: list) -> str:
    for link in links:
        hint = f"{link.get('type') or ''} {link.get('title') or ''} {link.get('icon') or ''}"
        url = link.get("url") or ""
        if "doc" in hint.lower() and url.startswith(("https://", "http://")) and len(url) <= 200:
            return url
    return ""
