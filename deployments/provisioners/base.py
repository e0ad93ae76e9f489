"""What every provisioner shares: the protocol, the change list (the plan), the run context.

A provisioner (one object per resource kind, registered in `deployments.provisioners`)
implements `Provisioner`:

- `kind`: the Service.Kind value it provisions;
- `scale_values(spec) -> dict[str, int | None]`: the numbers the environment's guardrails check;
- `observe(ctx) -> Observed`: what AWS says now;
- `plan(spec, observed) -> list[Change]`: pure; the diff shown to the user before apply;
- `apply(ctx, change)`: one idempotent AWS step ("ensure": describe, then create or update);
- `wait(ctx) -> WaitResult`: a non-blocking stability check, re-scheduled by the task;
- `plan_delete(observed) -> list[Change]`: the teardown, in reverse dependency order (apply()
  carries these out too; their keys end in ".delete");
- `wait_deleted(ctx) -> WaitResult`: done when AWS no longer has the resources;
- `owned_resources(observed) -> list[OwnedResource]`: what the instance itself owns, the one
  list the engine records on the instance, the pages show and a delete tears down.

Specs are plain JSON dicts with a "kind" key; the deploy form of the kind builds them.
Shared resources (an environment's Lambda execution role, ECS cluster, load balancer, network,
topic) are never an instance's own: they are not in `owned_resources`, not shown as the
service's, and never deleted with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from typing_extensions import TypeIs

# What a kind's observation holds: a TypedDict of its own (sns.SnsValues, ...), or a plain
# dict[str, Any] for the kinds not typed yet (their modules are outside the typed core).
V = TypeVar("V", bound=Mapping[str, Any])

# The resources the engine recorded on an instance, role → ARN (ServiceInstance.resources):
# what the catalog pages hand to `owned_resources` instead of an observation.
Recorded = dict[str, str]


@dataclass(frozen=True)
class Change:
    """One planned AWS step, with the human-readable diff line shown before apply."""

    key: str  # what apply() dispatches on, e.g. "function.create"
    summary: str  # e.g. "Lambda memory 128 → 256 MB"
    details: tuple[str, ...] = ()  # field-level lines, e.g. ("memory 128 → 256 MB",)


@dataclass
class Observed(Generic[V]):
    """What AWS holds for an instance right now (plain data, never a raw response).

    `values` is the kind's own description of what it found, of the kind's own type `V`; which
    of it the instance owns is the provisioner's `owned_resources(observed)`, which the engine
    records on the instance (so a run interrupted after AWS created something adopts it).
    """

    exists: bool
    values: V


def is_recorded(values: Mapping[str, Any]) -> TypeIs[Recorded]:
    """Whether `values` are recorded resources (role → ARN), as the pages pass them to
    `owned_resources`, rather than an observation: every value is a string. For a kind whose
    observations always hold a non-string value (sns: its topics) and whose roles are not
    its observation's keys; the others read both alike (`owned_from`)."""
    return all(isinstance(value, str) for value in values.values())


@dataclass(frozen=True)
class OwnedResource:
    """One AWS resource that belongs to an instance alone (created for it, deleted with it)."""

    role: str  # its key in ServiceInstance.resources, e.g. "function_arn"
    arn: str
    label: str  # what a person calls it, e.g. "Lambda function"


@dataclass(frozen=True)
class WaitResult:
    """Outcome of one stability check."""

    done: bool
    error: str = ""  # set when AWS reports the change failed
    detail: str = ""  # e.g. "State Pending"


