"""Planning Components and APIs (→ catalog services) and their dependsOn, in memory.

Part of the import plan (import_plan.py): every service of the import is decided first, then
dependsOn is resolved against those and the existing catalog in one pass, so a dependency on
a service later in the files, or already in Slipway, resolves alike.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from catalog.models import Service
from interop import backstage
from interop.backstage import RESOURCE_KINDS, SPEC_DEPENDENCY_KINDS, Document
from interop.import_plan import _chunks, _fetch, instances_of

if TYPE_CHECKING:
    from interop.import_plan import Plan

SERVICE_KINDS = ("Component", "API")
_URL = URLValidator()


def plan_services(plan: Plan, docs: list[Document]) -> None:
    plan._load_records(docs)
    plan._load_teams(plan._owner_slug(d.spec.get("owner")) or "" for d in docs)
    records_by_name = defaultdict(list)
    for (kind, _namespace, name), record in plan._records.items():
        if kind in SERVICE_KINDS and record.service_id:
            records_by_name[name].append(record)
    names = {d.name for d in docs} | {ref.name for d in docs for ref in _depends_refs(d)}
    existing = {s.slug: s for s in _fetch(Service.objects.all(), "slug", names)}
    imported_ids = [existing[d.name].pk for d in docs if d.name in existing]
    deployed = instances_of(imported_ids)
    current = _current_dependencies(imported_ids)

    planned: dict[str, Service] = {}
    pending = []
    for doc in docs:
        try:
            service, created, changes = _service(plan, doc, existing, deployed, records_by_name)
        except ValidationError as exc:
            plan._error(doc, exc)
            continue
        planned[doc.name] = service
        pending.append((doc, service, created, changes))

    for doc, service, created, changes in pending:
        wanted: dict[str, Service] = {}
        unresolved: list[str] = []
        for value in doc.spec.get("dependsOn") or []:
            ref = backstage.parse_ref(value, default_kind="component")
            target = None
            if ref and ref.kind in ("component", "api", "resource") and ref.name != doc.name:
                target = planned.get(ref.name) or existing.get(ref.name)
                if ref.kind == "resource" and target and target.kind not in RESOURCE_KINDS:
                    target = None  # a Backstage Resource Slipway does not run (a database...)
            if target is None:
                unresolved.append(value)  # kept for export (resources, unknown components)
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


def _depends_refs(doc: Document):
    for value in doc.spec.get("dependsOn") or []:
        ref = backstage.parse_ref(value, default_kind="component")
        if ref and ref.kind in ("component", "api", "resource"):
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


def _service(plan: Plan, doc: Document, existing, deployed, records_by_name):
    """(service with the desired values set, created?, changes) for one Component or API.

    dependsOn may also name a `resource:` that Slipway runs as a service (a DynamoDB table,
    exported as a Resource)."""
    spec, meta = doc.spec, doc.metadata
    owner = plan._owner(doc, spec.get("owner"))
    for record in records_by_name.get(doc.name, []):
        if record.kind != doc.kind:
            raise ValidationError(
                f"metadata.name: a {record.kind} named {doc.name!r} already has this slug."
            )
    annotations = meta.get("annotations") or {}
    if doc.kind == "API":
        kind, deployable = "apigateway", True
    else:
        kind, deployable = backstage.kind_for(spec.get("type") or "", annotations)
    if not deployable:
        plan.report.warnings.append(
            f"{doc.source}: spec.type {spec.get('type')!r} is not deployable; "
            "catalogued as an ECS service (its type is kept for export)."
        )
    lifecycle, _exact = backstage.lifecycle_for(spec.get("lifecycle"))
    system_ref = backstage.parse_ref(spec.get("system"), default_kind="system")
    desired = {
        "name": (meta.get("title") or doc.name)[:100],
        "kind": kind,
        "lifecycle": lifecycle,
        "system": system_ref.name if system_ref else "",
        "description": meta.get("description") or "",
        "tags": list(dict.fromkeys(tag.lower() for tag in meta.get("tags") or [])),
        "repo_url": _source_url(annotations),
        "docs_url": _docs_url(meta.get("links") or []),
    }
    service = existing.get(doc.name)
    created = service is None
    changes: dict = {}
    if created:
        service = Service(slug=doc.name, owner=owner, **desired)
    else:
        if service.kind != kind and service.pk in deployed:
            plan.report.warnings.append(
                f"{doc.source}: {doc.name} is deployed as {service.kind}; its kind is kept."
            )
            desired["kind"] = service.kind
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


def _extra_spec(doc: Document, unresolved: list[str]) -> dict:
    """Spec fields with no catalog column, kept on the entity record for export."""
    spec = doc.spec
    keys = ("providesApis", "consumesApis", "subcomponentOf", "definition")
    extra = {k: spec[k] for k in keys if spec.get(k)}
    if isinstance(extra.get("definition"), str):
        extra["definition"] = extra["definition"][: backstage.MAX_DEFINITION_CHARS]
    if not backstage.lifecycle_for(spec.get("lifecycle"))[1]:
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
