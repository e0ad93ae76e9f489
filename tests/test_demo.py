"""`make run`'s demo services deploy through the normal path and end up in the emulator."""

import pytest

from deployments.models import Deployment
from portal.aws import aws_client
from portal.demo import demo_services_launch

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_demo_services_are_deployed_once(personas, aws_clean, celery_worker):
    report = demo_services_launch(
        user=personas["alice"],
        team=personas["payments"],
        environment=personas["dev"],
        wait_seconds=90,
    )
    assert [line.split(":")[0] for line in report] == ["hello", "orders", "public-api"]
    statuses = dict(Deployment.objects.values_list("instance__service__slug", "status"))
    assert statuses == {"hello": "succeeded", "orders": "succeeded", "public-api": "succeeded"}

    assert aws_client("lambda").get_function(FunctionName="hello-dev")
    cluster = personas["dev"].__class__.objects.get(pk=personas["dev"].pk).ecs_cluster
    services = aws_client("ecs").describe_services(cluster=cluster, services=["orders-dev"])
    assert services["services"][0]["status"] == "ACTIVE"
    apis = [api["name"] for api in aws_client("apigateway").get_rest_apis()["items"]]
    assert any(name.startswith("public-api") for name in apis), apis

    again = demo_services_launch(
        user=personas["alice"], team=personas["payments"], environment=personas["dev"]
    )
    assert all("already in the catalog" in line for line in again)
    assert Deployment.objects.count() == 3
