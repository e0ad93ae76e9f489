"""Discovery: AWS resources in an environment that Slipway does not manage, and adopting them.

Slipway tags everything it creates with `slipway:service` (deployments/names.py); anything
without that tag is unmanaged. Each resource kind has an adopter (`interop/adopters.py`) that
lists its unmanaged resources and reads one into an applied spec. Adoption is the same for every
kind: the observed configuration becomes the instance's applied spec, the resource identifiers
the instance's resources, and the resource is tagged like a Slipway resource (so it leaves the
discovery list).
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from catalog import services as catalog_services
from catalog.models import Environment, Membership, Service, ServiceInstance, Team
from costs.services import instance_cost_store
from deployments import names
from interop import adoption_claims as claims
from interop.adopters import MANAGED_TAG, Unmanaged, adopter_for, listers
from interop.models import AdoptedResource
from portal.aws import error_message

__all__ = [
    "MANAGED_TAG",
    "Adoption",
    "Unmanaged",
    "discover_unmanaged",
    "require_owner_member",
    "resource_adopt",
]


@dataclass(frozen=True)
class Adoption:
    """What one adoption made: the catalog instance, and the resource's own name as AWS shows
    it (the function or ECS service name, "api (stage prod)"), for the messages people read;
    the form names ECS services and APIs by ARN."""

    instance: ServiceInstance
    resource: str


def discover_unmanaged(*, environment: Environment, actor=None) -> list[Unmanaged]:
    """Every registered kind's resources without a `slipway:service` tag."""
    found: list[Unmanaged] = []
    for lister in listers().values():
        found += lister.discover(environment=environment, actor=actor)
    # A resource the catalog holds is managed even where its tags were lost.
    known = claims.known_arns([f.arn for f in found])
    return [f for f in found if f.arn not in known]


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
) -> Adoption:
    """Make one unmanaged resource a catalog service owned by `owner`.

    Steps: check the user is in the owner team; read the resource through its kind's adopter
    (refusing one in another account or region, or one Slipway already manages: tagged, or held
    by a catalog instance); create the service and its instance with the observed spec and
    resource identifiers, claiming the ARN (interop/adoption_claims.py), in one transaction; tag
    it like every Slipway resource (if that fails, the rows are taken back); audit, with the
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
    scope = {"kind": kind, "arn_service": adopter.arn_service, "environment": environment}
    if name.startswith("arn:"):  # checked before AWS is asked anything about it
        claims.check_scope(name, **scope)
    live = adopter.read(environment=environment, name=name, actor=user)
    identity = live.resources[adopter.identity_key]
    claims.check_scope(identity, **scope)
    holder = claims.catalog_holder(identity)
    if live.managed or holder:
        raise ValidationError(
            {"name": f"Slipway already manages {live.name} ({holder or 'tagged'})."}
        )
    # The catalog rows first, with the unique claim on the ARN, in one short transaction; then
    # the tags in AWS (outside any transaction). If tagging fails, the rows are taken back.
    instance, created = _record(
        environment=environment,
        adopter=adopter,
        live=live,
        owner=owner,
        slug=slug,
        user=user,
        description=description,
        join_existing=join_existing,
    )
    tags = names.tags(service_slug=slug, environment_slug=environment.slug, team_slug=owner.slug)
    try:
        request_ids = [*live.request_ids]
        request_ids += adopter.tag(environment=environment, live=live, tags=tags, actor=user)
    except Exception as exc:
        untag_error = _undo(
            instance,
            created=created,
            user=user,
            adopter=adopter,
            live=live,
            tags=tags,
            error=exc,
            source=source,
        )
        if untag_error:
            raise ValidationError(
                f"{live.name} was not adopted ({error_message(exc)}), and Slipway's tags could "
                f"not be taken off it again ({untag_error}): remove its slipway:* tags in AWS "
                "so that Discovery lists it again."
            ) from exc
        raise
    audit_record(
        actor=user,
        action="resource.adopt",
        target=instance,
        environment=environment,
        after={"resources": live.resources, "applied_spec": live.spec},
        aws_request_ids=request_ids,
        source=source,
    )
    # As after a deployment: the catalog sorts and the team sums by this (no AWS call).
    instance_cost_store(instance=instance, spec=instance.applied_spec)
    return Adoption(instance=instance, resource=live.name)


def _record(*, environment, adopter, live, owner, slug, user, description, join_existing):
    """(instance, whether its service was created): the rows and the claim, or a clear refusal
    when someone adopted the resource, took the slug or deployed the service meanwhile."""
    identity = live.resources[adopter.identity_key]
    try:
        with transaction.atomic():
            service = existing_service(
                slug=slug, kind=adopter.kind, owner=owner, environment=environment
            )
            created = service is None or not join_existing
            if created:
                service = catalog_services.service_create(
                    user=user,
                    owner=owner,
                    slug=slug,
                    kind=adopter.kind,
                    description=description or live.description,
                )
            instance = catalog_services.instance_get_or_create(
                service=service, environment=environment
            )
            updated = (
                ServiceInstance.objects.filter(pk=instance.pk, applied_spec__isnull=True)
                .exclude(status=ServiceInstance.Status.DEPLOYING)
                .update(
                    resources=live.resources,
                    applied_spec=live.spec,
                    status=ServiceInstance.Status.HEALTHY,
                    updated_at=timezone.now(),
                )
            )
            if not updated:
                raise ValidationError(
                    f"{slug} is being deployed to {environment.name} already; adopt it under "
                    "another name."
                )
            claims.claim(identity, instance)
    except catalog_services.SlugTaken as exc:
        raise ValidationError(
            f"A service named {slug} was added a moment ago; choose another name."
        ) from exc
    except IntegrityError as exc:
        holder = claims.catalog_holder(identity)
        raise ValidationError(
            f"{live.name} was adopted as {holder} a moment ago."
            if holder
            else f"A service named {slug} was added a moment ago; choose another name."
        ) from exc
    instance.refresh_from_db()
    return instance, created


def _undo(instance, *, created, user, adopter, live, tags, error, source) -> str:
    """Tagging failed: take the tags that were written off again and the rows back, so AWS and
    the catalog agree that the resource is unmanaged (Discovery lists it again). Returns why
    the tags could not be taken off ("" when they were)."""
    untag_error = ""
    try:
        adopter.untag(environment=instance.environment, live=live, keys=list(tags), actor=user)
    except (ClientError, BotoCoreError) as exc:
        untag_error = error_message(exc)
    with transaction.atomic():
        AdoptedResource.objects.filter(instance=instance).delete()
        ServiceInstance.objects.filter(pk=instance.pk).update(
            resources={}, applied_spec=None, status=ServiceInstance.Status.NOT_DEPLOYED
        )
        audit_record(
            actor=user,
            action="resource.adopt",
            target=instance,
            environment=instance.environment,
            after={"error": error_message(error)[:500], "untag_error": untag_error[:500]},
            result=AuditEvent.Result.FAILED,
            source=source,
        )
    if created:
        catalog_services.service_delete(service=instance.service, user=user)
    return untag_error


def existing_service(*, slug: str, kind: str, owner: Team, environment: Environment):
    """The catalog service an adoption may join: same slug, kind and owner, and nothing
    deployed or adopted in `environment` yet. None otherwise."""
    service = Service.objects.filter(slug=slug, kind=kind, owner=owner).first()
    if service is None:
        return None
    instances = ServiceInstance.objects.filter(service=service, environment=environment)
    return None if any(i.applied_spec for i in instances) else service
