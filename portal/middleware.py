"""Request-level guards against hostile input, before any view runs.

- The query string of any page: a control character (NUL first of all) is refused with 400 on
  pages and 422 on the API, since search boxes and filters go straight into database lookups.
  Form fields in POST bodies are checked by the forms themselves (portal/forms.py), so the error
  lands next to the field.
- API request bodies: JSON is parsed with size and depth limits (400 beyond them), and a string
  anywhere in it holding a control character is refused with 422, naming where it is.
"""

from __future__ import annotations

from typing import ClassVar

import csp.constants
import csp.middleware
import csp.utils
import django.contrib.auth.middleware
import django.contrib.messages.middleware
import django.contrib.sessions.middleware
import django_htmx.middleware
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
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


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, with the policy texts built once instead of on every response
    (copying the settings' directives and joining them cost ~0.05 ms a request, a tenth of a
    cheap API call's middleware). Slipway sets no nonce and no per-view policy; a request or
    response that has one is answered by django-csp itself."""

    _PER_RESPONSE = (
        "_csp_config",
        "_csp_update",
        "_csp_replace",
        "_csp_config_ro",
        "_csp_update_ro",
        "_csp_replace_ro",
    )
    _built: ClassVar[dict[bool, str]] = {}

    def process_response(self, request, response):
        own_policy = any(getattr(response, name, None) is not None for name in self._PER_RESPONSE)
        if own_policy or getattr(request, "_csp_nonce", None) is not None:
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # django-csp leaves Django's debug pages alone
        for report_only, header, setting in (
            (False, csp.constants.HEADER, "CONTENT_SECURITY_POLICY"),
            (True, csp.constants.HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            policy = self._built.get(report_only)
            if policy is None:
                policy = self._built[report_only] = csp.utils.build_policy(report_only=report_only)
            exempt = getattr(response, "_csp_exempt_ro" if report_only else "_csp_exempt", False)
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if (
                policy
                and header not in response
                and exempt is False
                and not request.path_info.startswith(tuple(prefixes))
            ):
                response[header] = policy
        # As django-csp: asking for a nonce once the header is written is an error.
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


@receiver(setting_changed)
def _csp_settings_changed(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        CSPMiddleware._built.clear()


# --- page-only middleware: API calls skip it -----------------------------------------------------
# The JSON API authenticates every call with a bearer token (api/auth.py), is CSRF-exempt, never
# redirects to the sign-in page (its views are @login_not_required) and uses neither sessions
# nor messages nor htmx. These middleware do nothing for it but cost ~0.45 ms of CPU a call (a
# sixth of a cached `GET /api/v1/services`), so each is the library's own, passed by (its hooks
# too) for paths under API_PREFIX. They stay subclasses of the originals, so Django's and the
# admin's system checks still find them. CSRF stays Django's own class, named in MIDDLEWARE:
# `check --deploy` (security.W003) looks for that exact path.
def _pages_only(base: type) -> type:
    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return base.__call__(self, request)

    attrs = {"__call__": __call__, "__module__": __name__, "__doc__": base.__doc__}
    for hook in ("process_view", "process_exception", "process_template_response"):
        if hasattr(base, hook):
            attrs[hook] = _skip_for_api(getattr(base, hook))
    return type(base.__name__, (base,), attrs)


def _skip_for_api(hook):
    def skipping(self, request, *args, **kwargs):
        if request.path_info.startswith(API_PREFIX):
            return args[0] if hook.__name__ == "process_template_response" else None
        return hook(self, request, *args, **kwargs)

    return skipping


SessionMiddleware = _pages_only(django.contrib.sessions.middleware.SessionMiddleware)
AuthenticationMiddleware = _pages_only(django.contrib.auth.middleware.AuthenticationMiddleware)
LoginRequiredMiddleware = _pages_only(django.contrib.auth.middleware.LoginRequiredMiddleware)
MessageMiddleware = _pages_only(django.contrib.messages.middleware.MessageMiddleware)
HtmxMiddleware = _pages_only(django_htmx.middleware.HtmxMiddleware)
