"""Request-level guards against hostile input, before any view runs.

- The query string of any page: a control character (NUL first of all) is refused with 400 on
  pages and 422 on the API, since search boxes and filters go straight into database lookups.
  Form fields in POST bodies are checked by the forms themselves (portal/forms.py), so the error
  lands next to the field.
- API request bodies: JSON is parsed with size and depth limits (400 beyond them), and a string
  anywhere in it holding a control character is refused with 422, naming where it is.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from portal import aws
from portal.untrusted import (
    UntrustedInputError,
    control_character_message,
    first_control_character,
    loads_json_limited,
)

API_PREFIX = "/api/"
MAX_API_JSON_DEPTH = 32


def _query_refusal(request) -> tuple[str, str] | None:
    for key, values in request.GET.lists():
        for text in (key, *values):
            message = control_character_message(text)
            if message:
                return key, message
    return None


def _invalid(where: str, message: str) -> JsonResponse:
    return JsonResponse({"detail": "Invalid input.", "errors": {where: [message]}}, status=422)


def _api_body_refusal(request) -> HttpResponse | None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or not request.body:
        return None
    if "json" not in request.content_type:
        return None
    try:
        data = loads_json_limited(
            request.body,
            max_depth=MAX_API_JSON_DEPTH,
            max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        )
    except UntrustedInputError as exc:
        return JsonResponse({"detail": f"Cannot parse request body: {exc}"}, status=400)
    found = first_control_character(data)
    return _invalid(*found) if found else None


class UntrustedInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        is_api = request.path.startswith(API_PREFIX)
        found = _query_refusal(request)
        if found:
            if is_api:
                return _invalid(*found)
            return HttpResponse(
                f"The address holds a character Slipway refuses in {found[0]!r}. {found[1]}",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        if is_api:
            refusal = _api_body_refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)


class InteractiveAwsMiddleware:
    """AWS calls made while answering a request use the web budget (portal.aws.interactive):
    short timeouts, at most one retry. Celery tasks and commands keep the patient defaults."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with aws.interactive():
            return self.get_response(request)
