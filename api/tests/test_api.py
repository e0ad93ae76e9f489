"""The JSON API: tokens, the shared permission helper, validation, audit, a real deploy."""

import pytest

from api.services import token_create
from audit.models import AuditEvent
from catalog import services as catalog_services
from catalog.models import Service
from conftest import wait_for
from deployments.models import Deployment
from portal.aws import aws_client

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def bearer(user) -> dict:
    _, secret = token_create(user=user, name="test")
    return {"authorization": f"Bearer {secret}"}


def lambda_fields(**overrides):
    """A typed Lambda spec as the API takes it (lists and objects, not the form's text)."""
    fields = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": SOURCE,
        "memory_size": 256,
        "timeout": 10,
        "architecture": "x86_64",
        "environment": {},
    }
    fields.update(overrides)
    return fields


def test_openapi_schema_is_served_without_a_token(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Slipway API"
    assert "/api/v1/services" in schema["paths"]
    assert "/api/v1/launches" in schema["paths"]


def test_anonymous_gets_401_not_a_login_redirect(client, db):
    response = client.get("/api/v1/services")
    assert response.status_code == 401
    assert client.post("/api/v1/services", {}, content_type="application/json").status_code == 401


def test_read_catalog(client, personas):
    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="checkout", kind="lambda"
    )
    headers = bearer(personas["charlie"])  # any signed-in user may read
    services = client.get("/api/v1/services", headers=headers).json()["results"]
    assert [(s["slug"], s["owner"]) for s in services] == [("checkout", "payments")]
    assert client.get("/api/v1/services?owner=search", headers=headers).json()["results"] == []
    detail = client.get("/api/v1/services/checkout", headers=headers).json()
    assert detail["kind"] == "lambda" and detail["instances"] == []
    assert client.get("/api/v1/services/nope", headers=headers).status_code == 404
    teams = {t["slug"]: t for t in client.get("/api/v1/teams", headers=headers).json()["results"]}
    assert {m["username"] for m in teams["payments"]["members"]} == {"alice", "bob"}
    envs = client.get("/api/v1/environments", headers=headers).json()["results"]
    assert [e["slug"] for e in envs] == ["dev", "prod"]


