"""Backstage catalog export: the catalog (plus what imports kept) as catalog-info YAML.

Every Team becomes a Group (except the personal team of a Backstage User, whose services are
exported as owned by `user:<name>` again), every User an import recorded a User (with
`memberOf` its teams), every Service a Component, an API or a Resource (as it was imported;
tables, topics, workflows and catalog-only resources as Resources), every System and Domain
a System or Domain. Namespaces are written back and references are relative to them. What a
previous import kept in EntityRecord (title, annotations, links, spec.type, providesApis, any
other spec field...) comes back unchanged, so export → re-import changes nothing. Locations
are not written: the export is one file holding every entity they pointed at.
"""

from __future__ import annotations

from collections import Counter

from catalog.models import Membership, Service, Team
from interop import backstage, refs
from interop.models import EntityRecord
from interop.refs import ref_text

API_VERSION = "backstage.io/v1alpha1"
Ref = tuple[str, str, str]  # (kind in lower case, namespace, name)


def catalog_export() -> str:
    """The whole catalog as one multi-document YAML text."""
    return backstage.dump(catalog_entities())


class _Catalog:
    """Everything the export reads, in a few queries, and the reference of each row."""

    def __init__(self):
        self.records = list(EntityRecord.objects.order_by("kind", "namespace", "name"))
        self.of_service = {r.service_id: r for r in self.records if r.service_id}
        self.of_group = {r.team_id: r for r in self.records if r.kind == "Group" and r.team_id}
        self.users = [r for r in self.records if r.kind == "User"]
        self.personal = {r.team_id: r for r in self.users if r.team_id}
        self.teams = list(Team.objects.prefetch_related("memberships__user"))
        self.services = list(
            Service.objects.select_related("owner").prefetch_related("depends_on").order_by("slug")
        )
        self.team_refs: dict[int, Ref] = {team.pk: self.team_ref(team) for team in self.teams}
        recorded_users = {r.user_id for r in self.users if r.user_id}
        self.groups_of: dict[int, list[int]] = {}
        for user_id, team_id in Membership.objects.filter(user_id__in=recorded_users).values_list(
            "user_id", "team_id"
        ):
            self.groups_of.setdefault(user_id, []).append(team_id)

    def team_ref(self, team: Team) -> Ref:
        record = self.personal.get(team.pk)
        if record is not None:
            return ("user", record.namespace, record.name)
        record = self.of_group.get(team.pk)
        return (
            ("group", record.namespace, record.name) if record else ("group", "default", team.slug)
        )

    def service_ref(self, service: Service) -> Ref:
        record = self.of_service.get(service.pk)
        if record is not None:
            return (record.kind.lower(), record.namespace, record.name)
        kind = "resource" if service.kind in backstage.RESOURCE_KINDS else "component"
        return (kind, "default", service.slug)

    def owner_text(self, team_id: int, own: str) -> str:
        kind, namespace, name = self.team_refs[team_id]
        return ref_text(kind, namespace, name, default_kind="", own=own)


def catalog_entities() -> list[dict]:
    cat = _Catalog()
    entities = [_group(cat, team) for team in cat.teams if team.pk not in cat.personal]
    entities += [_user(cat, record) for record in cat.users]
    entities += _systems(cat)
    entities += [_domain(cat, r) for r in cat.records if r.kind == "Domain"]
    entities += [_service(cat, service) for service in cat.services]
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
        for key in ("labels", "annotations", "links", "tags"):
            if getattr(record, key):
                meta[key] = getattr(record, key)
    return meta


def _entity(kind: str, meta: dict, spec: dict) -> dict:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


def _group(cat: _Catalog, team: Team) -> dict:
    record = cat.of_group.get(team.pk)
    extra = dict(record.extra_spec) if record else {}
    title = record.title if record else ""
    profile = dict(extra.pop("profile", None) or {})
    # displayName only where the import would not derive the team's name without it.
    if team.name != (profile.get("displayName") or title or (record.name if record else team.slug)):
        profile["displayName"] = team.name
    spec: dict = {"type": (record.spec_type if record else "") or "team"}
    if profile:
        spec["profile"] = profile
    if extra.get("parent"):
        spec["parent"] = extra.pop("parent")
    spec["children"] = list(extra.pop("children", None) or [])
    # Members as the import named them, plus members since; a user exported as a User entity
    # carries the membership in its memberOf instead.
    members = list(extra.pop("members", None) or [])
    named = {getattr(refs.parse_ref(m, default_kind="user"), "name", m) for m in members}
    recorded_users = {r.user_id for r in cat.users if r.user_id}
    for membership in team.memberships.all():
        username = membership.user.get_username()
        if membership.user_id not in recorded_users and username not in named:
            members.append(username)
    spec["members"] = members
    spec.update(extra)
    name = record.name if record else team.slug
    return _entity(
        "Group", _metadata(name, record, title=title, description=team.description), spec
    )


