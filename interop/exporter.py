"""Backstage catalog export: the catalog (plus what imports kept) as catalog-info YAML.

Every Team becomes a Group, every Service a Component (an API where it was imported as one),
every system named on a service a System. What a previous import kept in EntityRecord (title,
annotations, links, spec.type, providesApis, ...) comes back unchanged, so export → re-import
changes nothing.
"""

from __future__ import annotations

from collections import Counter

from catalog.models import Service, Team
from interop import backstage
from interop.models import EntityRecord

API_VERSION = "backstage.io/v1alpha1"


def catalog_export() -> str:
    """The whole catalog as one multi-document YAML text."""
    return backstage.dump(catalog_entities())


def catalog_entities() -> list[dict]:
    records = {(r.kind, r.name): r for r in EntityRecord.objects.select_related("team")}
    teams = list(Team.objects.prefetch_related("memberships__user"))
    services = list(
        Service.objects.select_related("owner").prefetch_related("depends_on").order_by("slug")
    )
    api_slugs = {name for kind, name in records if kind == "API"}
    entities = [_group(team, records.get(("Group", team.slug))) for team in teams]
    entities += _systems(services, records)
    for service in services:
        kind = _entity_kind(service, api_slugs)
        entities.append(_service(service, kind, records.get((kind, service.slug)), api_slugs))
    return entities


def _metadata(name: str, record: EntityRecord | None, *, title: str = "", description: str = ""):
    meta: dict = {"name": name}
    if record and record.namespace != "default":
        meta["namespace"] = record.namespace
    if title:
        meta["title"] = title
    if description:
        meta["description"] = description
    if record:
        for key in ("labels", "annotations", "links"):
            if getattr(record, key):
                meta[key] = getattr(record, key)
    return meta


def _group(team: Team, record: EntityRecord | None) -> dict:
    extra = record.extra_spec if record else {}
    profile = dict(extra.get("profile") or {})
    profile["displayName"] = team.name
    spec: dict = {"type": (record.spec_type if record else "") or "team", "profile": profile}
    if extra.get("parent"):
        spec["parent"] = extra["parent"]
    spec["children"] = list(extra.get("children") or [])
    spec["members"] = sorted(m.user.get_username() for m in team.memberships.all())
    title = record.title if record else ""
    return {
        "apiVersion": API_VERSION,
        "kind": "Group",
        "metadata": _metadata(team.slug, record, title=title, description=team.description),
        "spec": spec,
    }


def _systems(services: list[Service], records: dict) -> list[dict]:
    owners: dict[str, Counter] = {}
    for service in services:
        if service.system:
            owners.setdefault(service.system, Counter())[service.owner.slug] += 1
    names = sorted(set(owners) | {name for kind, name in records if kind == "System"})
    entities = []
    for name in names:
        record = records.get(("System", name))
        # The System's own owner when one was imported, else the team with most services in it.
        owner = record.team.slug if record and record.team else owners[name].most_common(1)[0][0]
        spec = {"owner": f"group:{owner}"}
        if record and record.extra_spec.get("domain"):
            spec["domain"] = record.extra_spec["domain"]
        entities.append(
            {
                "apiVersion": API_VERSION,
                "kind": "System",
                "metadata": _metadata(
                    name,
                    record,
                    title=record.title if record else "",
                    description=record.description if record else "",
                ),
                "spec": spec,
            }
        )
    return entities


def _entity_kind(service: Service, api_slugs) -> str:
    """API where it was imported as one; Resource for data stores (tables); else Component."""
    if service.slug in api_slugs:
        return "API"
    if service.kind in backstage.RESOURCE_KINDS:
        return "Resource"
    return "Component"


def _service(service: Service, kind: str, record: EntityRecord | None, api_slugs) -> dict:
    extra = record.extra_spec if record else {}
    title = service.name if service.name != service.slug else ""
    meta = _metadata(service.slug, record, title=title, description=service.description)
    if service.tags:
        meta["tags"] = list(service.tags)
    annotations = dict(meta.get("annotations") or {})
    if kind in ("Component", "Resource"):
        annotations[backstage.KIND_ANNOTATION] = service.kind
    if service.repo_url and "backstage.io/source-location" not in annotations:
        annotations["backstage.io/source-location"] = f"url:{service.repo_url}"
    if annotations:
        meta["annotations"] = annotations
    if service.docs_url and not any(
        isinstance(link, dict) and link.get("url") == service.docs_url
        for link in meta.get("links", [])
    ):
        meta["links"] = [*meta.get("links", []), {"url": service.docs_url, "title": "Docs"}]
    lifecycle = service.lifecycle
    if extra.get("lifecycle") and backstage.lifecycle_for(extra["lifecycle"])[0] == lifecycle:
        lifecycle = extra["lifecycle"]  # e.g. "beta", imported as experimental
    spec: dict = {
        "type": (record.spec_type if record else "")
        or ("openapi" if kind == "API" else backstage.KIND_TO_TYPE[service.kind]),
        "lifecycle": lifecycle,
        "owner": f"group:{service.owner.slug}",
    }
    if service.system:
        spec["system"] = service.system
    depends = [
        f"{_entity_kind(other, api_slugs).lower()}:{other.slug}"
        for other in sorted(service.depends_on.all(), key=lambda s: s.slug)
    ]
    depends += list(extra.get("dependsOn") or [])
    if depends:
        spec["dependsOn"] = depends
    for key in ("providesApis", "consumesApis", "subcomponentOf"):
        if extra.get(key):
            spec[key] = extra[key]
    if kind == "API":
        spec["definition"] = extra.get("definition") or f"# {service.name}: no definition stored"
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}
