"""A service's life beyond update/scale: retry or delete after a failed first create, deploy an
imported service, promote dev → prod, and delete without leaving alarms or broken APIs behind.

End to end: pages → services → a real Celery worker → the AWS emulator over HTTP.
"""

import io

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from conftest import finished_deployment, launch_lambda, wait_for
from deployments import guardrails
from deployments.models import Deployment
from monitoring.models import AlarmRule
from portal.aws import aws_client
from tests.faultproxy import Rule

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOURCE = "def handler(event, context):\n    return 1\n"


def lambda_fields(**overrides):
    data = {
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": SOURCE,
        "memory_size": "256",
        "timeout": "10",
        "architecture": "x86_64",
    }
    data.update(overrides)
    return data


def confirm_and_finish(client, deployment):
    client.post(reverse("deployments:confirm", args=[deployment.pk]))
    return wait_for(lambda: finished_deployment(deployment.pk), timeout=90)


def function_exists(name):
    names = [f["FunctionName"] for f in aws_client("lambda").list_functions()["Functions"]]
    return name in names


def test_a_failed_first_create_can_be_retried(client, personas, aws_clean, faults, celery_worker):
    faults.add(Rule("CreateFunction", times=1, status=400, code="InvalidParameterValueException"))
    first = launch_lambda(personas, "orders")
    failed = wait_for(lambda: finished_deployment(first.pk), timeout=90)
    assert failed.status == Deployment.Status.FAILED

    client.force_login(personas["alice"])
    tab = client.get(reverse("deployments:service_deployments", args=["orders"])).content.decode()
    assert "The first deployment failed." in tab
    assert reverse("deployments:retry", args=[first.pk]) in tab
    assert reverse("deployments:service_remove", args=["orders"]) in tab

    response = client.post(reverse("deployments:retry", args=[first.pk]))
    retry = Deployment.objects.exclude(pk=first.pk).get()
    assert response["Location"] == retry.get_absolute_url()
    assert (retry.action, retry.status, retry.spec) == ("create", "planned", first.spec)
    assert confirm_and_finish(client, retry).status == Deployment.Status.SUCCEEDED
    assert function_exists("orders-dev")
    # A retry is only for a failed first create: once it runs, there is nothing to retry.
    again = client.post(reverse("deployments:retry", args=[first.pk]), follow=True)
    assert "Only a failed first deployment can be retried" in again.content.decode()


@pytest.mark.parametrize(
    ("failing", "leaves_function"),
    [("CreateFunction", False), ("PublishVersion", True)],
)
def test_a_failed_first_create_can_be_deleted_and_the_name_is_free_again(
    client, personas, aws_clean, faults, celery_worker, failing, leaves_function
):
    faults.add(Rule(failing, times=1, status=400, code="InvalidParameterValueException"))
    first = launch_lambda(personas, "orders")
    assert wait_for(lambda: finished_deployment(first.pk), timeout=90).status == "failed"
    assert function_exists("orders-dev") == leaves_function
    client.force_login(personas["alice"])
    url = reverse("deployments:service_remove", args=["orders"])

    refused = client.post(url, {"confirm_name": "order"})
    assert refused.status_code == 400 and Service.objects.filter(slug="orders").exists()
    response = client.post(url, {"confirm_name": "orders"})

    if leaves_function:
        # AWS holds the function: its teardown is planned first, through the engine.
        teardown = Deployment.objects.get(action="delete")
        assert response["Location"] == teardown.get_absolute_url()
        assert Service.objects.filter(slug="orders").exists()
        assert confirm_and_finish(client, teardown).status == Deployment.Status.SUCCEEDED
        assert not function_exists("orders-dev")
        response = client.post(url, {"confirm_name": "orders"})
    assert response["Location"] == reverse("catalog:service_list")
    assert not Service.objects.filter(slug="orders").exists()
    assert not function_exists("orders-dev")
    # The name can be taken again.
    again = launch_lambda(personas, "orders")
    assert wait_for(lambda: finished_deployment(again.pk), timeout=90).status == "succeeded"


def test_a_service_that_runs_somewhere_is_not_removed(client, personas, aws_clean, celery_worker):
    launched = launch_lambda(personas, "orders")
    done = wait_for(lambda: finished_deployment(launched.pk), timeout=90)
    assert done.status == "succeeded"
    client.force_login(personas["alice"])
    url = reverse("deployments:service_remove", args=["orders"])
    page = client.get(url).content.decode()
    assert reverse("deployments:delete", args=["orders", "dev"]) in page
    client.post(url, {"confirm_name": "orders"})
    assert Service.objects.filter(slug="orders").exists() and function_exists("orders-dev")


def test_delete_tears_down_the_alarms_too(client, personas, aws_clean, celery_worker):
    launched = launch_lambda(personas, "orders")
    done = wait_for(lambda: finished_deployment(launched.pk), timeout=90)
    assert done.status == "succeeded"
    cloudwatch = aws_client("cloudwatch")
    assert cloudwatch.describe_alarms(AlarmNamePrefix="slipway-dev-orders-")["MetricAlarms"]
    client.force_login(personas["alice"])

    response = client.post(
        reverse("deployments:delete", args=["orders", "dev"]), {"confirm_name": "orders"}
    )
    teardown = Deployment.objects.get(action="delete")
    assert response["Location"] == teardown.get_absolute_url()
    plan = [change["summary"] for change in teardown.plan]
    assert "Delete 1 CloudWatch alarm(s)" in plan
    assert confirm_and_finish(client, teardown).status == Deployment.Status.SUCCEEDED

    assert cloudwatch.describe_alarms(AlarmNamePrefix="slipway-dev-orders-")["MetricAlarms"] == []
    assert not AlarmRule.objects.exists()
    metrics = client.get(reverse("monitoring:metrics", args=["orders"])).content.decode()
    assert "slipway-dev-orders-lambda-errors" not in metrics


