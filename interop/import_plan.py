"""Deciding an import in memory: what to create, update or leave, before anything is written.

`Plan` reads what exists in a few batched queries (teams, services, entity records,
memberships, dependencies and users for the names in the import, each by an indexed column),
then goes kind by kind (run()): accounts for Users, Groups, Users (memberships, and a personal
team for each user that owns something), Systems and Domains, then Components, APIs and
Resources, so an owner may come from any file of the import. References are read per
namespace (`team-a` in namespace `x` is `group:x/team-a`), and each entity is found again by
(kind, namespace, name). It only builds unsaved or modified model objects; importer._write()
saves them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.models import Membership, Service, ServiceInstance, Team
from interop import backstage, refs
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
        "user",
        "tags",
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
        # (namespace, user name) → Slipway account id (None: no account matches).
        self.accounts: dict[tuple[str, str], int | None] = {}
        # (namespace, user name) → the team holding what that Backstage User owns.
        self.personal: dict[tuple[str, str], Team] = {}
        self.owner_users: set[tuple[str, str]] = set()  # Users that own something
        self._current: set[tuple[int | None, int]] = set()  # see current_memberships()
        self._read_teams: set[int] = set()

    def run(
        self, by_kind: dict[str, list[Document]], *, files, progress: Callable[[int], None]
    ) -> None:
        """Plan every kind, owners before what they own (see the module doc); `progress`
        hears how many entities are planned after each step."""
        from interop import import_people, locations

        locations.check(self, by_kind["Location"], files)
        import_people.match_accounts(self, by_kind)
        self.groups(by_kind["Group"])
        done = len(by_kind["Location"]) + len(by_kind["Group"])
        progress(done)
        import_people.users(self, by_kind)
        done += len(by_kind["User"])
        progress(done)
        self.systems(by_kind["System"] + by_kind["Domain"])
        done += len(by_kind["System"]) + len(by_kind["Domain"])
        progress(done)
        self.services(by_kind["Component"] + by_kind["Resource"] + by_kind["API"])

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

    def _owner_slug(self, doc: Document) -> str:
        ref = refs.parse_ref(doc.spec.get("owner"), default_kind="group", namespace=doc.namespace)
        return refs.catalog_slug(ref.namespace, ref.name) if ref and ref.kind == "group" else ""

    def _owner(self, doc: Document, value) -> Team:
        """The team that owns `doc`: its Group's team, or the personal team of its User."""
        ref = refs.parse_ref(value, default_kind="group", namespace=doc.namespace)
        if ref is None or ref.kind not in ("group", "user"):
            raise ValidationError(f"spec.owner must name a Group or a User (got {quote(value)}).")
        shown = ref.name if ref.namespace == "default" else f"{ref.namespace}/{ref.name}"
        if ref.kind == "user":
            team = self.personal.get((ref.namespace, ref.name))
            if team is None:
                raise ValidationError(f"spec.owner: user {shown!r} cannot hold services.")
            return team
        team = self.teams.get(refs.catalog_slug(ref.namespace, ref.name))
        if team is None:
            raise ValidationError(
                f"spec.owner: group {shown!r} is neither in Slipway nor imported."
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
        values.setdefault("tags", [])
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
            attname = f"{name}_id" if name in ("team", "service", "user") else name
            if not _same(getattr(record, attname), value):
                setattr(record, name, value)
                changed = True
        if changed:
            record.updated_at = self._now
            self.changed_records.append(record)
        return record, changed

    def _outcome(self, doc: Document, *, created: bool, changes: dict) -> None:
        entity = entity_label(doc)
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
        self._load_teams(refs.catalog_slug(d.namespace, d.name) for d in docs)
        self.current_memberships()
        # Teams an import made to hold what a User owns (`user-<name>`): no Group takes one over.
        personal = set(
            _fetch(
                EntityRecord.objects.filter(kind="User").values_list("team_id", flat=True),
                "team_id",
                [t.pk for t in self.teams.values() if t.pk],
            )
        )
        for doc in docs:
            slug = refs.catalog_slug(doc.namespace, doc.name)
            spec, meta = doc.spec, doc.metadata
            profile = spec.get("profile") or {}
            desired = {
                "name": (profile.get("displayName") or meta.get("title") or doc.name)[:100],
                "description": meta.get("description") or "",
            }
            team = self.teams.get(slug)
            if team is not None and team.pk in personal:
                self._error(
                    doc,
                    ValidationError(
                        f"team {slug!r} holds what a Backstage user owns; a Group cannot take "
                        "it over (rename the Group)."
                    ),
                )
                continue
            created = team is None
            changes = {}
            if created:
                team = Team(slug=slug, **desired)
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
                self.teams.pop(slug, None)
                continue
            self.teams[slug] = team
            if created:
                self.new_teams.append(team)
            elif changes:
                self.changed_teams.append(team)
            added = self._members(doc, team)
            if added:
                changes["members_added"] = added
            extra = {k: v for k, v in spec.items() if k != "type" and v not in (None, [])}
            _, record_changed = self._record(
                doc, team=team, extra_spec=extra, tags=list(meta.get("tags") or [])
            )
            if record_changed and not created:
                changes.setdefault("record", True)
            self._outcome(doc, created=created, changes=changes)

    def current_memberships(self) -> set[tuple[int | None, int]]:
        """(team id, user id) of every membership of the teams loaded so far (kept up to date
        by add_member, so a membership named twice is planned once)."""
        team_ids = [t.pk for t in self.teams.values() if t.pk and t.pk not in self._read_teams]
        for chunk in _chunks(team_ids):
            self._current.update(
                Membership.objects.filter(team_id__in=chunk).values_list("team_id", "user_id")
            )
        self._read_teams.update(team_ids)
        return self._current

    def add_member(self, team: Team, user_id: int, *, who: str) -> bool:
        """Plan `user_id` (Backstage user `who`) into `team` unless already there; True when
        planned, and then said in the report."""
        current = self.current_memberships()
        if team.pk is not None and (team.pk, user_id) in current:
            return False
        if team.pk is None and any(t is team and u == user_id for t, u in self.new_memberships):
            return False
        current.add((team.pk, user_id))
        self.new_memberships.append((team, user_id))
        self.report.memberships.append(f"{who} joins team {team.slug}")
        return True

    def _members(self, doc: Document, team: Team) -> list[str]:
        """Plan memberships for listed users Slipway knows; report the others."""
        added = []
        for value in doc.spec.get("members") or []:
            ref = refs.parse_ref(value, default_kind="user", namespace=doc.namespace)
            if ref is None or ref.kind != "user":
                self.report.warnings.append(
                    f"{doc.source}: member {quote(value)} is not a user ref."
                )
                continue
            user_id = self.accounts.get((ref.namespace, ref.name))
            if user_id is None:
                self.report.warnings.append(
                    f"{doc.source}: user {ref.name!r} has no Slipway account; not added."
                )
                continue
            if self.add_member(team, user_id, who=ref.name):
                added.append(ref.name)
        return added

    # --- Systems --------------------------------------------------------------------------
    def systems(self, docs: list[Document]) -> None:
        """Systems and Domains are kept as records (owner, domain...); a System's name is
        Service.system."""
        self._load_records(docs)
        self._load_teams(self._owner_slug(d) for d in docs)
        for doc in docs:
            try:
                owner = self._owner(doc, doc.spec.get("owner"))
            except ValidationError as exc:
                self._error(doc, exc)
                continue
            extra = {k: v for k, v in doc.spec.items() if k not in ("owner", "type") and v}
            created = (doc.kind, doc.namespace, doc.name) not in self._records
            _, changed = self._record(
                doc, team=owner, extra_spec=extra, tags=list(doc.metadata.get("tags") or [])
            )
            self._outcome(doc, created=created, changes={"record": True} if changed else {})

    # --- Components, APIs and Resources ---------------------------------------------------
    def services(self, docs: list[Document]) -> None:
        """Components, APIs and Resources → catalog services (APIs are of kind apigateway,
        Resources of kind "resource" unless Slipway runs them)."""
        from interop.import_services import plan_services

        plan_services(self, docs)


def entity_label(doc: Document) -> str:
    """`Component x` (default namespace) or `Component ns/x`, as reports name entities."""
    name = doc.name if doc.namespace == "default" else f"{doc.namespace}/{doc.name}"
    return f"{doc.kind} {label(name)}"


def _same(current, value) -> bool:
    """Equal values; a row (the desired team or service) equals the current foreign key id
    when it is that saved row."""
    if hasattr(value, "pk"):
        return value.pk is not None and current == value.pk
    return _json_same(current, value)


def _json_same(stored, value) -> bool:
    """JSON values equal as stored: PostgreSQL keeps a jsonb number as a numeric, so a large
    float (6.349623548326721e+16) reads back as the int 63496235483267210; numbers are equal
    when the float of one is the other."""
    if isinstance(stored, dict) and isinstance(value, dict):
        return stored.keys() == value.keys() and all(
            _json_same(stored[k], value[k]) for k in stored
        )
    if isinstance(stored, list) and isinstance(value, list):
        return len(stored) == len(value) and all(map(_json_same, stored, value))
    if isinstance(stored, bool) or isinstance(value, bool):  # true is not 1 in a file
        return type(stored) is type(value) and stored == value
    if isinstance(stored, (int, float)) and isinstance(value, (int, float)):
        try:
            return stored == value or float(stored) == float(value)
        except OverflowError:  # an int beyond any float
            return False
    return stored == value


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
