"""The Step Functions state machine spec: its type and its definition (Amazon States Language).

Stored shape: kind, type ("STANDARD" | "EXPRESS"), definition (the ASL document as a JSON
object). A Task state may name a Slipway Lambda service instead of an ARN, as
`"Resource": "slipway:lambda:<service>"` (or as `Parameters.FunctionName` of the optimised
`arn:aws:states:::lambda:invoke` integration); the provisioner resolves it to that service's
`live` alias in the environment being deployed, and the execution role may invoke exactly the
functions the definition names.

The definition is checked before any plan: a malformed document, an unknown state type, a
`Next` or `StartAt` naming no state, a state that neither ends nor continues, are errors next to
the field, with the state's path.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from deployments.specs.base import Spec, invalid

STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
TERMINAL = {"Succeed", "Fail"}
LAMBDA_NAME_RE = re.compile(r"^slipway:lambda:([a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)$")
STATE_NAME_MAX = 80  # AWS's limit for state names
MAX_STATES = 500
MAX_DEFINITION_BYTES = 1024 * 1024  # AWS's limit for a definition
MAX_DEPTH = 40  # nesting of JSON objects; deeper definitions are refused before parsing


def lambda_references(definition: dict) -> list[str]:
    """The Slipway Lambda services a definition names (in order of appearance, once each)."""
    found: list[str] = []

    def visit(states: dict) -> None:
        for state in states.values():
            if not isinstance(state, dict):
                continue
            for value in _resource_values(state):
                match = LAMBDA_NAME_RE.match(value)
                if match and match.group(1) not in found:
                    found.append(match.group(1))
            for branch in _branches(state):
                visit(branch.get("States") or {})

    visit(definition.get("States") or {})
    return found


def _resource_values(state: dict) -> list[str]:
    values = []
    if isinstance(state.get("Resource"), str):
        values.append(state["Resource"])
    params = state.get("Parameters") or state.get("Arguments")
    if isinstance(params, dict) and isinstance(params.get("FunctionName"), str):
        values.append(params["FunctionName"])
    return values


def _branches(state: dict) -> list[dict]:
    branches = [b for b in state.get("Branches") or [] if isinstance(b, dict)]
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            branches.append(state[key])
    return branches


def resolve(definition: dict, arns: dict[str, str]) -> dict:
    """The definition with every `slipway:lambda:<service>` replaced by `arns[service]`."""

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            match = LAMBDA_NAME_RE.match(value)
            return arns.get(match.group(1), value) if match else value
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return swap(definition)


def check_machine(machine: Any, path: str = "") -> None:
    """Raise `invalid` with the first problem of an ASL state machine (or branch) found."""
    where = f"{path}: " if path else ""
    if not isinstance(machine, dict):
        raise invalid(f"{where}a state machine is a JSON object with StartAt and States.")
    states = machine.get("States")
    if not isinstance(states, dict) or not states:
        raise invalid(f"{where}States must be an object naming at least one state.")
    if len(states) > MAX_STATES:
        raise invalid(f"{where}at most {MAX_STATES} states.")
    start = machine.get("StartAt")
    if not isinstance(start, str) or start not in states:
        raise invalid(
            f"{where}StartAt must name one of the states ({', '.join(list(states)[:5])})."
        )
    for name, state in states.items():
        here = f"{path}States.{name}" if path else f"States.{name}"
        _check_state(name, state, states, here)


def _check_state(name: str, state: Any, states: dict, here: str) -> None:
    if len(name) > STATE_NAME_MAX:
        raise invalid(f"{here}: state names have at most {STATE_NAME_MAX} characters.")
    if not isinstance(state, dict):
        raise invalid(f"{here}: a state is a JSON object with a Type.")
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        raise invalid(
            f"{here}: unknown state type {kind!r}; use one of {', '.join(sorted(STATE_TYPES))}."
        )
    following = state.get("Next")
    if following is not None and (not isinstance(following, str) or following not in states):
        raise invalid(f"{here}: Next names no state called {following!r}.")
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise invalid(f"{here}: a Choice state needs a non-empty Choices list.")
        for i, choice in enumerate(choices):
            target = choice.get("Next") if isinstance(choice, dict) else None
            if target not in states:
                raise invalid(f"{here}.Choices[{i}]: Next names no state called {target!r}.")
        default = state.get("Default")
        if default is not None and default not in states:
            raise invalid(f"{here}: Default names no state called {default!r}.")
    elif kind not in TERMINAL and not state.get("End") and following is None:
        raise invalid(f'{here}: a {kind} state needs Next or "End": true.')
    if kind == "Task":
        values = _resource_values(state)
        if not isinstance(state.get("Resource"), str) or not state["Resource"]:
            raise invalid(
                f"{here}: a Task state needs a Resource (an ARN or slipway:lambda:<service>)."
            )
        for value in values:
            if value.startswith("slipway:") and not LAMBDA_NAME_RE.match(value):
                raise invalid(
                    f"{here}: write a Slipway Lambda service as slipway:lambda:<service>."
                )
    for i, branch in enumerate(state.get("Branches") or []):
        check_machine(branch, f"{here}.Branches[{i}].")
    for key in ("ItemProcessor", "Iterator"):
        if key in state:
            check_machine(state[key], f"{here}.{key}.")


def _depth(value: Any) -> int:
    """Nesting depth of lists and objects, measured without recursion (input may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class StepFunctionsSpec(Spec):
    """A state machine owned by one service in one environment."""

    kind: Literal["stepfunctions"] = "stepfunctions"
    type: Literal["STANDARD", "EXPRESS"] = Field(
        "STANDARD", description="STANDARD (durable, up to a year) or EXPRESS (up to 5 minutes)"
    )
    definition: dict = Field(
        description="The Amazon States Language document; Task Resources may be "
        "slipway:lambda:<service>"
    )

    @field_validator("definition")
    @classmethod
    def _definition(cls, value: dict) -> dict:
        if _depth(value) > MAX_DEPTH:
            raise invalid(f"The definition is nested deeper than {MAX_DEPTH} levels.")
        size = len(json.dumps(value))
        if size > MAX_DEFINITION_BYTES:
            raise invalid("The definition is larger than AWS's 1 MB limit.")
        check_machine(value)
        return value

    def lambda_services(self) -> list[str]:
        return lambda_references(self.definition)
