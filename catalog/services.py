"""Writes to the catalog. Views, admin, API and commands call these; none writes rows itself."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from audit.services import audit_record
from catalog.facets import catalog_changed, counted_by_database
from catalog.models import Environment, Membership, Service, ServiceInstance, Team
from catalog.specs import check_tags, settings_checked
from portal.bulk import rows_insert


class SlugTaken(ValidationError):
    """A new service's slug was taken by another request after the caller's check (two people,
    one name, at the same moment): the INSERT's unique constraint refused it. Worded as
    full_clean's unique check words it ({"slug": [...]}), so a caller that shows full_clean's
    errors shows this one the same way; a caller whose form asks for the name under another
    field (the deploy forms' and the API launch's `name`) catches this class."""

    def __init__(self, slug: str):
        super().__init__({"slug": Service().unique_error_message(Service, ["slug"])})
        self.slug = slug


def _catalog_fields(service: Service, depends_on: list[str] | None = None) -> dict:
    """The audited snapshot of a service's catalog data. `depends_on`, when the caller knows
    it (a service just inserted has none), saves reading it."""
    if depends_on is None:
        depends_on = sorted(service.depends_on.values_list("slug", flat=True)) if service.pk else []
    return {
        "name": service.name,
        "owner": service.owner.slug,
        "kind": service.kind,
        "lifecycle": service.lifecycle,
        "system": service.system,
        "description": service.description,
        "repo_url": service.repo_url,
        "docs_url": service.docs_url,
        "tags": list(service.tags),
        "depends_on": depends_on,
    }


def _changed() -> None:
    """On PostgreSQL nothing: the database counts the write and versions its counts itself
    (catalog.facets). On SQLite, drop cached facet counts now (this process sees the write)
    and again after commit (so a page counted by someone else in between is not kept)."""
    if not counted_by_database():
        catalog_changed()
        transaction.on_commit(catalog_changed)


def catalog_refresh() -> None:
    """For writes that cannot go through a service here (the admin's model forms)."""
    _changed()


def team_create(*, slug: str, name: str, description: str = "", actor=None) -> Team:
    team = Team(slug=slug, name=name, description=description)
    team.full_clean()
    team.save()
    audit_record(actor=actor, action="team.create", target=team, after={"name": name})
    return team


def membership_add(
    *, team: Team, user: AbstractBaseUser, role: str = "member", actor=None
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    audit_record(
        actor=actor,
        action="membership.add",
        target=team,
        after={"user": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def service_create(
    *,
    user: AbstractBaseUser,
    owner: Team,
    slug: str,
    kind: str,
    name: str = "",
    description: str = "",
    lifecycle: str = Service.Lifecycle.EXPERIMENTAL,
    tags: list[str] | None = None,
) -> Service:
    """Add a service to the catalog, owned by a team the user belongs to (or any, for staff)."""
    if not (user.is_staff or Membership.objects.filter(team=owner, user=user).exists()):
        raise PermissionDenied(f"You are not a member of {owner.name}.")
    service = _service_insert(
        user=user,
        owner=owner,
        slug=slug,
        kind=kind,
        name=name,
        description=description,
        lifecycle=lifecycle,
        tags=tags,
    )
    _changed()
    return service


def _service_insert(
    *,
    user: AbstractBaseUser,
    owner: Team,
    slug: str,
    kind: str,
    name: str = "",
    description: str = "",
    lifecycle: str = Service.Lifecycle.EXPERIMENTAL,
    tags: list[str] | None = None,
    unique_by_database: bool = False,
) -> Service:
    """Validate, insert and audit a new service row (the caller checked the user).
    `unique_by_database`, for a caller whose transaction ends at an error (no savepoint): the
    slug's uniqueness is the INSERT's own check, not read before. Either way a slug taken
    between the check and the INSERT is refused with SlugTaken (a ValidationError), never an
    IntegrityError; the caller's transaction (or savepoint) is left to roll back."""
    service = Service(
        slug=slug,
        name=name or slug,
        kind=kind,
        owner=owner,
        description=description,
        lifecycle=lifecycle,
        tags=check_tags(tags or []),
    )
    # `owner` is a team row the caller read; its existence is not read again (the foreign
    # key holds it at commit).
    service.full_clean(exclude=["owner"], validate_unique=not unique_by_database)
    try:
        service.save()
    except IntegrityError as exc:
        if "slug" not in str(exc):
            raise
        # Taken since the form (or full_clean above) checked it: what full_clean says.
        raise SlugTaken(slug) from exc
    audit_record(
        actor=user,
        action="service.create",
        target=service,
        after=_catalog_fields(service, depends_on=[]),
    )
    return service


@transaction.atomic(savepoint=False)
def service_launch_rows(
    *,
    user: AbstractBaseUser,
    owner: Team,
    slug: str,
    kind: str,
    environment: Environment,
    description: str = "",
    status: str | None = None,
) -> ServiceInstance:
    """A new service and its instance in `environment`: the rows of a launch
    (deployments.services.service_launch), whose caller checked that `user` may act for
    `owner` and whose transaction makes them all or nothing (no savepoints). The service is
    audited as service_create audits it; a new service has no instance to look for; the
    catalog's counts are refreshed once for both rows. A slug taken (since the create form
    checked it, say) is refused with SlugTaken, full_clean's ValidationError, as service_create's.
    `status`: the instance's (a launch confirmed at once inserts it `deploying`)."""
    service = _service_insert(
        user=user,
        owner=owner,
        slug=slug,
        kind=kind,
        description=description,
        unique_by_database=True,
    )
    instance = ServiceInstance.objects.create(
        service=service,
        environment=environment,
        status=status or ServiceInstance.Status.NOT_DEPLOYED,
    )
    _changed()
    return instance


def instance_get_or_create(*, service: Service, environment: Environment) -> ServiceInstance:
    instance, created = ServiceInstance.objects.get_or_create(
        service=service, environment=environment
    )
    if created:
        _changed()
    return instance


@transaction.atomic
def service_update(
    *,
    service: Service,
    user: AbstractBaseUser,
    name: str,
    description: str = "",
    lifecycle: str = Service.Lifecycle.EXPERIMENTAL,
    system: str = "",
    repo_url: str = "",
    docs_url: str = "",
    tags: list[str] | None = None,
    depends_on: list[Service] | None = None,
) -> Service:
    """Change a service's catalog data (not its slug: AWS names derive from it).

    Only members of the owner team (or staff) may; a service cannot depend on itself.
    """
    if not service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")
    depends_on = list(depends_on or [])
    if any(other.pk == service.pk for other in depends_on):
        raise ValidationError({"depends_on": "A service cannot depend on itself."})
    # The same typed rules as the settings form and the API (catalog/specs.py).
    checked = settings_checked(
        {
            "name": name,
            "description": description,
            "lifecycle": lifecycle,
            "system": system,
            "repo_url": repo_url,
            "docs_url": docs_url,
            "tags": list(tags or []),
            "depends_on": [other.slug for other in depends_on],
        }
    )
    before = _catalog_fields(service)
    service.name = checked.name.strip() or service.slug
    service.description = checked.description
    service.lifecycle = checked.lifecycle
    service.system = checked.system
    service.repo_url = checked.repo_url
    service.docs_url = checked.docs_url
    service.tags = checked.tags
    service.full_clean()
    service.save()
    service.depends_on.set(depends_on)
    audit_record(
        actor=user,
        action="service.update",
        target=service,
        before=before,
        after=_catalog_fields(service),
    )
    _changed()
    return service


class ServiceInUse(Exception):
    """The service still holds something in AWS (or a deployment is under way): the message
    names where, and the way forward is the delete flow, which tears it down first."""

    def __init__(self, message: str, instances: list[ServiceInstance]):
        super().__init__(message)
        self.instances = instances


# Deployment statuses during which a worker may still create something in AWS.
_ACTIVE_DEPLOYMENT = ("awaiting_approval", "queued", "running")


def instances_holding_aws(*, service: Service) -> list[ServiceInstance]:
    """The instances of `service` that hold (or may soon hold) AWS resources: something was
    applied, an ARN was recorded, or a deployment is waiting or running."""
    return [
        instance
        for instance in service.instances.select_related("environment")
        if instance.applied_spec is not None
        or instance.resources
        or instance.deployments.filter(status__in=_ACTIVE_DEPLOYMENT).exists()
    ]


@transaction.atomic
def service_delete(*, service: Service, user: AbstractBaseUser) -> None:
    """Remove a service and its rows (instances, deployments, alarm rules) from the catalog.

    Refused with ServiceInUse while any instance holds AWS resources: removing the rows then
    would leave them running in AWS, tagged for a service Slipway no longer knows (so Discovery
    would hide them too). The delete flow tears them down through the engine first.
    """
    if not service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")
    # Lock the instances, then check: a worker recording resources waits for this delete (and
    # then finds no row), and a deployment confirmed before it is seen by the check below.
    list(ServiceInstance.objects.select_for_update().filter(service=service).values("pk"))
    holding = instances_holding_aws(service=service)
    if holding:
        where = ", ".join(i.environment.name for i in holding)
        raise ServiceInUse(
            f"{service.slug} still has resources in AWS ({where}); delete it there first.",
            holding,
        )
    before = _catalog_fields(service)
    audit_record(actor=user, action="service.delete", target=service, before=before)
    service.delete()
    _changed()


def service_table_uses_sync(*, service: Service) -> None:
    """The catalog follows the deployed specs: `service` depends on exactly the DynamoDB tables
    it uses and the SNS services whose topics it subscribes to (in any environment). Called when
    a deployment succeeds; other dependencies, typed by people, are left as they are."""
    specs = [
        spec or {}
        for spec in service.instances.exclude(applied_spec__isnull=True).values_list(
            "applied_spec", flat=True
        )
    ]
    tables = {
        g.get("table") for spec in specs for g in spec.get("tables") or [] if isinstance(g, dict)
    }
    subscribed = spec_topic_owners(specs)
    _sync_kind(service, Service.Kind.DYNAMODB, tables)
    _sync_kind(service, Service.Kind.SNS, subscribed - {service.slug})


def spec_topic_owners(specs: list[dict]) -> set[str]:
    """The services owning the topics these specs subscribe to ("<service>/<topic>" names)."""
    owners = set()
    for spec in specs:
        items = list(spec.get("queues") or [])
        if spec.get("kind") == "lambda":
            items += list(spec.get("topics") or [])
        owners |= {
            i["topic"].partition("/")[0] for i in items if isinstance(i, dict) and i.get("topic")
        }
    return owners


def _sync_kind(service: Service, kind: str, slugs: set[str]) -> None:
    wanted = set(Service.objects.filter(slug__in=slugs, kind=kind))
    current = set(service.depends_on.filter(kind=kind))
    if wanted - current:
        service.depends_on.add(*(wanted - current))
    if current - wanted:
        service.depends_on.remove(*(current - wanted))


def table_users(*, table: Service, environment: Environment) -> list[str]:
    """The services whose deployed spec in `environment` uses `table` (for delete refusals)."""
    users = []
    for instance in ServiceInstance.objects.filter(
        environment=environment, service__depends_on=table, applied_spec__isnull=False
    ).select_related("service"):
        grants = (instance.applied_spec or {}).get("tables") or []
        if any(isinstance(g, dict) and g.get("table") == table.slug for g in grants):
            users.append(instance.service.slug)
    return sorted(users)


# --- Bulk writes (the Backstage importer) ---------------------------------------------------
# One import can bring 20,000 services. These write them in batches, in the caller's
# transaction, with the same side effects as the single-row services above: cached facet
# counts dropped (now and after commit). Callers validate rows first (full_clean without the
# unique checks, which they make in memory) and write one audit event for the whole batch.

BULK_BATCH = 1000


def teams_bulk_save(*, new: list[Team], changed: list[Team], fields: list[str]) -> None:
    """Insert `new` teams (their pks are set) and write `fields` of `changed` ones."""
    Team.objects.bulk_create(new, batch_size=BULK_BATCH)
    if changed:
        Team.objects.bulk_update(changed, fields, batch_size=BULK_BATCH)
    if new or changed:
        _changed()


def memberships_bulk_add(*, pairs: list[tuple[Team, int]]) -> None:
    """Add (team, user id) memberships as plain members; existing ones are left as they are."""
    Membership.objects.bulk_create(
        [Membership(team=team, user_id=user_id) for team, user_id in pairs],
        batch_size=BULK_BATCH,
        ignore_conflicts=True,
    )


def services_bulk_save(*, new: list[Service], changed: list[Service], fields: list[str]) -> None:
    """Insert `new` services (their pks are set) and write `fields` of `changed` ones."""
    Service.objects.bulk_create(new, batch_size=BULK_BATCH)
    if changed:
        Service.objects.bulk_update(changed, fields, batch_size=BULK_BATCH)
    if new or changed:
        _changed()


def service_dependencies_bulk_set(*, wanted: list[tuple[Service, list[Service]]]) -> None:
    """Make each (service, others) pair's depends_on exactly `others` (all must be saved)."""
    if not wanted:
        return
    through = Service.depends_on.through
    ids = [service.pk for service, _ in wanted]
    for first in range(0, len(ids), BULK_BATCH):
        through.objects.filter(from_service_id__in=ids[first : first + BULK_BATCH]).delete()
    rows_insert(
        through,
        ["from_service", "to_service"],
        ((service.pk, other.pk) for service, others in wanted for other in others),
    )
    _changed()


def catalog_bulk_done(*, also: list | None = None) -> None:
    """After a bulk write has committed: refresh the planner's statistics (the facet counts
    are the database's own on PostgreSQL; on SQLite cached ones are forgotten).

    PostgreSQL plans the catalog's searches from table statistics that autovacuum refreshes
    only later; after 20,000 new rows, the next searches would scan. ANALYZE now (it reads a
    sample, a fraction of a second). `also`: the caller's own bulk models.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        tables = [Team, Membership, Service, Service.depends_on.through, *(also or [])]
        with connection.cursor() as cursor:
            for model in tables:
                cursor.execute(f'ANALYZE "{model._meta.db_table}"')
    else:
        catalog_changed()
