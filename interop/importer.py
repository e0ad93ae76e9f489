"""Backstage catalog import: Groups → Teams, Components and APIs → Services, Systems kept.

A re-import updates the rows it made before (matched by slug) instead of duplicating them, and
an entity whose data did not change is counted as unchanged and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from catalog.models import Membership, Service, Team
from interop import backstage
from interop.backstage import Document
from interop.models import EntityRecord


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.warnings)} warnings, "
            f"{len(self.errors)} errors"
        )


class _EntityError(Exception):
    """One entity cannot be imported; the rest go on."""


def catalog_import(*, files: list[tuple[str, bytes | str]], actor, source: str) -> ImportReport:
    """Import Backstage entities from (file name, content) pairs.

    Steps: load and check the YAML; Groups (teams, memberships of known users); Systems;
    Components and APIs (services); then dependsOn relations, once every service exists.
    One audit row per created or updated entity, and one for the whole import.
    """
    loaded = backstage.load(files)
    report = ImportReport(errors=list(loaded.errors))
    by_kind: dict[str, list[Document]] = {k: [] for k in backstage.SUPPORTED_KINDS}
    for doc in loaded.documents:
        if doc.kind in by_kind:
            by_kind[doc.kind].append(doc)
        else:
            report.warnings.append(f"{doc.source}: kind {doc.kind!r} is not imported; skipped.")
    importer = _Importer(actor=actor, source=source, report=report)
    with transaction.atomic():
        for kind, handler in (
            ("Group", importer.group),
            ("System", importer.system),
            ("API", importer.service),
            ("Component", importer.service),
        ):
            for doc in by_kind[kind]:
                try:
                    with transaction.atomic():
                        handler(doc)
                except (_EntityError, ValidationError) as exc:
                    message = "; ".join(_messages(exc))
                    report.errors.append(f"{doc.source} ({doc.kind} {doc.name}): {message}")
        importer.relations()
    audit_record(
        actor=actor,
        action="catalog.import",
        target=("interop.import", "", f"{len(files)} file(s)"),
        after={
            "created": report.created,
            "updated": report.updated,
            "errors": report.errors[:50],
        },
        result="ok" if not report.errors else "failed",
        source=source,
    )
    return report


def _messages(exc) -> list[str]:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
        return list(exc.messages)
    return [str(exc)]


class _Importer:
    def __init__(self, *, actor, source: str, report: ImportReport):
        self.actor = actor
        self.source = source
        self.report = report
        self.pending_relations: list[tuple[Document, Service]] = []

    # --- bookkeeping ----------------------------------------------------------------------
    def _record(self, doc: Document, **values) -> bool:
        """Upsert the entity's record; True if anything in it changed."""
        meta = doc.metadata
        annotations = dict(meta.get("annotations") or {})
        annotations.pop(backstage.KIND_ANNOTATION, None)  # re-derived on export
        desired = {
            "title": str(meta.get("title") or ""),
            "description": str(meta.get("description") or ""),
            "spec_type": str(doc.spec.get("type") or ""),
            "annotations": annotations,
            "links": list(meta.get("links") or []),
            "labels": dict(meta.get("labels") or {}),
            **values,
        }
        record = EntityRecord.objects.filter(
            kind=doc.kind, namespace=doc.namespace, name=doc.name
        ).first()
        if record is None:
            EntityRecord.objects.create(
                kind=doc.kind, namespace=doc.namespace, name=doc.name, **desired
            )
            return True
        changed = {k: v for k, v in desired.items() if _value(getattr(record, k)) != _value(v)}
        for key, value in changed.items():
            setattr(record, key, value)
        if changed:
            record.save()
        return bool(changed)

    def _outcome(self, doc: Document, *, created: bool, changed: bool, target, before, after):
        label = f"{doc.kind} {doc.name}"
        if created:
            self.report.created.append(label)
        elif changed:
            self.report.updated.append(label)
        else:
            self.report.unchanged.append(label)
            return
        audit_record(
            actor=self.actor,
            # "api." is taken by the JSON API's own rows; an imported API entity is api_entity.
            action=f"{'api_entity' if doc.kind == 'API' else doc.kind.lower()}.import",
            target=target,
            before=None if created else before,
            after=after,
            source=self.source,
        )

    def _team(self, doc: Document, value, *, field_name: str = "owner") -> Team:
        ref = backstage.parse_ref(value, default_kind="group")
        if ref is None or ref.kind != "group":
            raise _EntityError(f"spec.{field_name} must name a Group (got {value!r}).")
        team = Team.objects.filter(slug=ref.name).first()
        if team is None:
            raise _EntityError(f"owner group {ref.name!r} is neither in Slipway nor imported.")
        return team

    # --- kinds ----------------------------------------------------------------------------
    def group(self, doc: Document) -> None:
        spec = doc.spec
        profile = spec.get("profile") if isinstance(spec.get("profile"), dict) else {}
        name = str(profile.get("displayName") or doc.metadata.get("title") or doc.name)[:100]
        team = Team.objects.filter(slug=doc.name).first()
        created = team is None
        before = None if created else {"name": team.name, "description": team.description}
        if created:
            team = Team(slug=doc.name)
        team.name = name
        team.description = str(doc.metadata.get("description") or "")
        after = {"name": team.name, "description": team.description}
        changed = created or before != after
        if changed:
            team.full_clean()
            team.save()
        members_changed = self._members(doc, team)
        extra = {k: spec[k] for k in ("parent", "children") if spec.get(k) not in (None, [], "")}
        if profile:
            extra["profile"] = profile
        record_changed = self._record(doc, team=team, extra_spec=extra)
        self._outcome(
            doc,
            created=created,
            changed=changed or members_changed or record_changed,
            target=team,
            before=before,
            after=after,
        )

    def _members(self, doc: Document, team: Team) -> bool:
        """Add memberships for listed users Slipway knows; report the others."""
        changed = False
        users = get_user_model().objects
        for value in doc.spec.get("members") or []:
            ref = backstage.parse_ref(value, default_kind="user")
            if ref is None or ref.kind != "user":
                self.report.warnings.append(f"{doc.source}: member {value!r} is not a user ref.")
                continue
            user = users.filter(username=ref.name).first()
            if user is None:
                self.report.warnings.append(
                    f"{doc.source}: user {ref.name!r} has no Slipway account; not added."
                )
                continue
            _, made = Membership.objects.get_or_create(team=team, user=user)
            changed |= made
        return changed

    def system(self, doc: Document) -> None:
        owner = self._team(doc, doc.spec.get("owner"))
        record = EntityRecord.objects.filter(kind="System", name=doc.name).first()
        extra = {k: doc.spec[k] for k in ("domain",) if doc.spec.get(k)}
        changed = self._record(doc, team=owner, extra_spec=extra)
        self._outcome(
            doc,
            created=record is None,
            changed=changed,
            target=("interop.system", doc.name, doc.name),
            before=None,
            after={"owner": owner.slug},
        )

    def service(self, doc: Document) -> None:
        """A Component or an API → a catalog Service (APIs are of kind apigateway)."""
        spec, meta = doc.spec, doc.metadata
        owner = self._team(doc, spec.get("owner"))
        annotations = meta.get("annotations") or {}
        if doc.kind == "API":
            kind, deployable = "apigateway", True
        else:
            kind, deployable = backstage.kind_for(spec.get("type", ""), annotations)
        if not deployable:
            self.report.warnings.append(
                f"{doc.source}: spec.type {spec.get('type')!r} is not deployable; "
                "catalogued as an ECS service (its type is kept for export)."
            )
        lifecycle, exact = backstage.lifecycle_for(spec.get("lifecycle"))
        system_ref = backstage.parse_ref(spec.get("system"), default_kind="system")
        desired = {
            "name": str(meta.get("title") or doc.name)[:100],
            "kind": kind,
            "owner": owner,
            "lifecycle": lifecycle,
            "system": system_ref.name if system_ref else "",
            "description": str(meta.get("description") or ""),
            "tags": [str(t) for t in meta.get("tags") or []],
            "repo_url": _source_url(annotations),
            "docs_url": _docs_url(meta.get("links") or []),
        }
        service = Service.objects.select_related("owner").filter(slug=doc.name).first()
        other = EntityRecord.objects.filter(name=doc.name, service__isnull=False).exclude(
            kind=doc.kind
        )
        if other.exists():
            raise _EntityError(f"a {other.first().kind} named {doc.name!r} already has this slug.")
        created = service is None
        before = None if created else _service_fields(service)
        if created:
            service = Service(slug=doc.name)
        elif service.kind != kind and service.instances.exists():
            self.report.warnings.append(
                f"{doc.source}: {doc.name} is deployed as {service.kind}; its kind is kept."
            )
            desired["kind"] = service.kind
        for key, value in desired.items():
            setattr(service, key, value)
        after = _service_fields(service)
        changed = created or before != after
        if changed:
            service.full_clean()
            service.save()
        extra = {
            k: spec[k]
            for k in ("providesApis", "consumesApis", "subcomponentOf", "definition")
            if spec.get(k)
        }
        if isinstance(extra.get("definition"), str):
            extra["definition"] = extra["definition"][: backstage.MAX_DEFINITION_CHARS]
        if not exact:
            extra["lifecycle"] = spec.get("lifecycle")
        # dependsOn refs that name no service are kept by relations(); keep them here so this
        # comparison does not see them as a change.
        previous = EntityRecord.objects.filter(
            kind=doc.kind, namespace=doc.namespace, name=doc.name
        ).first()
        if previous and "dependsOn" in previous.extra_spec:
            extra["dependsOn"] = previous.extra_spec["dependsOn"]
        record_changed = self._record(doc, service=service, extra_spec=extra)
        self.pending_relations.append((doc, service))
        self._outcome(
            doc,
            created=created,
            changed=changed or record_changed,
            target=service,
            before=before,
            after=after,
        )

    def relations(self) -> None:
        """dependsOn → Service.depends_on, for refs that name a catalogued service."""
        for doc, service in self.pending_relations:
            wanted: list[Service] = []
            unresolved: list[str] = []
            for value in doc.spec.get("dependsOn") or []:
                ref = backstage.parse_ref(value, default_kind="component")
                target = (
                    Service.objects.filter(slug=ref.name).first()
                    if ref and ref.kind in ("component", "api")
                    else None
                )
                if target is None or target.pk == service.pk:
                    unresolved.append(str(value))
                else:
                    wanted.append(target)
            current = set(service.depends_on.values_list("pk", flat=True))
            if current != {s.pk for s in wanted}:
                service.depends_on.set(wanted)
                label = f"{doc.kind} {doc.name}"
                if label in self.report.unchanged:
                    self.report.unchanged.remove(label)
                    self.report.updated.append(label)
                audit_record(
                    actor=self.actor,
                    action="service.import_relations",
                    target=service,
                    after={"depends_on": sorted(s.slug for s in wanted)},
                    source=self.source,
                )
            record = EntityRecord.objects.get(kind=doc.kind, namespace=doc.namespace, name=doc.name)
            if record.extra_spec.get("dependsOn") != (unresolved or None):
                extra = {k: v for k, v in record.extra_spec.items() if k != "dependsOn"}
                if unresolved:
                    extra["dependsOn"] = unresolved
                record.extra_spec = extra
                record.save(update_fields=["extra_spec", "updated_at"])


def _value(value):
    return value.pk if hasattr(value, "pk") else value


def _service_fields(service: Service) -> dict:
    return {
        "name": service.name,
        "kind": service.kind,
        "owner": service.owner.slug if service.owner_id else None,
        "lifecycle": service.lifecycle,
        "system": service.system,
        "description": service.description,
        "tags": list(service.tags),
        "repo_url": service.repo_url,
        "docs_url": service.docs_url,
    }


def _source_url(annotations: dict) -> str:
    """backstage.io/source-location `url:https://…` → the repo URL (other forms ignored)."""
    value = str(annotations.get("backstage.io/source-location") or "")
    if value.startswith("url:"):
        value = value[4:]
    return value if value.startswith(("https://", "http://")) and len(value) <= 200 else ""


def _docs_url(links: list) -> str:
    for link in links:
        if not isinstance(link, dict):
            continue
        hint = f"{link.get('type', '')} {link.get('title', '')} {link.get('icon', '')}".lower()
        url = str(link.get("url") or "")
        if "doc" in hint and url.startswith(("https://", "http://")) and len(url) <= 200:
            return url
    return ""
