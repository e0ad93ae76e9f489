"""AWS Copilot and AWS Proton apps in discovery: their resources grouped as app → services, and
adopted in one step.

Copilot tags what it deploys with `copilot-application`, `copilot-environment` and
`copilot-service`. Proton propagates its AWS managed tags to provisioned resources as customer
tags `proton:service`, `proton:environment` and `proton:service-instance` (ARNs; the
`aws:proton:*` keys are accepted too). Resources with either set form one group per
(app, app environment); every adoptable resource of a group is adopted with the group through
its kind's adopter (interop/adopters.py), so kinds registered later join in without changes here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from audit.services import audit_record
from catalog.models import Environment, Service, Team
from interop.adopters import Unmanaged
from interop.discovery import (
    discover_unmanaged,
    existing_service,
    require_owner_member,
    resource_adopt,
)

SOURCES = {"copilot": "AWS Copilot", "proton": "AWS Proton"}


@dataclass(frozen=True)
class Member:
    """One resource of an app, with the catalog slug it gets when adopted."""

    item: Unmanaged
    service: str  # the app's own name for it (Copilot service, Proton service instance)
    slug: str


@dataclass
class AppGroup:
    """The resources one Copilot or Proton app has in one of its environments."""

    source: str  # a SOURCES key
    app: str
    app_environment: str
    members: list[Member] = field(default_factory=list)

    @property
    def source_label(self) -> str:
        return SOURCES[self.source]

    @property
    def adoptable(self) -> list[Member]:
        return [m for m in self.members if m.item.adoptable]


def _last(arn_or_name: str) -> str:
    return arn_or_name.rstrip("/").rsplit("/", 1)[-1]


def _tag(tags, *keys: str) -> str:
    for key in keys:
        if tags.get(key):
            return tags[key]
    return ""


def app_of(item: Unmanaged) -> tuple[str, str, str, str] | None:
    """(source, app, app environment, service name) when the resource belongs to an app."""
    tags = item.tags
    app = _tag(tags, "copilot-application")
    if app:
        service = _tag(tags, "copilot-service") or item.title
        return "copilot", app, _tag(tags, "copilot-environment"), service
    proton = _tag(tags, "proton:service", "aws:proton:service")
    if proton:
        environment = _last(_tag(tags, "proton:environment", "aws:proton:environment"))
        # A Proton service is one microservice with an instance per environment: its resources
        # share its name (made unique within the group below when there are several).
        return "proton", _last(proton), environment, _last(proton)
    return None


def slug_for(name: str, prefix: str = "") -> str:
    """A catalog slug from an app's service name: lowercase, hyphens, 2–40 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{prefix}{name}".lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"s-{slug}"
    return slug[:40].rstrip("-")


def group_unmanaged(found: list[Unmanaged]) -> tuple[list[AppGroup], list[Unmanaged]]:
    """Copilot/Proton apps (sorted by source, app, environment) and the other resources."""
    groups: dict[tuple[str, str, str], AppGroup] = {}
    rest = []
    for item in found:
        belongs = app_of(item)
        if belongs is None:
            rest.append(item)
            continue
        source, app, app_environment, service = belongs
        group = groups.setdefault(
            (source, app, app_environment), AppGroup(source, app, app_environment)
        )
        group.members.append(Member(item=item, service=service, slug=slug_for(service)))
    return [_unique(groups[key]) for key in sorted(groups)], rest


def _unique(group: AppGroup) -> AppGroup:
    """Several resources under one service name are told apart by their own names."""
    names = [m.service for m in group.members]
    group.members = [
        m
        if names.count(m.service) == 1
        else Member(
            item=m.item,
            service=f"{m.service}-{m.item.title}",
            slug=slug_for(f"{m.service}-{m.item.title}"),
        )
        for m in group.members
    ]
    return group


def find_group(
    *, environment: Environment, source: str, app: str, app_environment: str, actor
) -> AppGroup | None:
    groups, _ = group_unmanaged(discover_unmanaged(environment=environment, actor=actor))
    for group in groups:
        if (group.source, group.app, group.app_environment) == (source, app, app_environment):
            return group
    return None


def app_adopt(
    *,
    environment: Environment,
    source: str,
    app: str,
    app_environment: str,
    owner: Team,
    user: AbstractBaseUser,
    prefix: str = "",
    origin: str | None = None,
) -> list:
    """Adopt every adoptable resource of one app environment into `environment`, owned by
    `owner`; returns the new instances.

    Steps: check the user is in the owner team; find the app's resources in `environment`'s
    account; check every slug is free (or a service of the same app adopted in another
    environment, which then gets this environment's instance) before adopting anything; adopt
    each through `resource_adopt` (tagged, recorded and audited one by one); audit the app.
    """
    target = (f"{source}.app", f"{app}/{app_environment}", app)
    require_owner_member(
        user=user,
        owner=owner,
        action="app.adopt",
        target=target,
        environment=environment,
        source=origin,
    )
    group = find_group(
        environment=environment,
        source=source,
        app=app,
        app_environment=app_environment,
        actor=user,
    )
    if group is None or not group.adoptable:
        raise ValidationError(
            f"{environment.name} has no unmanaged resources of {SOURCES.get(source, source)} "
            f"app {app} ({app_environment or 'no environment'}) that Slipway can adopt."
        )
    members = [
        Member(item=m.item, service=m.service, slug=slug_for(m.service, prefix))
        for m in group.adoptable
    ]
    _check_slugs(members, owner=owner, environment=environment)
    instances = []
    for member in members:
        try:
            instances.append(
                resource_adopt(
                    environment=environment,
                    kind=member.item.kind,
                    name=member.item.name,
                    owner=owner,
                    slug=member.slug,
                    user=user,
                    description=f"{SOURCES[source]} app {app}, service {member.service}",
                    source=origin,
                    join_existing=True,
                ).instance
            )
        except (ValidationError, ClientError, BotoCoreError) as exc:
            # What was adopted stays adopted (each is whole: tagged, recorded, audited); say
            # so, and what stopped, so the rest can be adopted again from Discovery.
            if not instances:
                raise
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            done = ", ".join(i.service.slug for i in instances)
            raise ValidationError(
                f"Adopted {done}; {member.slug} was not adopted: {reason} "
                "Adopt the rest again from Discovery."
            ) from exc
    audit_record(
        actor=user,
        action="app.adopt",
        target=target,
        environment=environment,
        after={"services": [m.slug for m in members], "owner": owner.slug},
        source=origin,
    )
    return instances


def _check_slugs(members: list[Member], *, owner: Team, environment: Environment) -> None:
    slugs = [m.slug for m in members]
    repeated = sorted({s for s in slugs if slugs.count(s) > 1})
    if repeated:
        raise ValidationError(f"Two of the app's resources would both be named {repeated[0]}.")
    taken = [
        m.slug
        for m in members
        if Service.objects.filter(slug=m.slug).exists()
        and existing_service(slug=m.slug, kind=m.item.kind, owner=owner, environment=environment)
        is None
    ]
    if taken:
        raise ValidationError(
            f"The catalog already has {', '.join(taken)}; give a name prefix for this app."
        )
