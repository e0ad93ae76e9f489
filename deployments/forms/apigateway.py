"""API Gateway deploy forms: create, update (routes, throttling, keys) and scale (throttling).

Routes are typed one per line, `GET /orders -> orders-svc`; every target must be a Lambda
function or ECS service already deployed in the API's environment, which the form checks
against the catalog so a mistake is shown next to the field, before anything is planned.
A route's protection follows a `|`: `GET /orders -> orders-svc | users orders.read` (an
authorizer and its scopes), `| iam` or `| public`. Authorizers are typed one per line too:
`users jwt https://issuer aud1,aud2`, `users cognito arn:aws:cognito-idp:...`,
`gate lambda auth-fn [token|request] [header=X-Token]`.
"""

from __future__ import annotations

import re

from django import forms

from catalog.models import Environment
from deployments.forms.common import NewServiceFields, SpecForm, TimedRevertField
from deployments.specs import context_errors
from deployments.specs.apigateway import ApiGatewaySpec

ROUTE_RE = re.compile(
    r"^(?P<method>[A-Za-z]+)\s+(?P<path>\S+)\s*(?:->|→)\s*(?P<target>\S+)"
    r"(?:\s*\|\s*(?P<auth>\S+)(?P<scopes>(?:\s+\S+)*))?\s*$"
)
AUTHORIZER_HELP = (
    "One per line: NAME jwt ISSUER-URL AUDIENCE[,AUDIENCE] (HTTP APIs; a Cognito user pool or "
    "any OIDC issuer), NAME cognito USER-POOL-ARN (REST APIs), NAME lambda LAMBDA-SERVICE "
    "[token|request] [header=NAME] (a Lambda service deployed in the same environment)."
)
API_TYPES = [("rest", "REST API (v1): API keys, usage plans"), ("http", "HTTP API (v2): cheaper")]
QUOTA_PERIODS = [("DAY", "per day"), ("WEEK", "per week"), ("MONTH", "per month")]
# Where each part of the spec is typed on the form.
APIGATEWAY_SPEC_FIELDS = {
    "throttle.rate": "throttle_rate",
    "throttle.burst": "throttle_burst",
    "usage_plan": "require_api_key",
    "usage_plan.quota_limit": "quota_limit",
    "usage_plan.quota_period": "quota_period",
    "usage_plan.rate": "plan_rate",
    "usage_plan.burst": "plan_burst",
}


def parse_routes(text: str) -> tuple[list[dict], list[int]]:
    """Read `METHOD /path -> target` lines (the spec checks methods, paths and duplicates);
    raise ValidationError naming the first line that is not a route. Returns the routes and
    the line each came from."""
    routes, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = ROUTE_RE.match(line)
        if not match:
            raise forms.ValidationError(
                f"Line {number}: write METHOD /path -> service, e.g. GET /orders -> orders-svc."
            )
        route = {
            "method": match["method"].upper(),
            "path": match["path"],
            "target": match["target"],
        }
        if match["auth"]:
            route["auth"] = match["auth"]
            route["scopes"] = (match["scopes"] or "").split()
        routes.append(route)
        lines.append(number)
    return routes, lines


def routes_text(routes: list[dict]) -> str:
    return "\n".join(_route_line(r) for r in routes)


def _route_line(route: dict) -> str:
    line = f"{route['method']} {route['path']} -> {route['target']}"
    if (route.get("auth") or "none") != "none":
        line += " | " + " ".join([route["auth"], *(route.get("scopes") or [])])
    return line


def parse_authorizers(text: str) -> tuple[list[dict], list[int]]:
    """Read authorizer lines (the spec checks what each type needs)."""
    authorizers, lines = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 3 or words[1] not in ("jwt", "cognito", "lambda"):
            raise forms.ValidationError(f"Line {number}: {AUTHORIZER_HELP}")
        name, kind, rest = words[0], words[1], words[2:]
        authorizer = {"name": name, "type": kind}
        if kind == "jwt":
            authorizer["issuer"] = rest[0]
            authorizer["audience"] = [a for a in ",".join(rest[1:]).split(",") if a]
        elif kind == "cognito":
            authorizer["user_pool_arn"] = rest[0]
        else:
            authorizer["function"] = rest[0]
            for word in rest[1:]:
                if word in ("token", "request"):
                    authorizer["lambda_type"] = word
                elif word.startswith("header="):
                    authorizer["header"] = word.removeprefix("header=")
                else:
                    raise forms.ValidationError(f"Line {number}: {AUTHORIZER_HELP}")
        authorizers.append(authorizer)
        lines.append(number)
    return authorizers, lines


def authorizers_text(authorizers: list[dict]) -> str:
    out = []
    for a in authorizers:
        if a["type"] == "jwt":
            out.append(f"{a['name']} jwt {a['issuer']} {','.join(a['audience'])}")
        elif a["type"] == "cognito":
            out.append(f"{a['name']} cognito {a['user_pool_arn']}")
        else:
            extra = f" {a.get('lambda_type') or 'token'}"
            if (a.get("header") or "Authorization") != "Authorization":
                extra += f" header={a['header']}"
            out.append(f"{a['name']} lambda {a['function']}{extra}")
    return "\n".join(out)


