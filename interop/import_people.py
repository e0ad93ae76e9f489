"""Planning Backstage Users: which Slipway account each one is, its team memberships, and the
team that holds what a user owns.

Part of the import plan (import_plan.py):

1. match_accounts() reads, in two batched lookups, the accounts whose email or username a
   User of the import (or a `user:` reference: a Group's members, an owner) names. Email wins
   when exactly one account has it; then the username equal to the User's name.
2. users() plans, per User, a membership in every team its `memberOf` names (a Group of the
   import or of Slipway); a User no account matches is reported and kept (for export), and
   gets no membership.
3. A User that owns something (`owner: user:guest`) gets a personal team, `user-guest`, that
   owns those services, with the matched account as its member: the user may change what they
   own, as a team member may, and nobody else but staff. The team is not exported as a Group:
   its services are exported with `owner: user:guest` again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from catalog.models import Team
from interop import backstage, refs
from interop.backstage import Document
from interop.import_plan import _fetch
from interop.models import EntityRecord

if TYPE_CHECKING:
    from interop.import_plan import Plan


def _user_refs(by_kind: dict[str, list[Document]]):
    """(namespace, name) of every user a Group's members or an owner names."""
    for doc in by_kind["Group"]:
        for value in doc.spec.get("members") or []:
            ref = refs.parse_ref(value, default_kind="user", namespace=doc.namespace)
            if ref and ref.kind == "user":
                yield ref.namespace, ref.name


def owner_users(by_kind: dict[str, list[Document]]) -> set[tuple[str, str]]:
    """(namespace, name) of every User that owns an entity of the import."""
    owners = set()
    for kind in ("System", "Domain", "Component", "API", "Resource"):
        for doc in by_kind[kind]:
            value = doc.spec.get("owner")
            # Only `user:` names a user (a bare name is a Group): skip the rest cheaply.
            if not isinstance(value, str) or value.lstrip()[:5].lower() != "user:":
                continue
            ref = refs.parse_ref(value, default_kind="group", namespace=doc.namespace)
            if ref and ref.kind == "user":
                owners.add((ref.namespace, ref.name))
    return owners


def _email(doc: Document) -> str:
    profile = doc.spec.get("profile") or {}
    return str(profile.get("email") or "").strip().lower()


def match_accounts(plan: Plan, by_kind: dict[str, list[Document]]) -> None:
    """Fill plan.accounts: (namespace, name) → account id or None (see the module doc)."""
    users = by_kind["User"]
    plan._load_records(users)
    wanted = {(d.namespace, d.name): _email(d) for d in users}
    plan.owner_users = owner_users(by_kind)
    for key in [*_user_refs(by_kind), *plan.owner_users]:
        wanted.setdefault(key, "")
    if not wanted:
        return
    model = get_user_model()
    by_email: dict[str, list[int]] = {}
    emails = {email for email in wanted.values() if email}
    if emails:
        rows = model.objects.annotate(email_lower=Lower("email"))
        for pk, email in _fetch(rows.values_list("pk", "email_lower"), "email_lower", emails):
            by_email.setdefault(email, []).append(pk)
    names = {name for _namespace, name in wanted}
    by_name = {
        username: pk
        for pk, username in _fetch(
            model.objects.values_list("pk", model.USERNAME_FIELD), model.USERNAME_FIELD, names
        )
    }
    for (namespace, name), email in wanted.items():
        matches = by_email.get(email, []) if email else []
        record = plan._records.get(("User", namespace, name))
        if len(matches) == 1:
            plan.accounts[(namespace, name)] = matches[0]
        elif len(matches) > 1:
            # Which of them is this user cannot be told (nor is the username's account, then,
            # surely the same person): no membership rather than someone else's.
            plan.accounts[(namespace, name)] = None
            plan.report.warnings.append(
                f"user {name!r}: {email} is the email of {len(matches)} Slipway accounts; "
                "matched to none of them, no membership added."
            )
        elif name in by_name:
            plan.accounts[(namespace, name)] = by_name[name]
        elif record is not None and record.user_id:
            plan.accounts[(namespace, name)] = record.user_id  # matched by an earlier import
        else:
            plan.accounts[(namespace, name)] = None


