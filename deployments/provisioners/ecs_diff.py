"""The ECS plan's words: what each change does, field by field, as the plan page shows it.

`ecs.plan` decides which changes there are; these helpers say what changes in each (names
only for environment variables and secrets: their values never reach a diff or a log).
"""

from __future__ import annotations

from deployments.provisioners.base import Change, field_diff

# Task definition spec fields → (label in the diff, unit).
TASK_FIELDS = {
    "image": ("image", ""),
    "cpu": ("cpu", ""),
    "memory": ("memory", "MiB"),
    "container_port": ("container port", ""),
    "environment": ("environment variables", ""),
    "secrets": ("secrets", ""),
    "health_check_path": ("health check path", ""),
    "task_role": ("own task role", ""),
}
METRIC_LABELS = {"cpu": "CPU", "memory": "memory", "requests": "ALB requests per target"}


def _show(key: str, value):
    if key in ("environment", "secrets"):
        # Keys only: values may be sensitive and never belong in a diff or a log.
        return ", ".join(sorted(value or {})) or "(none)"
    if key == "health_check_path":
        return value or "(none)"
    return value


def _pairs_diff(label: str, before: dict, after: dict) -> str:
    """'environment variables: added NEW; changed LOG_LEVEL' — names only, never values."""
    parts = []
    for verb, keys in (
        ("added", sorted(set(after) - set(before))),
        ("removed", sorted(set(before) - set(after))),
        ("changed", sorted(k for k in set(before) & set(after) if before[k] != after[k])),
    ):
        if keys:
            parts.append(f"{verb} {', '.join(keys)}")
    return f"{label}: {'; '.join(parts)}"


def task_details(want: dict, have: dict | None) -> tuple[str, ...]:
    details = []
    for key, (label, unit) in TASK_FIELDS.items():
        if have is not None and want[key] == have.get(key):
            continue
        label = f"task definition {label}"
        if have is not None and key in ("environment", "secrets"):
            details.append(_pairs_diff(label, have.get(key) or {}, want[key]))
        else:
            before = None if have is None else _show(key, have.get(key))
            details.append(field_diff(label, before, _show(key, want[key]), unit))
    return tuple(details)


def rule_text(rule: dict | None) -> str:
    if not rule:
        return "(none)"
    return f"path {rule['path']}" if rule.get("path") else f"host {rule['host']}"


def want_rule(spec: dict) -> dict | None:
    lb = spec.get("load_balancer") or None
    if not lb:
        return None
    return {"path": lb["path"]} if lb.get("path") else {"host": lb["host"]}


def service_details(spec, values, want_task, have_task) -> tuple[str, ...]:
    details = []
    if have_task != want_task:
        details.append("new task definition revision")
    if values.get("desired_count") != spec["desired_count"]:
        details.append(
            field_diff("desired count", values.get("desired_count"), spec["desired_count"])
        )
    breaker = values.get("circuit_breaker")
    # None: the endpoint did not report deploymentConfiguration (the emulator drops it on
    # create). Re-sending it on every run would never converge, so only a reported breaker that
    # is off is corrected; every create and update sends it anyway.
    if breaker is not None and breaker != {"enable": True, "rollback": True}:
        details.append("deployment circuit breaker with rollback: off → on")
    network = values.get("network")
    if network is not None and network != values.get("environment_network"):
        details.append("network: the environment's subnets or security groups changed")
    have_lb = values.get("service_target_group_arn")
    if bool(have_lb) != bool(want_rule(spec)) or (
        have_lb and values.get("service_container_port") != want_task["container_port"]
    ):
        details.append("load balancer attachment changes")
    return tuple(details)


def scaling_changes(spec: dict, values: dict) -> list[Change]:
    want = spec.get("autoscaling") or None
    have = values.get("scaling")
    if not want:
        if have:
            return [Change("scaling.delete", "Remove auto-scaling")]
        return []
    want = {k: want[k] for k in ("min", "max", "metric", "target")}
    if have == want:
        return []
    labels = {
        "min": "minimum tasks",
        "max": "maximum tasks",
        "metric": "scale on",
        "target": "target",
    }
    details = tuple(
        field_diff(
            labels[key],
            None if not have else _show_metric(key, have.get(key)),
            _show_metric(key, want[key]),
            "%" if key == "target" and want["metric"] != "requests" else "",
        )
        for key in ("min", "max", "metric", "target")
        if not have or have.get(key) != want[key]
    )
    return [Change("scaling.ensure", "Set auto-scaling", details)]


def _show_metric(key: str, value):
    return METRIC_LABELS.get(value, value) if key == "metric" else value
