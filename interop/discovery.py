"""Discovery: AWS resources in an environment that Slipway does not manage, and adopting them.

Slipway tags everything it creates with `slipway:service` (deployments/names.py); anything
without that tag is unmanaged. Each resource kind has an adopter (`interop/adopters.py`) that
lists its unmanaged resources and reads one into an applied spec. Adoption is the same for every
kind: the observed configuration becomes the instance's applied spec, the resource identifiers
the instance's resources, and the resource is tagged like a Slipway resource (so it leaves the
discovery list).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.services import audit_record
from catalog import services as catalog_services
from catalog.models import Environment, Membership, Service, ServiceInstance, Team
from costs.services import instance_cost_store
from deployments import names
from interop.adopters import MANAGED_TAG, Unmanaged, adopter_for, listers

__all__ = [
    "MANAGED_TAG",
    "Unmanaged",
    "discover_unmanaged",
    "require_owner_member",
    "resource_adopt",
]


def discover_unmanaged(*, environment: Environment, actor=None) -> list[Unmanaged]:
    """Every registered kind's resources without a `slipway:service` tag."""
    found: list[Unmanaged] = []
    for lister in listers().values():
        found += lister.discover(environment=environment, actor=actor)
    return found


def require_owner_member(
    *, user, owner: Team, action: str, target: tuple, environment: Environment, source
) -> None:
    """Adoption needs membership of the owner team (or staff); a refusal is audited."""
    if user.is_staff or Membership.objects.filter(team=owner, user=user).exists():
        return
    audit_record(
        actor=user,
        action=action,
        target=target,
        environment=environment,
        result="denied",
        source=source,
    )
    raise PermissionDenied(f"You are not a member of {owner.name}.")


def resource_adopt(
    *,
    environment: Environment,
    kind: str,
    name: str,
    owner: Team,
    slug: str,
    user: AbstractBaseUser,
    description: str = "",
    source: str | None = None,
    join_existing: bool = False,
) -> ServiceInstance:
    """Make one unmanaged resource a catalog service owned by `owner`.

    Steps: check the user is in the owner team; read the resource through its kind's adopter
    (refusing one Slipway already manages); tag it like every Slipway resource; create the
    service and its instance with the observed spec and resource identifiers; audit, with the
    AWS request ids. With `join_existing`, a catalog service of that slug, kind and owner with no
    instance in `environment` yet gets the adopted resource as its instance there (an app
    adopted environment by environment).
    """
    require_owner_member(
        user=user,
        owner=owner,
        action="resource.adopt",
        target=(f"{kind}.resource", name, name),
        environment=environment,
        source=source,
    )
    adopter = adopter_for(kind)
    if adopter is None:
        raise ValidationError({"kind": f"Adopting {kind} resources is not offered."})
    live = adopter.read(environment=environment, name=name, actor=user)
    if live.managed:
        raise ValidationError({"name": f"Slipway already manages {live.name}."})
    tags = names.tags(service_slug=slug, environment_slug=environment.slug, team_slug=owner.slug)
    # AWS first, outside any transaction: tag the resource, then write the rows in one short
    # transaction. If the rows cannot be written (the slug was taken meanwhile), the tags are
    # taken off again, so Discovery still lists the resource as unmanaged.
    request_ids = [*live.request_ids]
    try:
        request_ids += adopter.tag(environment=environment, live=live, tags=tags, actor=user)
        with transaction.atomic():
            service = existing_service(slug=slug, kind=kind, owner=owner, environment=environment)
            if service is None or not join_existing:
                service = catalog_services.service_create(
                    user=user,
                    owner=owner,
                    slug=slug,
                    kind=kind,
                    description=description or live.description,
                )
            instance = catalog_services.instance_get_or_create(
                service=service, environment=environment
            )
            instance.resources = live.resources
            instance.applied_spec = live.spec
            instance.status = ServiceInstance.Status.HEALTHY
            instance.save(update_fields=["resources", "applied_spec", "status", "updated_at"])
            audit_record(
                actor=user,
                action="resource.adopt",
                target=instance,
                environment=environment,
                after={"resources": live.resources, "applied_spec": live.spec},
                aws_request_ids=request_ids,
                source=source,
            )
    except Exception:
        adopter.untag(environment=environment, live=live, keys=list(tags), actor=user)
        raise
    # As after a deployment: the catalog sorts and the team sums by this (no AWS call).
    instance_cost_store(instance=instance, spec=instance.applied_spec)
    return instance


def existing_service(*, slug: str, kind: str, owner: Team, environment: Environment):
    """The catalog service an adoption may join: same slug, kind and owner, and nothing
    deployed or adopted in `environment` yet. None otherwise."""
    service = Service.objects.filter(slug=slug, kind=kind, owner=owner).first()
    if service is None:
        return None
    instances = ServiceInstance.objects.filter(service=service, environment=environment)
    return None if any(i.applied_spec for i in instances) else service
