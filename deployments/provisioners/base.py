"""What every provisioner shares: the change list (the plan), the run context, wait results.

A provisioner (one per resource kind) has the same shape:

- `observe(ctx) -> Observed`: what AWS says now;
- `plan(spec, observed) -> list[Change]`: pure; the diff shown to the user before apply;
- `apply(ctx, change)`: one idempotent AWS step ("ensure": describe, then create or update);
- `wait(ctx) -> WaitResult`: a non-blocking stability check, re-scheduled by the task;
- `plan_delete(observed) -> list[Change]`: the teardown, in reverse dependency order (apply()
  carries these out too; their keys end in ".delete");
- `wait_deleted(ctx) -> WaitResult`: done when AWS no longer has the resources.

Specs are plain JSON dicts with a "kind" key; the deploy form of the kind builds them.
Shared resources (an environment's IAM role, cluster or load balancer) are never deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """One planned AWS step, with the human-readable diff line shown before apply."""

    key: str  # what apply() dispatches on, e.g. "function.create"
    summary: str  # e.g. "Lambda memory 128 → 256 MB"
    details: tuple[str, ...] = ()  # field-level lines, e.g. ("memory 128 → 256 MB",)


@dataclass
class Observed:
    """What AWS holds for an instance right now (plain data, never a raw response).

    Values whose key ends in "_arn" name resources the instance owns: the engine records them
    on the instance (so a run interrupted after AWS created something adopts it).
    """

    exists: bool = False
    values: dict[str, Any] = field(default_factory=dict)


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
