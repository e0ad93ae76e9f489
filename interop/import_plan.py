"""Deciding an import in memory: what to create, update or leave, before anything is written.

`Plan` reads what exists in a few batched queries (teams, services, entity records,
memberships, dependencies and users for the names in the import, each by an indexed column),
then goes kind by kind: Groups, Systems, then Components and APIs, so an owner may come from
any file of the import. It only builds unsaved or modified model objects; importer._write()
saves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.models import Membership, Service, ServiceInstance, Team
from interop import backstage
from interop.backstage import Document, label, quote
from interop.models import EntityRecord

if TYPE_CHECKING:
    from interop.importer import ImportReport

CHUNK = 2000  # names per `IN (...)` lookup


def _chunks(values: list):
    for first in range(0, len(values), CHUNK):
        yield values[first : first + CHUNK]


def _fetch(queryset, field_name: str, values) -> list:
    """`queryset.filter(<field>__in=values)`, in chunks so no statement grows unbounded."""
    found: list = []
    for chunk in _chunks(sorted(set(values))):
        found.extend(queryset.filter(**{f"{field_name}__in": chunk}))
    return found


class Plan:
    """The rows an import will write, and the report lines it has decided so far."""

    SERVICE_FIELDS = (
        "name",
        "kind",
        "owner",
        "lifecycle",
        "system",
        "description",
        "tags",
        "repo_url",
        "docs_url",
    )
    RECORD_FIELDS = (
        "title",
        "description",
        "spec_type",
        "annotations",
        "links",
        "labels",
        "extra_spec",
        "updated_at",
    )

    def __init__(self, *, report: ImportReport):
        self.report = report
        self.teams: dict[str, Team] = {}  # slug → existing or planned team (owners resolve here)
        self.new_teams: list[Team] = []
        self.changed_teams: list[Team] = []
        self.new_memberships: list[tuple[Team, int]] = []
        self.new_services: list[Service] = []
        self.changed_services: list[Service] = []
        self.dependencies: list[tuple[Service, list[Service]]] = []
        self.new_records: list[EntityRecord] = []
        self.changed_records: list[EntityRecord] = []
        self.changes: list[dict] = []  # for the audit event: what each updated entity changed
        self._records: dict[tuple[str, str, str], EntityRecord] = {}
        self._now = timezone.now()

    # --- shared ---------------------------------------------------------------------------
    def _load_records(self, docs: list[Document]) -> None:
        for record in _fetch(EntityRecord.objects.all(), "name", [d.name for d in docs]):
            self._records[(record.kind, record.namespace, record.name)] = record

    def _load_teams(self, slugs) -> None:
        wanted = [slug for slug in slugs if slug not in self.teams]
        for team in _fetch(Team.objects.all(), "slug", wanted):
            self.teams[team.slug] = team

    def team_slug(self, team_id: int) -> str:
        """The slug of an existing team, by id (for the audit of a service's owner change)."""
        for team in self.teams.values():
            if team.pk == team_id:
                return team.slug
        return Team.objects.filter(pk=team_id).values_list("slug", flat=True).first() or ""

    def _owner_slug(self, value) -> str | None:
        ref = backstage.parse_ref(value, default_kind="group")
        return ref.name if ref and ref.kind == "group" else None

    def _owner(self, doc: Document, value) -> Team:
        ref = backstage.parse_ref(value, default_kind="group")
        if ref is None or ref.kind != "group":
            raise ValidationError(f"spec.owner must name a Group (got {quote(value)}).")
        team = self.teams.get(ref.name)
        if team is None:
            raise ValidationError(
                f"spec.owner: group {ref.name!r} is neither in Slipway nor imported."
            )
        return team

    def _error(self, doc: Document, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            messages = [f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()]
        else:
            messages = list(exc.messages)
        self.report.errors.append(
            f"{doc.source} ({doc.kind} {label(doc.name)}): {'; '.join(messages)}"
        )

    def _record(self, doc: Document, **values) -> tuple[EntityRecord, bool]:
        """The entity's record with its desired values; (record, changed?). Not saved."""
        meta = doc.metadata
        annotations = dict(meta.get("annotations") or {})
        annotations.pop(backstage.KIND_ANNOTATION, None)  # re-derived on export
        desired = {
            "title": meta.get("title") or "",
            "description": meta.get("description") or "",
            "spec_type": doc.spec.get("type") or "",
            "annotations": annotations,
            "links": list(meta.get("links") or []),
            "labels": dict(meta.get("labels") or {}),
            **values,
        }
        key = (doc.kind, doc.namespace, doc.name)
        record = self._records.get(key)
        if record is None:
            record = EntityRecord(kind=doc.kind, namespace=doc.namespace, name=doc.name, **desired)
            self.new_records.append(record)
            return record, True
        changed = False
        for name, value in desired.items():
            attname = f"{name}_id" if name in ("team", "service") else name
            if not _same(getattr(record, attname), value):
                setattr(record, name, value)
                changed = True
        if changed:
            record.updated_at = self._now
            self.changed_records.append(record)
        return record, changed

    def _outcome(self, doc: Document, *, created: bool, changes: dict) -> None:
        entity = f"{doc.kind} {doc.name}"
        if created:
            self.report.created.append(entity)
        elif changes:
            self.report.updated.append(entity)
            self.changes.append({"entity": entity, "changes": changes})
        else:
            self.report.unchanged.append(entity)

    # --- Groups ---------------------------------------------------------------------------
    def groups(self, docs: list[Document]) -> None:
        """Groups → teams, and memberships of the users Slipway knows."""
        self._load_records(docs)
        self._load_teams(d.name for d in docs)
        users, current = self._members_context(docs)
        for doc in docs:
            spec, meta = doc.spec, doc.metadata
            profile = spec.get("profile") or {}
            desired = {
                "name": (profile.get("displayName") or meta.get("title") or doc.name)[:100],
                "description": meta.get("description") or "",
            }
            team = self.teams.get(doc.name)
            created = team is None
            changes = {}
            if created:
                team = Team(slug=doc.name, **desired)
            else:
                changes = {
                    k: [getattr(team, k), v] for k, v in desired.items() if getattr(team, k) != v
                }
                for key, value in desired.items():
                    setattr(team, key, value)
            try:
                team.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                self._error(doc, exc)
                self.teams.pop(doc.name, None)
                continue
            self.teams[doc.name] = team
            if created:
                self.new_teams.append(team)
            elif changes:
                self.changed_teams.append(team)
            added = self._members(doc, team, users, current)
            if added:
                changes["members_added"] = added
            extra = {k: spec[k] for k in ("parent", "children") if spec.get(k) not in (None, [])}
            if profile:
                extra["profile"] = profile
            _, record_changed = self._record(doc, team=team, extra_spec=extra)
            if record_changed and not created:
                changes.setdefault("record", True)
            self._outcome(doc, created=created, changes=changes)

    def _members_context(self, docs: list[Document]):
        names = set()
        for doc in docs:
            for value in doc.spec.get("members") or []:
                ref = backstage.parse_ref(value, default_kind="user")
                if ref and ref.kind == "user":
                    names.add(ref.name)
        users = {
            u.get_username(): u.pk
            for u in _fetch(get_user_model().objects.only("pk", "username"), "username", names)
        }
        team_ids = [t.pk for t in self.teams.values()]
        current = set()
        for chunk in _chunks(team_ids):
            current.update(
                Membership.objects.filter(team_id__in=chunk).values_list("team_id", "user_id")
            )
        return users, current

    def _members(self, doc: Document, team: Team, users: dict, current: set) -> list[str]:
        """Plan memberships for listed users Slipway knows; report the others."""
        added = []
        for value in doc.spec.get("members") or []:
            ref = backstage.parse_ref(value, default_kind="user")
            if ref is None or ref.kind != "user":
                self.report.warnings.append(
                    f"{doc.source}: member {quote(value)} is not a user ref."
                )
                continue
            user_id = users.get(ref.name)
            if user_id is None:
                self.report.warnings.append(
                    f"{doc.source}: user {ref.name!r} has no Slipway account; not added."
                )
                continue
            if team.pk is None or (team.pk, user_id) not in current:
                current.add((team.pk, user_id))
                self.new_memberships.append((team, user_id))
                added.append(ref.name)
        return added

    # --- Systems --------------------------------------------------------------------------
    def systems(self, docs: list[Document]) -> None:
        """Systems are kept as records (owner, domain); their name is Service.system."""
        self._load_records(docs)
        self._load_teams(self._owner_slug(d.spec.get("owner")) or "" for d in docs)
        for doc in docs:
            try:
                owner = self._owner(doc, doc.spec.get("owner"))
            except ValidationError as exc:
                self._error(doc, exc)
                continue
            extra = {k: doc.spec[k] for k in ("domain",) if doc.spec.get(k)}
            created = (doc.kind, doc.namespace, doc.name) not in self._records
            _, changed = self._record(doc, team=owner, extra_spec=extra)
            self._outcome(doc, created=created, changes={"record": True} if changed else {})

    # --- Components and APIs --------------------------------------------------------------
    def services(self, docs: list[Document]) -> None:
        """Components and APIs → catalog services (APIs are of kind apigateway)."""
        from interop.import_services import plan_services

        plan_services(self, docs)


def _same(current, value) -> bool:
    """Equal values; a row (the desired team or service) equals the current foreign key id
    when it is that saved row."""
    if hasattr(value, "pk"):
        return value.pk is not None and current == value.pk
    return current == value


def instances_of(service_ids: list[int]) -> set[int]:
    """Which of these services have an instance (deployed, or once planned)."""
    found: set[int] = set()
    for chunk in _chunks(service_ids):
        found.update(
            ServiceInstance.objects.filter(service_id__in=chunk)
            .values_list("service_id", flat=True)
            .distinct()
        )
    return found