def test_create_service_checks_membership_and_audits(client, personas):
    body = {"slug": "ledger", "kind": "lambda", "owner": "payments"}
    denied = client.post(
        "/api/v1/services",
        body,
        content_type="application/json",
        headers=bearer(personas["charlie"]),
    )
    assert denied.status_code == 403
    assert not Service.objects.exists()
    assert AuditEvent.objects.get(action="api.service.create").result == "denied"

    ok = client.post(
        "/api/v1/services", body, content_type="application/json", headers=bearer(personas["alice"])
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["owner"] == "payments"
    assert Service.objects.get().owner == personas["payments"]
    event = AuditEvent.objects.filter(action="api.service.create", result="ok").get()
    assert event.source == "api" and event.actor == personas["alice"]

    # Every kind the catalog knows can be created, not only the first three.
    for kind in Service.Kind.values:
        made = client.post(
            "/api/v1/services",
            {"slug": f"made-{kind}", "kind": kind, "owner": "payments"},
            content_type="application/json",
            headers=bearer(personas["alice"]),
        )
        assert made.status_code == 201, (kind, made.content)
        assert made.json()["kind"] == kind
    unknown = client.post(
        "/api/v1/services",
        {"slug": "odd", "kind": "mainframe", "owner": "payments"},
        content_type="application/json",
        headers=bearer(personas["alice"]),
    )
    assert unknown.status_code == 422 and not Service.objects.filter(slug="odd").exists()

    bad = client.post(
        "/api/v1/services",
        {"slug": "Bad Slug!", "kind": "lambda", "owner": "payments"},
        content_type="application/json",
        headers=bearer(personas["alice"]),
    )
    assert bad.status_code == 422
    assert "slug" in bad.json()["errors"]


def test_launch_rejects_bad_fields_and_other_teams(client, personas, aws_emulator):
    headers = bearer(personas["alice"])
    body = {
        "name": "orders",
        "owner": "payments",
        "environment": "dev",
        "spec": lambda_fields(handler="nodot", memory_size=1),
    }
    response = client.post(
        "/api/v1/launches", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) >= {"spec.handler", "spec.memory_size"}
    assert not Service.objects.exists()

    body["spec"] = lambda_fields()
    response = client.post(
        "/api/v1/launches",
        body,
        content_type="application/json",
        headers=bearer(personas["charlie"]),
    )
    assert response.status_code == 403
    assert not Service.objects.exists() and not Deployment.objects.exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_launch_scale_and_status_through_the_api(client, personas, aws_clean, celery_worker):
    headers = bearer(personas["alice"])
    body = {
        "name": "api-orders",
        "owner": "payments",
        "environment": "dev",
        "description": "made by the API",
        "spec": lambda_fields(environment={"MODE": "api"}),
    }
    response = client.post(
        "/api/v1/launches", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    # The worker may already have picked it up: a launch is accepted and on its way, never
    # waiting for a person (dev needs no approval). Then it finishes.
    assert response.json()["status"] in ("queued", "running", "succeeded")

    def finished():
        data = client.get(f"/api/v1/deployments/{pk}", headers=headers).json()
        return data if data["status"] in ("succeeded", "failed", "rolled_back") else None

    done = wait_for(finished, message="API launch did not finish")
    assert done["status"] == "succeeded", done["error"]
    assert any("Create Lambda function api-orders-dev" in s["name"] for s in done["steps"])
    config = aws_client("lambda").get_function(FunctionName="api-orders-dev")["Configuration"]
    assert config["MemorySize"] == 256 and config["Environment"]["Variables"] == {"MODE": "api"}

    # charlie may read it but not change it; nothing is queued for him.
    other = bearer(personas["charlie"])
    assert client.get(f"/api/v1/deployments/{pk}", headers=other).status_code == 200
    bodies = {
        "delete": {},
        "update": {"spec": {"kind": "lambda", "memory_size": 1024}},
        "scale": {"spec": {"kind": "lambda", "reserved_concurrency": 5}},
    }
    for op, change in bodies.items():
        denied = client.post(
            f"/api/v1/services/api-orders/environments/dev/{op}",
            change,
            content_type="application/json",
            headers=other,
        )
        assert denied.status_code == 403, op
    assert Deployment.objects.count() == 1

    # alice tears it down through the API; AWS no longer has the function.
    response = client.post("/api/v1/services/api-orders/environments/dev/delete", headers=headers)
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    done = wait_for(finished, message="API delete did not finish")
    assert done["status"] == "succeeded", done["error"]
    names = [f["FunctionName"] for f in aws_client("lambda").list_functions()["Functions"]]
    assert "api-orders-dev" not in names

    actions = list(
        AuditEvent.objects.filter(source="api", action__startswith="api.").values_list(
            "action", "result"
        )
    )
    assert ("api.service.launch", "ok") in actions
    assert ("api.deployment.delete", "ok") in actions
    assert ("api.deployment.delete", "denied") in actions
    assert ("api.deployment.scale", "denied") in actions
    # The deployment services' own rows name the API as their source too.
    plans = AuditEvent.objects.filter(action__startswith="deployment.", action__endswith=".plan")
    assert plans.exists() and set(plans.values_list("source", flat=True)) == {"api"}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_update_keeps_unnamed_fields(client, personas, aws_clean, celery_worker):
    from deployments import kinds

    if kinds.get("lambda").update_form is None:
        pytest.skip("the Lambda kind has no update form yet")
    headers = bearer(personas["alice"])
    body = {"name": "upd", "owner": "payments", "environment": "dev", "spec": lambda_fields()}
    pk = client.post(
        "/api/v1/launches", body, content_type="application/json", headers=headers
    ).json()["id"]

    def finished():
        data = client.get(f"/api/v1/deployments/{pk}", headers=headers).json()
        return data if data["status"] in ("succeeded", "failed", "rolled_back") else None

    assert wait_for(finished)["status"] == "succeeded"
    response = client.post(
        "/api/v1/services/upd/environments/dev/update",
        {"spec": {"kind": "lambda", "memory_size": 512}},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert wait_for(finished)["status"] == "succeeded"
    config = aws_client("lambda").get_function(FunctionName="upd-dev")["Configuration"]
    assert config["MemorySize"] == 512 and config["Handler"] == "app.handler"


def test_patch_service_changes_only_given_fields(client, personas):
    catalog_services.service_create(
        user=personas["alice"],
        owner=personas["payments"],
        slug="checkout",
        kind="lambda",
        description="keep me",
    )
    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="ledger", kind="lambda"
    )
    url = "/api/v1/services/checkout"
    denied = client.patch(
        url,
        {"lifecycle": "deprecated"},
        content_type="application/json",
        headers=bearer(personas["charlie"]),
    )
    assert denied.status_code == 403
    headers = bearer(personas["bob"])
    response = client.patch(
        url,
        {"lifecycle": "production", "depends_on": ["ledger"], "tags": ["Go", "go"]},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["lifecycle"], data["depends_on"], data["description"]) == (
        "production",
        ["ledger"],
        "keep me",
    )
    assert data["tags"] == ["go"]
    bad = client.patch(
        url, {"depends_on": ["ghost"]}, content_type="application/json", headers=headers
    )
    assert bad.status_code == 422 and "depends_on" in bad.json()["errors"]
    assert Service.objects.get(slug="checkout").lifecycle == "production"
    assert AuditEvent.objects.filter(action="service.update", source="api").count() == 1
    assert AuditEvent.objects.get(action="api.service.update", result="denied")


def test_metrics_summary(client, personas, aws_clean):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="checkout", kind="lambda"
    )
    catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    headers = bearer(personas["charlie"])  # reading is open to every signed-in user
    response = client.get(
        "/api/v1/services/checkout/environments/dev/metrics/summary", headers=headers
    )
    assert response.status_code == 200, response.content
    assert response.json()["label"] == "errors"
    assert response.json()["value"] in ("no traffic", "no data")
    missing = client.get(
        "/api/v1/services/checkout/environments/prod/metrics/summary", headers=headers
    )
    assert missing.status_code == 404


def test_approve_needs_a_second_member(client, personas, aws_clean):
    alice, bob = bearer(personas["alice"]), bearer(personas["bob"])
    body = {"name": "vault", "owner": "payments", "environment": "prod", "spec": lambda_fields()}
    response = client.post("/api/v1/launches", body, content_type="application/json", headers=alice)
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["status"] == "awaiting_approval"

    url = f"/api/v1/deployments/{pk}/approve"
    assert client.post(url, headers=alice).status_code == 403  # not your own change
    assert client.post(url, headers=bearer(personas["charlie"])).status_code == 403
    approved = client.post(url, headers=bob)
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "queued"
    assert client.post(url, headers=bob).status_code == 409  # already decided
    deployment = Deployment.objects.get(pk=pk)
    assert deployment.approved_by == personas["bob"]
    results = set(
        AuditEvent.objects.filter(action="api.deployment.approve").values_list("result", flat=True)
    )
    assert results == {"ok", "denied", "failed"}


def test_docs_page_works_offline(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn" not in page
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_instance_resources_list_only_what_the_instance_owns(client, personas):
    """The shared execution role an older run recorded is the environment's, not shown."""
    from catalog.models import ServiceInstance

    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="checkout", kind="lambda"
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    function = "arn:aws:lambda:us-east-1:123456789012:function:checkout-dev"
    role = "arn:aws:iam::123456789012:role/slipway-dev-lambda-exec"
    ServiceInstance.objects.filter(pk=instance.pk).update(
        resources={"function_arn": function, "role_arn": role, "function_name": "checkout-dev"}
    )
    detail = client.get("/api/v1/services/checkout", headers=bearer(personas["charlie"])).json()
    assert detail["instances"][0]["resources"] == {"function_arn": function}
