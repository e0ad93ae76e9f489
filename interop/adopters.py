"""The adopter protocol: what each resource kind tells discovery and adoption.

One adopter per kind lists the unmanaged resources of that kind in an environment and reads one
of them into what adoption needs (the applied spec in the provisioner's own shape, the resource
identifiers the provisioner uses instead of its conventional names). Tagging, the catalog rows
and the audit are the same for every kind and live in `interop/discovery.py`.

A kind plugs in with one line in `_registry` (below). Kinds that are only listed implement
`discover` alone (the `Lister` protocol) and set `adoptable = False`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from portal.aws import aws_client

if TYPE_CHECKING:
    from catalog.models import Environment

MANAGED_TAG = "slipway:service"


@dataclass(frozen=True)
class Unmanaged:
    """One resource found in AWS with no Slipway tag."""

    kind: str  # Service.Kind value, and the key of its adopter in ADOPTERS
    name: str  # what the adopter's `read` takes to find it again (a name or an ARN)
    arn: str
    detail: str  # e.g. "python3.12, 128 MB"
    adoptable: bool
    label: str = ""  # shown instead of `name` when set (e.g. the bare ECS service name)
    tags: Mapping[str, str] = field(default_factory=dict)  # its AWS tags (Copilot grouping)

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass
class Live:
    """One unmanaged resource as read from AWS, ready to be adopted."""

    name: str  # shown in messages
    spec: dict  # the instance's applied spec, in the kind's provisioner shape
    resources: dict  # the instance's resources: the identifiers the provisioner uses
    description: str
    managed: bool  # it already carries `slipway:service`
    request_ids: list[str] = field(default_factory=list)
    # Whatever the adopter needs to tag and untag it again (ARNs of every part).
    tag_targets: dict[str, list[str]] = field(default_factory=dict)


class Lister(Protocol):
    """Discovery for one resource kind."""

    kind: str
    adoptable: bool  # False: listed only (it has no read/tag/untag)

    def discover(self, *, environment: Environment, actor) -> list[Unmanaged]:
        """Every resource of this kind without a `slipway:service` tag."""
        ...


@runtime_checkable
class Adopter(Lister, Protocol):
    """Discovery and adoption for one resource kind."""

    # The key of `Live.resources` holding the resource's ARN, the same key Slipway's own
    # provisioner records for the resources it creates (one catalog instance per ARN), and the
    # AWS service that ARN names.
    identity_key: str
    arn_service: str

    def read(self, *, environment: Environment, name: str, actor) -> Live:
        """The live configuration of one resource (found by `Unmanaged.name`)."""
        ...

    def tag(self, *, environment: Environment, live: Live, tags: dict[str, str], actor) -> list:
        """Put Slipway's tags on every part of the resource; returns the AWS request ids."""
        ...

    def untag(self, *, environment: Environment, live: Live, keys: list[str], actor) -> None:
        """Take the tags off again (adoption failed after tagging)."""
        ...


def actor_name(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else "slipway"


def client(service: str, environment: Environment, actor):
    """An AWS client for the environment, acting as the signed-in user."""
    return aws_client(service, environment=environment, actor=actor_name(actor))


def _registry() -> dict[str, Lister]:
    # Imported here: the adopter modules import this one for the protocol and helpers.
    from interop import adopt_apigateway, adopt_ecs, adopt_lambda

    return {
        "lambda": adopt_lambda.ADOPTER,
        "ecs": adopt_ecs.ADOPTER,
        "apigateway": adopt_apigateway.ADOPTER,
    }


ADOPTERS: dict[str, Lister] = {}


def listers() -> dict[str, Lister]:
    """Kind → its lister or adopter, built on first use."""
    if not ADOPTERS:
        ADOPTERS.update(_registry())
    return ADOPTERS


def adopter_for(kind: str) -> Adopter | None:
    """The adopter of a kind, or None when the kind is unknown or only listed."""
    found = listers().get(kind)
    return found if found is not None and found.adoptable and isinstance(found, Adopter) else None