def _user(cat: _Catalog, record: EntityRecord) -> dict:
    spec = dict(record.extra_spec)
    member_of = list(spec.pop("memberOf", None) or [])
    named = set()
    for value in member_of:
        ref = refs.parse_ref(value, default_kind="group", namespace=record.namespace)
        if ref:
            named.add((ref.kind, ref.namespace, ref.name))
    for team_id in sorted(cat.groups_of.get(record.user_id, [])) if record.user_id else []:
        ref = cat.team_refs.get(team_id)
        if ref and ref[0] == "group" and ref not in named:
            member_of.append(ref_text(*ref, default_kind="group", own=record.namespace))
    spec["memberOf"] = member_of
    meta = _metadata(record.name, record, title=record.title, description=record.description)
    return _entity("User", meta, spec)


def _system_key(record: EntityRecord) -> str:
    from interop.import_services import system_name

    return system_name(record.namespace, record.name)


def _systems(cat: _Catalog) -> list[dict]:
    owners: dict[str, Counter] = {}
    for service in cat.services:
        if service.system:
            owners.setdefault(service.system, Counter())[service.owner_id] += 1
    records = {_system_key(r): r for r in cat.records if r.kind == "System"}
    entities = []
    for key in sorted(set(owners) | set(records)):
        record = records.get(key)
        namespace, _, name = key.rpartition("/")
        # The System's own owner when one was imported, else the team with most services in it.
        owner_id = record.team_id if record and record.team_id else owners[key].most_common(1)[0][0]
        spec = {"owner": cat.owner_text(owner_id, namespace or "default")}
        if record and record.spec_type:
            spec["type"] = record.spec_type
        spec.update(record.extra_spec if record else {})
        meta = _metadata(
            name,
            record,
            title=record.title if record else "",
            description=record.description if record else "",
        )
        if namespace and "namespace" not in meta:
            meta["namespace"] = namespace
        entities.append(_entity("System", meta, spec))
    return entities


def _domain(cat: _Catalog, record: EntityRecord) -> dict:
    spec: dict = {}
    if record.team_id:
        spec["owner"] = cat.owner_text(record.team_id, record.namespace)
    if record.spec_type:
        spec["type"] = record.spec_type
    spec.update(record.extra_spec)
    meta = _metadata(record.name, record, title=record.title, description=record.description)
    return _entity("Domain", meta, spec)


def _service(cat: _Catalog, service: Service) -> dict:
    record = cat.of_service.get(service.pk)
    kind_lower, namespace, name = cat.service_ref(service)
    kind = {"component": "Component", "api": "API", "resource": "Resource"}[kind_lower]
    extra = dict(record.extra_spec) if record else {}
    title = service.name if service.name != name else ""
    meta = _metadata(name, record, title=title, description=service.description)
    if service.tags:
        meta["tags"] = list(service.tags)
    annotations = dict(meta.get("annotations") or {})
    if kind in ("Component", "Resource") and service.kind != "resource":
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
    recorded = extra.pop("lifecycle", None)
    if recorded and backstage.lifecycle_for(recorded)[0] == lifecycle:
        lifecycle = recorded  # e.g. "beta", imported as experimental
    spec: dict = {
        "type": (record.spec_type if record else "")
        or ("openapi" if kind == "API" else backstage.KIND_TO_TYPE[service.kind]),
        "lifecycle": lifecycle,
        "owner": cat.owner_text(service.owner_id, namespace),
    }
    if service.system:
        system_ns, _, system = service.system.rpartition("/")
        spec["system"] = ref_text(
            "system", system_ns or "default", system, default_kind="system", own=namespace
        )
    depends = [
        ref_text(*cat.service_ref(other), default_kind="", own=namespace)
        for other in sorted(service.depends_on.all(), key=lambda s: s.slug)
    ]
    depends += list(extra.pop("dependsOn", None) or [])
    if depends:
        spec["dependsOn"] = depends
    spec.update(extra)
    if kind == "API" and not spec.get("definition"):
        spec["definition"] = f"# {service.name}: no definition stored"
    return _entity(kind, meta, spec)