def users(plan: Plan, by_kind: dict[str, list[Document]]) -> None:
    """Users → memberships and records; personal teams for users that own something."""
    docs = by_kind["User"]
    owners = plan.owner_users
    plan._load_teams(
        [refs.personal_slug(ns, name) for ns, name in owners]
        + [slug for doc in docs for slug in _group_slugs(doc)]
    )
    plan.current_memberships()
    # The teams earlier imports made personal (a team with such a slug may be a real one).
    personal_ids = {
        (record.namespace, record.name): record.team_id
        for record in _fetch(
            EntityRecord.objects.filter(kind="User"), "name", [n for _, n in owners]
        )
    }
    for namespace, name in sorted(owners):
        doc = next((d for d in docs if (d.namespace, d.name) == (namespace, name)), None)
        try:
            _personal_team(plan, namespace, name, doc, personal_ids.get((namespace, name)))
        except ValidationError as exc:
            if doc is not None:
                plan._error(doc, exc)
            else:
                plan.report.errors.append(f"user {name!r}: {' '.join(exc.messages)}")
    for doc in docs:
        account = plan.accounts.get((doc.namespace, doc.name))
        changes: dict = {}
        added = []
        for value in doc.spec.get("memberOf") or []:
            ref = refs.parse_ref(value, default_kind="group", namespace=doc.namespace)
            team = None
            if ref and ref.kind == "group":
                team = plan.teams.get(refs.catalog_slug(ref.namespace, ref.name))
            if team is None:
                plan.report.warnings.append(
                    f"{doc.source}: memberOf {backstage.quote(value)} is not a Group in Slipway "
                    "or the import; kept for export."
                )
            elif account is not None and plan.add_member(team, account, who=doc.name):
                added.append(team.slug)
        if account is None:
            plan.report.warnings.append(
                f"{doc.source}: user {doc.name!r} matches no Slipway account (by email "
                f"{_email(doc) or '(none)'} or username); kept for export, no membership added."
            )
        if added:
            changes["member_of_added"] = added
        record, record_changed = plan._record(
            doc,
            user_id=account,
            team=plan.personal.get((doc.namespace, doc.name)),
            extra_spec={k: v for k, v in doc.spec.items() if v not in (None, [], {})},
            tags=list(doc.metadata.get("tags") or []),
        )
        created = record.pk is None
        if record_changed and not created:
            changes.setdefault("record", True)
        plan._outcome(doc, created=created, changes=changes)


def _group_slugs(doc: Document):
    for value in doc.spec.get("memberOf") or []:
        ref = refs.parse_ref(value, default_kind="group", namespace=doc.namespace)
        if ref and ref.kind == "group":
            yield refs.catalog_slug(ref.namespace, ref.name)


def _personal_team(
    plan: Plan, namespace: str, name: str, doc: Document | None, personal_id: int | None
) -> None:
    """Plan the team that holds what user (namespace, name) owns, with its account in it.

    `personal_id` is the team an earlier import made for the user. Any other team with the
    slug (made in Slipway, or a Group of this import) is refused: renaming it and adding the
    user to it would hand the user a real team.
    """
    slug = refs.personal_slug(namespace, name)
    profile = (doc.spec.get("profile") or {}) if doc else {}
    shown = name if namespace == "default" else f"{namespace}/{name}"
    desired = {
        "name": f"{profile.get('displayName') or shown} (user)"[:100],
        "description": f"What the Backstage user {shown} owns.",
    }
    team = plan.teams.get(slug)
    if team is not None and (team.pk is None or team.pk != personal_id):
        raise ValidationError(
            f"team {slug!r} already exists and is not this user's own team: what user "
            f"{shown!r} owns cannot be put in it (rename one of them)."
        )
    if team is None:
        team = Team(slug=slug, **desired)
        team.full_clean(validate_unique=False, validate_constraints=False)
        plan.new_teams.append(team)
        plan.teams[slug] = team
    elif any(getattr(team, k) != v for k, v in desired.items()):
        for key, value in desired.items():
            setattr(team, key, value)
        plan.changed_teams.append(team)
    plan.personal[(namespace, name)] = team
    account = plan.accounts.get((namespace, name))
    if account is not None:
        plan.add_member(team, account, who=shown)
    else:
        where = f"{doc.source}: " if doc is not None else ""
        plan.report.warnings.append(
            f"{where}user {shown!r} owns entities but matches no Slipway account: only staff can "
            f"change what team {slug!r} holds until the account exists and is imported again."
        )
    if doc is None and ("User", namespace, name) not in plan._records:
        # Owned by a user the import does not describe: record it, so export names it again.
        record = EntityRecord(
            kind="User", namespace=namespace, name=name, team=team, user_id=account
        )
        plan._records[("User", namespace, name)] = record
        plan.new_records.append(record)
        plan.report.created.append(f"User {backstage.label(shown)}")
