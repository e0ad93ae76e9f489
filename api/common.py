"""What the API's routers share: refusals, form errors and the audited-mutation wrapper.

Kept apart from the router assembly in `api.v1`, which imports the routers: the routers import
from here, so no module imports the one that imports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404

from audit.services import audit_record, audit_source


class ApiRefusal(Exception):
    """A request Slipway refuses (conflict, nothing to change), with a status code."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class FormInvalid(Exception):
    """Input failed the kind's form validation; errors are keyed by field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("Invalid input.")
        self.errors = errors


@contextlib.contextmanager
def audited(request, *, action: str, target, environment=None, before=None) -> Iterator[dict]:
    """Run one API mutation and write its audit row: ok, denied or failed.

    The body fills `outcome["target"]`/`outcome["after"]` when it has made something.
    """
    outcome: dict = {"target": target, "after": None}
    result = "ok"
    try:
        with audit_source("api"):
            yield outcome
    except PermissionDenied:
        result = "denied"
        raise
    except (ApiRefusal, FormInvalid, DjangoValidationError, Http404):
        result = "failed"
        raise
    except Exception:
        result = "failed"
        raise
    finally:
        audit_record(
            actor=request.user,
            action=f"api.{action}",
            target=outcome["target"],
            environment=environment,
            before=before,
            after=outcome["after"],
            result=result,
            source="api",
        )


def form_errors(form) -> dict[str, list[str]]:
    return {field: [str(e) for e in errs] for field, errs in form.errors.items()}


def error_key(loc) -> str:
    """A dotted field path for an error location ("spec.memory_size"), without the request
    part ("body", the parameter's name) or the kind a discriminated union adds."""
    parts = list(loc)
    if parts[:1] == ["body"]:
        parts = parts[2:]
    elif parts[:1] in (["query"], ["path"]):
        parts = parts[1:]
    from deployments.specs import SPECS

    cleaned = [
        p for i, p in enumerate(parts) if not (i > 0 and parts[i - 1] == "spec" and p in SPECS)
    ]
    return ".".join(str(p) for p in cleaned) or "__all__"


def validation_errors(errors: list[dict], *, prefix: tuple = ()) -> dict[str, list[str]]:
    """{field path: [messages]} for pydantic error dicts, worded as the web forms word them."""
    from deployments.specs import spec_errors

    out: dict[str, list[str]] = {}
    for loc, message in spec_errors(errors):
        out.setdefault(error_key(prefix + loc), []).append(message)
    return out
