"""Scaling guardrails, held as data on each Environment (admin-editable) and checked here.

Rules, applied to every number a kind reports through its provisioner's `scale_values(spec)`:
1. no single step cuts a value by more than `max_scale_down_percent` of its current value;
2. no value drops to zero where the environment does not allow scaling to zero;
3. caps: task counts ≤ `max_task_count`, concurrency ≤ `max_lambda_concurrency`, API rate ≤
   `max_api_rate_limit`.
"""

from __future__ import annotations

from catalog.models import Environment

CAPS = {
    "desired_count": "max_task_count",
    "min_count": "max_task_count",
    "max_count": "max_task_count",
    "reserved_concurrency": "max_lambda_concurrency",
    "provisioned_concurrency": "max_lambda_concurrency",
    "rate_limit": "max_api_rate_limit",
}
LABELS = {
    "desired_count": "desired count",
    "min_count": "minimum tasks",
    "max_count": "maximum tasks",
    "reserved_concurrency": "reserved concurrency",
    "provisioned_concurrency": "provisioned concurrency",
    "rate_limit": "rate limit",
    "burst_limit": "burst limit",
}


class GuardrailViolation(Exception):
    """The change breaks one of the environment's guardrails; the message says which."""


def _values(kind: str, spec: dict | None) -> dict[str, int]:
    from deployments import kinds

    if not spec:
        return {}
    values = kinds.get(kind).provisioner.scale_values(spec)
    return {k: v for k, v in values.items() if v is not None}


def check(
    *,
    environment: Environment,
    kind: str,
    before: dict | None,
    after: dict,
    restoring: dict | None = None,
) -> None:
    """Raise GuardrailViolation naming every broken rule (all of them, not just the first).

    `restoring` is a spec whose numbers were live before (a timed scale-up going back): a value
    returning exactly to its number there is not held to the step rule; caps and the zero rule
    still hold.
    """
    old, new = _values(kind, before), _values(kind, after)
    earlier = _values(kind, restoring) if restoring else {}
    problems = []
    for key, value in new.items():
        label = LABELS.get(key, key)
        cap_field = CAPS.get(key)
        cap = getattr(environment, cap_field) if cap_field else None
        if cap is not None and value > cap:
            problems.append(f"{label} {value} is above the {environment.name} cap of {cap}.")
        previous = old.get(key)
        if value == 0 and previous:
            # Scaling to zero is its own rule: allowed outright, or forbidden outright.
            if not environment.allow_scale_to_zero:
                problems.append(f"{environment.name} does not allow scaling {label} to zero.")
        elif previous and value < previous and earlier.get(key) != value:
            cut = 100 * (previous - value) / previous
            if cut > environment.max_scale_down_percent:
                floor = previous - previous * environment.max_scale_down_percent // 100
                problems.append(
                    f"{label} {previous} → {value} cuts {cut:.0f} %; {environment.name} allows at "
                    f"most {environment.max_scale_down_percent} % per step (go to {floor} first)."
                )
    if problems:
        raise GuardrailViolation(" ".join(problems))
