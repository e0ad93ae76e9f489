"""Writes to the catalog. Views, admin, API and commands call these; none writes rows itself."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from catalog.models import Environment, Membership, Service, ServiceInstance, Team


def team_create(*, slug: str, name: str, description: str = "") -> Team:
    team = Team(slug=slug, name=name, description=description)
    team.full_clean()
    team.save()
    return team


def membership_add(*, team: Team, user: AbstractBaseUser, role: str = "member") -> Membership:
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
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
    service = Service(
        slug=slug,
        name=name or slug,
        kind=kind,
        owner=owner,
        description=description,
        lifecycle=lifecycle,
        tags=tags or [],
    )
    service.full_clean()
    service.save()
    return service


def instance_get_or_create(*, service: Service, environment: Environment) -> ServiceInstance:
    instance, _ = ServiceInstance.objects.get_or_create(service=service, environment=environment)
    return instance