@dataclass
class Context:
    """Everything a provisioner needs for one run: where, for whom, and how to record ARNs."""

    instance: Any  # catalog.models.ServiceInstance
    spec: dict
    actor: str
    record_resource: Callable[[str, str], None]
    artifact_loader: Callable[[str], bytes]
    # What this run observed (the engine sets it before the first apply). Apply steps read
    # it instead of describing again, and note what they create in its values, so a run never
    # re-reads what it has just read or written. None when applying without an observation.
    observed: Observed[Any] | None = None
    # The roles of the resources this run created itself (never those it adopted or found), in
    # the order it created them: what a step refused midway takes back (see `forget_resource`).
    created_roles: list[str] = field(default_factory=list)
    # Takes a role out of the recorded resources (after the run deleted what it had created).
    forget_resource: Callable[[str], None] = lambda role: None

    @classmethod
    def read_only(cls, *, instance, spec: dict, actor: str) -> Context:
        """A context for observing and planning only (previews, drift checks): it records
        nothing and loads no packages, because nothing is applied with it."""
        return cls(
            instance=instance,
            spec=spec,
            actor=actor,
            record_resource=lambda role, arn: None,
            artifact_loader=lambda sha: b"",
        )

    def seen(self, key: str, default: Any = None) -> Any:
        """A value this run observed (or recorded since); `default` when it has not."""
        if self.observed is None:
            return default
        return self.observed.values.get(key, default)

    def remember(self, key: str, value: Any) -> None:
        """Note what a step just learned or wrote, for the steps after it in this run."""
        if self.observed is not None:
            self.observed.values[key] = value

    @property
    def environment(self):
        return self.instance.environment

    @property
    def service(self):
        return self.instance.service

    @property
    def resources(self) -> dict:
        return self.instance.resources


def field_diff(label: str, before: Any, after: Any, unit: str = "") -> str:
    """'memory 128 → 256 MB' (or 'memory: 256 MB' for a new value)."""
    suffix = f" {unit}" if unit else ""
    if before is None:
        return f"{label}: {after}{suffix}"
    return f"{label} {before} → {after}{suffix}"


class KindFunctions(Protocol[V]):
    """A kind's provisioning functions: what a provisioner module defines at its top level
    (`ModuleProvisioner` puts them behind `Provisioner`); `V` is the type of its observations'
    values."""

    def scale_values(self, spec: dict) -> dict[str, int | None]:
        """The numbers the environment's guardrails check (None: not set)."""
        ...

    def observe(self, ctx: Context) -> Observed[V]:
        """Describe what AWS holds for the instance now (reads only)."""
        ...

    def plan(self, spec: dict, observed: Observed[V]) -> list[Change]:
        """The changes that take AWS from `observed` to `spec`; pure, empty when none."""
        ...

    def apply(self, ctx: Context, change: Change) -> str:
        """Carry out one idempotent change; returns a line for the step log."""
        ...

    def wait(self, ctx: Context) -> WaitResult:
        """One non-blocking stability check after apply."""
        ...

    def plan_delete(self, observed: Observed[V]) -> list[Change]:
        """The teardown of everything the instance owns, in reverse dependency order."""
        ...

    def wait_deleted(self, ctx: Context) -> WaitResult:
        """Done when AWS no longer has the instance's own resources."""
        ...

    def owned_resources(self, observed: Observed[V] | Observed[Recorded]) -> list[OwnedResource]:
        """The instance's own resources in `observed` (never the environment's shared ones):
        an observation, or the resources recorded on the instance (the catalog pages)."""
        ...


@runtime_checkable
class Provisioner(KindFunctions[V], Protocol[V]):
    """What the engine, the services and the guardrails ask of a kind's provisioner."""

    kind: str


class ModuleProvisioner(Generic[V]):
    """A provisioner module's functions behind the `Provisioner` protocol, for `kind`: the one
    wrapper every kind is registered with (in `deployments.provisioners`). The functions are
    taken when it is made, as the module defines them then."""

    def __init__(self, kind: str, functions: KindFunctions[V]) -> None:
        self.kind = kind
        self.scale_values = functions.scale_values
        self.observe = functions.observe
        self.plan = functions.plan
        self.apply = functions.apply
        self.wait = functions.wait
        self.plan_delete = functions.plan_delete
        self.wait_deleted = functions.wait_deleted
        self.owned_resources = functions.owned_resources

    def __repr__(self) -> str:
        return f"<ModuleProvisioner {self.kind}>"


def owned_from(values: Mapping[str, Any], labels: dict[str, str]) -> list[OwnedResource]:
    """The owned resources among `values`, for the roles in `labels` (role → label), in order."""
    return [
        OwnedResource(role=role, arn=values[role], label=label)
        for role, label in labels.items()
        if isinstance(values.get(role), str) and values[role]
    ]
