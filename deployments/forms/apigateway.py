"""API Gateway deploy forms: create, update (routes, throttling, keys) and scale (throttling).

Routes are typed one per line, `GET /orders -> orders-svc`; every target must be a Lambda
function or ECS service already deployed in the API's environment, which the form checks
against the catalog so a mistake is shown next to the field, before anything is planned.
"""

from __future__ import annotations

import re

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from catalog.models import Environment, Service, ServiceInstance
from deployments.forms.common import NewServiceFields
from portal import forms as portal_forms

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
ROUTE_RE = re.compile(r"^(?P<method>[A-Za-z]+)\s+(?P<path>\S+)\s*(?:->|→)\s*(?P<target>\S+)$")
# A path segment: plain characters, a {variable}, or (last only) a greedy {variable+}.
SEGMENT_RE = re.compile(r"^(?:[A-Za-z0-9._~-]+|\{[A-Za-z0-9_]+\}|\{[A-Za-z0-9_]+\+\})$")
MAX_ROUTES = 50
TARGET_KINDS = {"lambda": "Lambda function", "ecs": "ECS service"}
API_TYPES = [("rest", "REST API (v1): API keys, usage plans"), ("http", "HTTP API (v2): cheaper")]
QUOTA_PERIODS = [("DAY", "per day"), ("WEEK", "per week"), ("MONTH", "per month")]


def parse_routes(text: str) -> list[dict]:
    """Parse `METHOD /path -> target` lines; raise ValidationError naming the first bad line."""
    routes, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = ROUTE_RE.match(line)
        if not match:
            raise forms.ValidationError(
                f"Line {number}: write METHOD /path -> service, e.g. GET /orders -> orders-svc."
            )
        method, path, target = match["method"].upper(), match["path"], match["target"]
        if method not in METHODS:
            raise forms.ValidationError(
                f"Line {number}: {method} is not an HTTP method ({', '.join(METHODS)})."
            )
        segments = path.split("/")[1:] if path != "/" else []
        if not path.startswith("/") or not all(SEGMENT_RE.match(s) for s in segments):
            raise forms.ValidationError(
                f"Line {number}: {path} is not a valid path; start with / and use letters, "
                "digits, . _ ~ - or {variables}."
            )
        if any(s.endswith("+}") for s in segments[:-1]):
            raise forms.ValidationError(f"Line {number}: a greedy {{name+}} must come last.")
        if (method, path) in seen:
            raise forms.ValidationError(f"Line {number}: {method} {path} is listed twice.")
        seen.add((method, path))
        routes.append({"method": method, "path": path, "target": target, "line": number})
    if not routes:
        raise forms.ValidationError("Add at least one route.")
    if len(routes) > MAX_ROUTES:
        raise forms.ValidationError(f"At most {MAX_ROUTES} routes per API.")
    return routes


def routes_text(routes: list[dict]) -> str:
    return "\n".join(f"{r['method']} {r['path']} -> {r['target']}" for r in routes)


def target_errors(routes: list[dict], environment: Environment) -> list[str]:
    """Why each route's target cannot be used in `environment` (empty: all fine)."""
    slugs = {r["target"] for r in routes}
    services = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
    instances = {
        i.service.slug: i
        for i in ServiceInstance.objects.filter(
            environment=environment, service__slug__in=slugs, applied_spec__isnull=False
        ).select_related("service")
    }
    errors = []
    for route in routes:
        slug, where = route["target"], f"Line {route['line']}"
        service = services.get(slug)
        if service is None:
            errors.append(f"{where}: there is no service called {slug} in the catalog.")
        elif service.kind not in TARGET_KINDS:
            errors.append(
                f"{where}: {slug} is a {service.get_kind_display()}; routes go to a Lambda "
                "function or an ECS service."
            )
        elif slug not in instances or instances[slug].status == ServiceInstance.Status.DELETED:
            errors.append(
                f"{where}: {slug} is not deployed in {environment.name}; deploy it first."
            )
        elif service.kind == "lambda" and not instances[slug].resources.get("function_arn"):
            errors.append(f"{where}: {slug} has no function in {environment.name} yet.")
        elif service.kind == "ecs" and not environment.alb_arn:
            errors.append(
                f"{where}: {environment.name} has no shared load balancer, so ECS services "
                "cannot be routed to there."
            )
    return errors


def _throttle_fields() -> dict:
    return {
        "throttle_rate": forms.IntegerField(
            label="Stage rate limit (requests/s)",
            initial=100,
            validators=[MinValueValidator(0), MaxValueValidator(10000)],
            help_text="Steady-state requests per second for the whole stage (0–10000).",
        ),
        "throttle_burst": forms.IntegerField(
            label="Stage burst limit",
            initial=50,
            validators=[MinValueValidator(0), MaxValueValidator(5000)],
            help_text="Requests allowed at once above the rate (0–5000).",
        ),
    }


