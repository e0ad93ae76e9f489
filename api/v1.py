"""The JSON API, version 1 (django-ninja): catalog read/write, deployments, scale.

Every operation needs a personal token and goes through the same permission helpers as the web
pages (catalog.access), and the same services. Every mutating call writes an audit row
(source "api") whatever its outcome; rows written inside the services carry source "api" too.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError

from api.auth import RateLimited, TokenAuth
from api.common import ApiRefusal, FormInvalid, validation_errors

RATE_LIMITED = "Too many requests from this address or with this token (see Retry-After)."


class SlipwayAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """The generated schema, plus the answer every operation may give: 429 (api/auth.py)."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        retry_after = {
            "Retry-After": {
                "description": "Seconds to wait before the next request.",
                "schema": {"type": "integer"},
            }
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault(
                    "429",
                    {"description": RATE_LIMITED, "headers": retry_after, "content": error},
                )
        return schema


api = SlipwayAPI(
    title="Slipway API",
    version="1",
    description=(
        "Read and change the service catalog, request deployments and scaling. "
        "Authenticate with `Authorization: Bearer <personal token>`."
    ),
    urls_namespace="api-v1",
    auth=TokenAuth(),
)


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


@api.exception_handler(RateLimited)
def _rate_limited(request, exc):
    response = api.create_response(request, {"detail": str(exc)}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(NinjaValidationError)
def _request_invalid(request, exc):
    """A body, query or path that does not fit its typed schema: the same 422 shape and the
    same message text as every other refusal (and as the web form)."""
    return api.create_response(
        request, {"detail": "Invalid input.", "errors": validation_errors(exc.errors)}, status=422
    )


@api.exception_handler(ApiRefusal)
def _refused(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=exc.status)


# Routers register their operations on import; their shared helpers live in api.common, so
# nothing imports this module but the URLconf (no import cycle).
from api import catalog_api, deploy_api  # noqa: E402

api.add_router("", catalog_api.router)
api.add_router("", deploy_api.router)
