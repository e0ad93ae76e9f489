"""The JSON API, version 1 (django-ninja): catalog read/write, deployments, scale.

Every operation needs a personal token and goes through the same permission helpers as the web
pages (catalog.access), and the same services. Every mutating call writes an audit row
(source "api") whatever its outcome; rows written inside the services carry source "api" too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI

from api.auth import TokenAuth
from audit.services import audit_record, audit_source

api = NinjaAPI(
    title="Slipway API",
    version="1",
    description=(
        "Read and change the service catalog, request deployments and scaling. "
        "Authenticate with `Authorization: Bearer <personal token>`."
    ),
    urls_namespace="api-v1",
    auth=TokenAuth(),
)


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


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(DjangoValidationError)
def _invalid(request, exc):
    errors = (
        {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        if hasattr(exc, "error_dict")
        else {"__all__": [str(m) for m in exc.messages]}
    )
    return api.create_response(request, {"detail": "Invalid input.", "errors": errors}, status=422)


@api.exception_handler(FormInvalid)
def _form_invalid(request, exc):
    return api.create_response(
        request, {"detail": "Invalid input.", "errors": exc.errors}, status=422
    )


@api.exception_handler(ApiRefusal)
def _refused(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=exc.status)


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


# Routers register their operations on import.
from api import catalog_api, deploy_api  # noqa: E402

api.add_router("", catalog_api.router)
api.add_router("", deploy_api.router)