def test_deleting_a_service_an_api_routes_to_is_refused_with_the_apis_name(client, personas):
    target = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders", kind="lambda"
    )
    lam = catalog_services.instance_get_or_create(service=target, environment=personas["dev"])
    ServiceInstance.objects.filter(pk=lam.pk).update(applied_spec={"kind": "lambda"})
    api = catalog_services.service_create(
        user=personas["charlie"], owner=personas["search"], slug="shop-api", kind="apigateway"
    )
    edge = catalog_services.instance_get_or_create(service=api, environment=personas["dev"])
    ServiceInstance.objects.filter(pk=edge.pk).update(
        applied_spec={"routes": [{"method": "GET", "path": "/o", "target": "orders"}]}
    )
    client.force_login(personas["alice"])
    url = reverse("deployments:delete", args=["orders", "dev"])

    page = client.get(url).content.decode()
    assert "the API shop-api routes to it" in page
    response = client.post(url, {"confirm_name": "orders"})
    assert response.status_code == 400
    assert "shop-api" in response.content.decode()
    assert not Deployment.objects.exists()


def test_an_imported_service_is_deployed_from_its_page(client, personas, aws_clean, celery_worker):
    # Imported from Backstage: in the catalog, with no instance anywhere.
    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="billing", kind="lambda"
    )
    client.force_login(personas["alice"])
    overview = client.get(reverse("catalog:service_detail", args=["billing"])).content.decode()
    url = reverse("deployments:deploy", args=["billing", "dev"])
    assert url in overview and "Deploy to Development" in overview

    form = client.get(url)
    assert form.status_code == 200
    assert form.context["form"]["name"].value() == "billing"
    # Name, owner and environment are the service's own: posted values are ignored.
    response = client.post(url, {"name": "other", **lambda_fields()})
    deployment = Deployment.objects.get()
    assert response["Location"] == deployment.get_absolute_url()
    assert (deployment.instance.service.slug, deployment.action) == ("billing", "create")
    assert confirm_and_finish(client, deployment).status == Deployment.Status.SUCCEEDED
    config = aws_client("lambda").get_function(FunctionName="billing-dev")["Configuration"]
    assert config["MemorySize"] == 256
    assert Service.objects.count() == 1


def test_promote_dev_to_prod_with_approval(client, personas, aws_clean, celery_worker):
    dev = launch_lambda(personas, "orders", memory_size=512)
    assert wait_for(lambda: finished_deployment(dev.pk), timeout=90).status == "succeeded"
    client.force_login(personas["alice"])
    tab = client.get(reverse("deployments:service_deployments", args=["orders"])).content.decode()
    url = reverse("deployments:deploy", args=["orders", "prod"]) + "?from=dev"
    assert url in tab and "Promote from Development" in tab

    form = client.get(url)
    assert form.context["form"]["memory_size"].value() == 512
    response = client.post(url, lambda_fields(memory_size="512", source=""))
    promotion = Deployment.objects.get(instance__environment__slug="prod")
    assert response["Location"] == promotion.get_absolute_url()
    assert promotion.spec["code_sha256"] == dev.spec["code_sha256"]
    client.post(reverse("deployments:confirm", args=[promotion.pk]))
    promotion.refresh_from_db()
    assert promotion.status == Deployment.Status.AWAITING_APPROVAL

    client.force_login(personas["bob"])
    client.post(reverse("deployments:approve", args=[promotion.pk]))
    done = wait_for(lambda: finished_deployment(promotion.pk), timeout=90)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    config = aws_client("lambda").get_function(FunctionName="orders-prod")["Configuration"]
    assert config["MemorySize"] == 512
    # Once it runs there, it is updated, not deployed again.
    assert client.get(url).status_code == 302


@pytest.mark.parametrize(
    ("name", "method", "kwargs"),
    [
        ("deployments:deploy", "post", {"slug": "orders", "environment": "prod"}),
        ("deployments:service_remove", "post", {"slug": "orders"}),
        ("deployments:retry", "post", None),
    ],
)
def test_permissions(client, personas, name, method, kwargs):
    deployment = launch_lambda(personas, "orders", confirm=False)
    url = reverse(name, kwargs=kwargs or {"pk": deployment.pk})
    before = (Deployment.objects.count(), Service.objects.count())

    anonymous = client.post(url, {"confirm_name": "orders"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client.force_login(personas["charlie"])
    assert client.post(url, {"confirm_name": "orders", **lambda_fields()}).status_code == 403
    if name == "deployments:retry":
        assert client.get(url).status_code == 405
    assert (Deployment.objects.count(), Service.objects.count()) == before


def test_the_demo_production_environment_refuses_scale_to_zero(personas, monkeypatch, tmp_path):
    from django.conf import settings
    from django.core.management import call_command

    from portal.management.commands import demo_data

    monkeypatch.setattr(settings, "AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(demo_data, "DEMO_LOGIN_FILE", tmp_path / "login.json")
    call_command("demo_data", stdout=io.StringIO())

    from catalog.models import Environment

    prod, dev = Environment.objects.get(slug="prod"), Environment.objects.get(slug="dev")
    assert prod.requires_approval
    before = {"kind": "ecs", "desired_count": 2, "min_count": 2, "max_count": 2}
    after = {**before, "desired_count": 0, "min_count": 0, "max_count": 0}
    with pytest.raises(guardrails.GuardrailViolation, match="does not allow scaling"):
        guardrails.check(environment=prod, kind="ecs", before=before, after=after)
    guardrails.check(environment=dev, kind="ecs", before=before, after=after)
