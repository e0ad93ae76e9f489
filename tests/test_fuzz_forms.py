"""Property-based fuzzing (hypothesis): every form through the real views; the log renderer.

Each form page is read as a browser would (GET, then the fields and their current values from
the HTML), and posted back as the owner with one to three fields replaced by hostile values:
deep nesting, huge strings, NUL and other control characters, odd unicode, injection-looking
text. Whatever the values, the answer is never a 5xx; a refused post stores no row; and no AWS
resource appears (a listing of the emulator before and after each form's run). Forms found:
create, update, scale and delete of every kind, the service settings, API tokens, alarm
thresholds, and the sign-in form. Bounded: a few dozen derandomized examples per form.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.template.loader import render_to_string
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from deployments import kinds
from monitoring import logs as monitoring_logs
from portal import ratelimit
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE = st.one_of(
    st.text(max_size=40),  # any unicode (no lone surrogates: they cannot be posted as UTF-8)
    st.text(st.characters(categories=["Cc"]), min_size=1, max_size=4),  # NUL, ESC, DEL, ...
    st.tuples(st.text(max_size=8), st.text(max_size=8)).map(lambda p: f"{p[0]}\x00{p[1]}"),
    st.integers(10, 100_000).map(_nested),
    st.integers(10, 20_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(1_000, 1_000_000).map(lambda n: "x" * n),
    st.integers(1, 5_000).map(lambda n: "é🚀\u202e" * n),
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "0",
            "9" * 5000,
            "1e309",
            "NaN",
            "{{ 7*7 }}",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%00",
            '{"source": ["a"]}',
            "KEY=value\nKEY=other",
            "!!binary aGVsbG8=",
            "arn:aws:iam::123456789012:role/../../x",
        ]
    ),
)


class _FormReader(HTMLParser):
    """The fields of every POST form on a page, with the values a browser would send."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            method = (a.get("method") or "get").lower()
            self._form = {"action": a.get("action"), "fields": {}} if method == "post" else None
            if self._form is not None:
                self.forms.append(self._form)
            return
        if self._form is None:
            return
        fields = self._form["fields"]
        if tag == "option" and self._select and ("selected" in a or not fields[self._select]):
            fields[self._select] = a.get("value", "")
        if not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("file", "submit", "button", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields[name] = a.get("value", "on")
                return
            fields[name] = a.get("value") or ""
        elif tag == "textarea":
            fields[name] = ""
            self._textarea = name
        elif tag == "select":
            self._select = name
            fields.setdefault(name, "")

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None


def form_fields(client, url: str) -> dict[str, str]:
    """The main POST form of the page at `url` (not the header's sign-out form)."""
    response = client.get(url)
    assert response.status_code == 200, url
    reader = _FormReader()
    reader.feed(response.content.decode())
    forms = [f for f in reader.forms if not (f["action"] or "").endswith("/logout/")]
    assert forms, f"{url}: no form found"
    return max(forms, key=lambda f: len(f["fields"]))["fields"]


def row_counts() -> dict[str, int]:
    return {
        m._meta.label_lower: m.objects.count()
        for m in apps.get_models()
        if m._meta.app_label in ("catalog", "deployments", "api", "monitoring", "interop")
    }


def aws_listing() -> dict[str, list]:
    """What exists in the emulator, kind by kind (a created resource shows up here)."""
    listing = {
        "lambda": [f["FunctionName"] for f in aws_client("lambda").list_functions()["Functions"]],
        "rest": [a["id"] for a in aws_client("apigateway").get_rest_apis()["items"]],
        "http": [a["ApiId"] for a in aws_client("apigatewayv2").get_apis()["Items"]],
        "tables": aws_client("dynamodb").list_tables()["TableNames"],
        "machines": [
            m["stateMachineArn"]
            for m in aws_client("stepfunctions").list_state_machines()["stateMachines"]
        ],
        "topics": [t["TopicArn"] for t in aws_client("sns").list_topics()["Topics"]],
        "queues": aws_client("sqs").list_queues().get("QueueUrls", []),
        "ecs": [],
    }
    ecs = aws_client("ecs")
    for cluster in ecs.list_clusters()["clusterArns"]:
        listing["ecs"] += ecs.list_services(cluster=cluster)["serviceArns"]
    return listing


# Values that make each kind's create form valid (the rest are the form's own defaults).
GOOD = {
    "lambda": {"source": "def handler(event, context):\n    return 1\n"},
    "ecs": {
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2",
        "lb_mode": "path",
        "lb_value": "/orders/*",
    },
    "apigateway": {"routes": "GET /orders -> fuzz-fn"},
    "dynamodb": {"partition_key_name": "pk"},
    "sns": {"topics": "order-placed"},
}


@pytest.fixture
def estate(client, personas, aws_clean):
    """A service of every kind deployed in dev (applied spec from its own create form), an
    alarm rule, and alice signed in; returns every form page to fuzz."""
    alice = personas["alice"]
    client.force_login(alice)
    teams = personas["payments"].__class__.objects.filter(pk=personas["payments"].pk)
    pages = {}
    for kind in kinds.KINDS.values():
        create_url = reverse("deployments:service_new", args=[kind.slug])
        pages[f"create {kind.slug}"] = create_url
        slug = f"fuzz-{kind.slug}"[:30] if kind.slug != "lambda" else "fuzz-fn"
        data = {
            **form_fields(client, create_url),
            **GOOD.get(kind.slug, {}),
            "name": slug,
            "owner": str(personas["payments"].pk),
            "environment": str(personas["dev"].pk),
        }
        form = kind.create_form(data, None, teams=teams)
        assert form.is_valid(), f"{kind.slug}: add values to GOOD that make it valid: {form.errors}"
        service = catalog_services.service_create(
            user=alice, owner=personas["payments"], slug=slug, kind=kind.slug
        )
        instance = catalog_services.instance_get_or_create(
            service=service, environment=personas["dev"]
        )
        # Resources as a finished deployment leaves them (an API's routes need the function).
        resources = {"function_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{slug}"}
        ServiceInstance.objects.filter(pk=instance.pk).update(
            applied_spec=form.spec(),
            status=ServiceInstance.Status.HEALTHY,
            resources=resources if kind.slug == "lambda" else {},
        )
        for action in ("update", "scale", "delete"):
            if action == "update" and kind.update_form is None:
                continue
            if action == "scale" and kind.scale_form is None:
                continue
            pages[f"{action} {kind.slug}"] = reverse(f"deployments:{action}", args=[slug, "dev"])
    pages["service settings"] = reverse("catalog:service_settings", args=["fuzz-fn"])
    pages["api tokens"] = reverse("api:token_list")
    return pages


FORMS = [
    *(
        f"{action} {kind.slug}"
        for kind in kinds.KINDS.values()
        for action in ("create", "update", "scale", "delete")
        if action != "scale" or kind.scale_form is not None  # workflows and topics do not scale
    ),
    "service settings",
    "api tokens",
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", FORMS)
def test_hostile_values_in_any_form_never_fail_or_store(client, estate, page):
    url = estate[page]
    base = form_fields(client, url)
    names = sorted(n for n in base if n != "csrfmiddlewaretoken")
    aws_before = aws_listing()

    @EXAMPLES
    @given(
        st.dictionaries(st.sampled_from(names), HOSTILE, min_size=1, max_size=3),
    )
    def post_hostile(changes):
        rows_before = row_counts()
        response = client.post(url, {**base, **changes})
        assert response.status_code < 500, (page, changes)
        if response.status_code >= 400:  # refused (the form again, with its errors)
            assert row_counts() == rows_before, (page, changes)  # nothing stored

    post_hostile()
    assert aws_listing() == aws_before  # planning reads AWS; nothing was created


@pytest.mark.timeout(300)
@EXAMPLES
@given(username=HOSTILE, password=HOSTILE)
def test_hostile_sign_in_never_fails(client, personas, username, password):
    # Each example reaches the form, django-axes and the user lookup, not the address pause.
    ratelimit.failures_reset(name="login-failures:127.0.0.1")
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code in (200, 400, 429)
    assert "_auth_user_id" not in client.session


@EXAMPLES
@given(message=st.one_of(HOSTILE, st.text(st.characters(categories=["Cs", "Co", "Cc"]))))
def test_the_log_renderer_renders_any_line(message):
    """A log line is untrusted: it renders (escaped, encodable), pretty-printed only when it is
    JSON within limits, whatever it holds."""
    line = monitoring_logs._line(
        {"eventId": "1", "timestamp": 1_700_000_000_000, "logStreamName": "s", "message": message}
    )
    html = render_to_string("monitoring/_log_line.html", {"line": line})
    html.encode("utf-8")  # what the response does; a lone surrogate must not break it
    if line.pretty:
        assert json.loads(line.pretty) == json.loads(line.message)
    assert "<script>" not in html


SEARCH_PAGES = {
    "catalog search": ("/catalog/", ["q", "team", "kind", "lifecycle", "tag", "sort"]),
    "audit filter": ("/audit/", ["actor", "action", "environment", "result", "since", "page"]),
    "log filter": ("/monitoring/services/fuzz-fn/logs/", ["pattern", "range", "env", "before"]),
    "discovery": ("/interop/discovery/", ["environment"]),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", SEARCH_PAGES)
def test_hostile_search_and_filter_values_never_fail(client, estate, page):
    url, names = SEARCH_PAGES[page]

    @settings(
        max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(st.dictionaries(st.sampled_from(names), HOSTILE, min_size=1, max_size=3))
    def get_hostile(params):
        response = client.get(url, params)
        assert response.status_code < 500, (page, params)

    get_hostile()