class _SpecFields(portal_forms.Form):
    """Routes, throttling and API keys: shared by the create and update forms."""

    routes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "code"}),
        help_text="One route per line: METHOD /path -> service (a Lambda function or ECS "
        "service deployed in the same environment), e.g. GET /orders/{id} -> orders-svc.",
    )
    throttle_rate, throttle_burst = _throttle_fields().values()
    require_api_key = forms.BooleanField(
        required=False,
        label="Require an API key",
        help_text="REST APIs only: callers send x-api-key; Slipway creates one key and a usage "
        "plan with the quota and throttling below.",
    )
    quota_limit = forms.IntegerField(
        required=False, label="Quota (requests)", validators=[MinValueValidator(1)], initial=10000
    )
    quota_period = forms.ChoiceField(choices=QUOTA_PERIODS, initial="DAY", required=False)
    plan_rate = forms.IntegerField(
        required=False,
        label="Usage plan rate (requests/s)",
        initial=50,
        validators=[MinValueValidator(0), MaxValueValidator(10000)],
    )
    plan_burst = forms.IntegerField(
        required=False,
        label="Usage plan burst",
        initial=20,
        validators=[MinValueValidator(0), MaxValueValidator(5000)],
    )

    def clean_routes(self):
        return parse_routes(self.cleaned_data["routes"])

    def _environment(self) -> Environment | None:
        """The environment the routes must be deployed in (each form knows its own)."""
        return None

    def _api_type(self) -> str | None:
        """ "rest" or "http" (each form knows its own)."""
        return None

    def clean(self):
        cleaned = super().clean()
        environment, routes = self._environment(), cleaned.get("routes")
        if environment is not None and routes:
            for error in target_errors(routes, environment):
                self.add_error("routes", error)
        if cleaned.get("require_api_key"):
            if self._api_type() == "http":
                self.add_error(
                    "require_api_key",
                    "HTTP APIs have no API keys or usage plans; choose a REST API.",
                )
            for name in ("quota_limit", "quota_period", "plan_rate", "plan_burst"):
                if cleaned.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, "Required when the API requires keys.")
        return cleaned

    def _spec(self, *, api_type: str, stage: str) -> dict:
        data = self.cleaned_data
        keys = bool(data.get("require_api_key"))
        return {
            "kind": "apigateway",
            "api_type": api_type,
            "stage": stage,
            "routes": [{k: r[k] for k in ("method", "path", "target")} for r in data["routes"]],
            "throttle": {"rate": data["throttle_rate"], "burst": data["throttle_burst"]},
            "require_api_key": keys,
            "usage_plan": (
                {
                    "quota_limit": data["quota_limit"],
                    "quota_period": data["quota_period"],
                    "rate": data["plan_rate"],
                    "burst": data["plan_burst"],
                }
                if keys
                else None
            ),
        }


class ApiGatewayServiceForm(NewServiceFields, _SpecFields):
    """Create an API Gateway API service and deploy it to one environment."""

    name_label = "API name"
    name_help = (
        "Lowercase letters, digits and hyphens. Also the catalog id; the API in AWS is called "
        "<name>-<environment> and its stage <environment>."
    )
    api_type = forms.ChoiceField(label="API type", choices=API_TYPES, initial="rest")
    field_order = ["name", "owner", "environment", "description", "api_type"]

    def _environment(self):
        return self.cleaned_data.get("environment")

    def _api_type(self):
        return self.cleaned_data.get("api_type")

    def spec(self) -> dict:
        data = self.cleaned_data
        return self._spec(api_type=data["api_type"], stage=data["environment"].slug)


class ApiGatewayUpdateForm(_SpecFields):
    """Change an API's routes, throttling or keys. The API type is fixed once created."""

    def __init__(self, *args, spec: dict, **kwargs):
        usage_plan = spec.get("usage_plan") or {}
        initial = {
            "routes": routes_text(spec.get("routes", [])),
            "throttle_rate": spec["throttle"]["rate"],
            "throttle_burst": spec["throttle"]["burst"],
            "require_api_key": spec.get("require_api_key", False),
            "quota_limit": usage_plan.get("quota_limit", 10000),
            "quota_period": usage_plan.get("quota_period", "DAY"),
            "plan_rate": usage_plan.get("rate", 50),
            "plan_burst": usage_plan.get("burst", 20),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.current = spec

    def _environment(self):
        # The stage is named after the environment, which is how the spec records it.
        return Environment.objects.filter(slug=self.current.get("stage")).first()

    def _api_type(self):
        return self.current["api_type"]

    def spec(self) -> dict:
        return self._spec(api_type=self.current["api_type"], stage=self.current["stage"])


class ApiGatewayScaleForm(portal_forms.Form):
    """Stage throttling only: the numbers the environment's guardrails check."""

    throttle_rate, throttle_burst = _throttle_fields().values()

    def __init__(self, *args, spec: dict, **kwargs):
        initial = {
            "throttle_rate": spec["throttle"]["rate"],
            "throttle_burst": spec["throttle"]["burst"],
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.current = spec

    def spec(self) -> dict:
        data = self.cleaned_data
        return {
            **self.current,
            "throttle": {"rate": data["throttle_rate"], "burst": data["throttle_burst"]},
        }