def _throttle_fields() -> dict:
    return {
        "throttle_rate": forms.IntegerField(
            label="Stage rate limit (requests/s)",
            initial=100,
            help_text="Steady-state requests per second for the whole stage (0–10000).",
        ),
        "throttle_burst": forms.IntegerField(
            label="Stage burst limit",
            initial=50,
            help_text="Requests allowed at once above the rate (0–5000).",
        ),
    }


class _Throttle(SpecForm):
    spec_fields = APIGATEWAY_SPEC_FIELDS
    throttle_rate, throttle_burst = _throttle_fields().values()

    def throttle(self) -> dict:
        data = self.cleaned_data
        return {
            key: data[field]
            for key, field in (("rate", "throttle_rate"), ("burst", "throttle_burst"))
            if data.get(field) is not None
        }

    def spec(self) -> dict:
        return self.typed_spec.to_json()


class _SpecFields(_Throttle):
    """Routes, throttling and API keys: shared by the create and update forms.

    The fields only parse what is typed; `ApiGatewaySpec` holds the limits and rules.
    """

    routes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "code"}),
        help_text="One route per line: METHOD /path -> service (a Lambda function or ECS "
        "service deployed in the same environment), e.g. GET /orders/{id} -> orders-svc. "
        "Protect it after a |: an authorizer and the scopes it needs (| users orders.read), "
        "| iam, or | public. In production every route needs one of these.",
    )
    authorizers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code"}),
        help_text=AUTHORIZER_HELP,
    )
    throttle_rate, throttle_burst = _throttle_fields().values()
    require_api_key = forms.BooleanField(
        required=False,
        label="Require an API key",
        help_text="REST APIs only: callers send x-api-key; Slipway creates one key and a usage "
        "plan with the quota and throttling below.",
    )
    quota_limit = forms.IntegerField(required=False, label="Quota (requests)", initial=10000)
    quota_period = forms.ChoiceField(choices=QUOTA_PERIODS, initial="DAY", required=False)
    plan_rate = forms.IntegerField(required=False, label="Usage plan rate (requests/s)", initial=50)
    plan_burst = forms.IntegerField(required=False, label="Usage plan burst", initial=20)

    def clean_routes(self):
        routes, self.spec_lines["routes"] = parse_routes(self.cleaned_data["routes"])
        return routes

    def clean_authorizers(self):
        found, self.spec_lines["authorizers"] = parse_authorizers(self.cleaned_data["authorizers"])
        return found

    def _environment(self) -> Environment | None:
        """The environment the routes must be deployed in (each form knows its own)."""
        return None

    def _api_type(self) -> str | None:
        """ "rest" or "http" (each form knows its own)."""
        return None

    def _stage(self) -> str | None:
        return None

    def clean(self):
        cleaned = super().clean()
        keys = bool(cleaned.get("require_api_key"))
        if keys:
            # One checkbox and four boxes encode the spec's optional usage plan.
            for name in ("quota_limit", "quota_period", "plan_rate", "plan_burst"):
                if cleaned.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, "Required when the API requires keys.")
        environment = self._environment()
        spec = self.validate_spec(ApiGatewaySpec, self._spec_dict(keys))
        if spec is not None and environment is not None:
            for path, message in context_errors(spec, environment=environment):
                self.add_spec_error(
                    tuple(int(p) if p.isdigit() else p for p in path.split(".")), message
                )
        return cleaned

    def _spec_dict(self, keys: bool) -> dict:
        data = self.cleaned_data
        plan = None
        if keys:
            plan = {
                key: data[field]
                for key, field in (
                    ("quota_limit", "quota_limit"),
                    ("quota_period", "quota_period"),
                    ("rate", "plan_rate"),
                    ("burst", "plan_burst"),
                )
                if data.get(field) not in (None, "")
            }
        spec = {
            "kind": "apigateway",
            "api_type": self._api_type(),
            "stage": self._stage(),
            "throttle": self.throttle(),
            "require_api_key": keys,
            "usage_plan": plan,
        }
        if "routes" in data:
            spec["routes"] = data["routes"]
        spec["authorizers"] = data.get("authorizers") or []
        return spec


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

    def _stage(self):
        environment = self.cleaned_data.get("environment")
        return environment.slug if environment else None


class ApiGatewayUpdateForm(_SpecFields):
    """Change an API's routes, throttling or keys. The API type is fixed once created."""

    def __init__(self, *args, spec: dict, **kwargs):
        usage_plan = spec.get("usage_plan") or {}
        initial = {
            "routes": routes_text(spec.get("routes", [])),
            "authorizers": authorizers_text(spec.get("authorizers") or []),
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

    def _stage(self):
        return self.current["stage"]


class ApiGatewayScaleForm(_Throttle, TimedRevertField):
    """Stage throttling only: the numbers the environment's guardrails check."""

    def __init__(self, *args, spec: dict, **kwargs):
        initial = {
            "throttle_rate": spec["throttle"]["rate"],
            "throttle_burst": spec["throttle"]["burst"],
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.current = spec

    def clean(self):
        cleaned = super().clean()
        self.validate_spec(ApiGatewaySpec, {**self.current, "throttle": self.throttle()})
        return cleaned
