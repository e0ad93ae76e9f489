"""The ECS forms: bad input is shown next to its field and creates nothing; good input plans."""

import pytest
from django.urls import reverse

from catalog.models import Service
from conftest import field_errors, field_html
from deployments.forms.ecs import FARGATE_MEMORY, EcsScaleForm, EcsUpdateForm
from deployments.models import Deployment
from portal.aws import aws_client

URL = reverse("deployments:service_new", args=["ecs"])
SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/db-password"
SM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/api-key-AbCdEf"


def valid_data(personas, **overrides):
    data = {
        "name": "orders",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2",
        "cpu": "256",
        "memory": "512",
        "container_port": "8080",
        "env_vars": "LOG_LEVEL=info",
        "secrets": f"DB_PASSWORD={SSM_ARN}\nAPI_KEY={SM_ARN}",
        "health_check_path": "/health",
        "lb_mode": "path",
        "lb_value": "/orders/*",
        "desired_count": "2",
        "autoscaling": "on",
        "min_count": "1",
        "max_count": "4",
        "metric": "cpu",
        "target": "60",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("field", "overrides", "message"),
    [
        ("memory", {"cpu": "256", "memory": "4096"}, "does not run 256 CPU units with 4096"),
        ("memory", {"cpu": "1024", "memory": "1024"}, "pick 2048–8192 MiB in steps of 1024"),
        ("memory", {"cpu": "256", "memory": "1536"}, "pick 512, 1024 or 2048 MiB"),
        ("memory", {"cpu": "4096", "memory": "8000"}, "does not run 4096"),
        ("cpu", {"cpu": "300"}, "Select a valid choice"),
        ("image", {"image": "Not An Image!"}, "Not an image reference"),
        ("image", {"image": "nginx:"}, "Not an image reference"),
        ("image", {"image": "https://registry/app:1"}, "Not an image reference"),
        ("secrets", {"secrets": "DB_PASSWORD=hunter2"}, "must reference an SSM parameter ARN"),
        ("secrets", {"secrets": "KEY=arn:aws:s3:::bucket/key"}, "must reference an SSM"),
        ("secrets", {"secrets": "LOG_LEVEL=" + SSM_ARN}, "also an environment variable"),
        ("env_vars", {"env_vars": "1BAD=x"}, "is not a variable name"),
        ("env_vars", {"env_vars": "no pair"}, "NAME=value"),
        ("env_vars", {"env_vars": "ECS_AGENT=x"}, "reserved by ECS"),
        ("container_port", {"container_port": "70000"}, "less than or equal to 65535"),
        ("lb_value", {"lb_value": "orders/*"}, "starting with /"),
        ("lb_value", {"lb_mode": "host", "lb_value": "not a host"}, "host name"),
        ("max_count", {"min_count": "5", "max_count": "2"}, "at least the minimum"),
        ("desired_count", {"desired_count": "9"}, "between 1 and 4"),
        ("target", {"target": "150"}, "percentage"),
        ("metric", {"metric": "requests", "lb_mode": "none"}, "needs a load balancer"),
        ("min_count", {"min_count": ""}, "Required when auto-scaling is on"),
    ],
)
def test_bad_field_is_shown_next_to_it_and_nothing_is_created(
    client, personas, field, overrides, message
):
    client.force_login(personas["alice"])
    response = client.post(URL, valid_data(personas, **overrides))

    assert response.status_code == 400
    errors = field_errors(response, field)
    assert any(message in e for e in errors), errors
    assert 'class="error"' in field_html(response, field)
    assert not Service.objects.exists()
    assert not Deployment.objects.exists()


def test_every_fargate_pair_is_accepted(personas):
    from deployments.forms.ecs import EcsSpecFields

    for cpu, memories in FARGATE_MEMORY.items():
        for memory in (memories[0], memories[-1]):
            data = valid_data(personas, cpu=str(cpu), memory=str(memory))
            form = EcsSpecFields(data)
            assert form.is_valid(), (cpu, memory, form.errors)


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_valid_form_plans_the_whole_service_and_creates_nothing_in_aws(client, personas, aws_clean):
    client.force_login(personas["alice"])
    response = client.post(URL, valid_data(personas))

    deployment = Deployment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == deployment.get_absolute_url()
    assert deployment.status == Deployment.Status.PLANNED
    summaries = [step["summary"] for step in deployment.plan]
    assert summaries[0].startswith("Create the embedded network")
    assert "Create ECS service orders-dev" in summaries
    assert summaries[-1] == "Set auto-scaling"
    assert deployment.spec == {
        "kind": "ecs",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2",
        "cpu": 256,
        "memory": 512,
        "container_port": 8080,
        "environment": {"LOG_LEVEL": "info"},
        "secrets": {"DB_PASSWORD": SSM_ARN, "API_KEY": SM_ARN},
        "health_check_path": "/health",
        "load_balancer": {"path": "/orders/*"},
        "desired_count": 2,
        "autoscaling": {"min": 1, "max": 4, "metric": "cpu", "target": 60},
    }
    # Planning reads AWS only: nothing exists in the emulator until the plan is confirmed.
    assert aws_client("ecs").list_clusters()["clusterArns"] == []
    assert aws_client("ecs").list_task_definitions()["taskDefinitionArns"] == []
    # The plan page shows secret names, never their ARNs' targets' values.
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "API_KEY, DB_PASSWORD" in page


APPLIED = {
    "kind": "ecs",
    "image": "nginx:1.27",
    "cpu": 256,
    "memory": 512,
    "container_port": 8080,
    "environment": {"LOG_LEVEL": "info"},
    "secrets": {"DB_PASSWORD": SSM_ARN},
    "health_check_path": "/health",
    "load_balancer": {"host": "orders.example.com"},
    "desired_count": 2,
    "autoscaling": None,
}


def test_update_form_starts_from_the_applied_spec_and_round_trips():
    form = EcsUpdateForm(spec=APPLIED)
    initial = {name: form[name].value() for name in form.fields}
    bound = EcsUpdateForm(
        {k: v for k, v in initial.items() if v not in (None, False)}, spec=APPLIED
    )
    assert bound.is_valid(), bound.errors
    assert bound.spec() == APPLIED


def test_scale_form_changes_only_scaling_numbers():
    form = EcsScaleForm(
        {
            "desired_count": "3",
            "autoscaling": "on",
            "min_count": "2",
            "max_count": "8",
            "metric": "requests",
            "target": "800",
        },
        spec=APPLIED,
    )
    assert form.is_valid(), form.errors
    assert form.spec() == {
        **APPLIED,
        "desired_count": 3,
        "autoscaling": {"min": 2, "max": 8, "metric": "requests", "target": 800},
    }
    refused = EcsScaleForm(
        {
            "desired_count": "1",
            "autoscaling": "on",
            "min_count": "1",
            "max_count": "2",
            "metric": "requests",
            "target": "10",
        },
        spec={**APPLIED, "load_balancer": None},
    )
    assert not refused.is_valid()
    assert "needs a load balancer" in refused.errors["metric"][0]


# --- update and scale through the views, on a deployed service -----------------------------------
UPDATE = reverse("deployments:update", args=["orders", "dev"])
SCALE = reverse("deployments:scale", args=["orders", "dev"])


def deployed(personas):
    """orders in dev, applied in this process by the engine (no worker needed)."""
    from deployments import services
    from deployments.tests.test_provision_ecs import ecs_spec, run_inline

    deployment = services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="ecs",
        environment=personas["dev"],
        spec=ecs_spec(),
        confirm=True,
    )
    assert run_inline(deployment).status == Deployment.Status.SUCCEEDED
    return deployment.instance


def test_update_form_plans_a_new_revision_in_words(client, personas, aws_clean):
    instance = deployed(personas)
    client.force_login(personas["bob"])
    page = client.get(UPDATE)
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data.update(cpu="512", memory="2048", image="public.ecr.aws/nginx/nginx:1.28")

    response = client.post(UPDATE, data)
    deployment = Deployment.objects.filter(instance=instance).latest("pk")
    assert response.status_code == 302, response.context["form"].errors
    assert deployment.status == Deployment.Status.PLANNED
    details = [line for step in deployment.plan for line in step["details"]]
    assert "task definition cpu 256 → 512" in details
    assert "task definition memory 512 → 2048 MiB" in details
    assert (
        "task definition image public.ecr.aws/nginx/nginx:1.27 → public.ecr.aws/nginx/nginx:1.28"
        in details
    )


def test_scale_form_plans_the_count_and_guardrails_refuse_a_big_cut(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    scale = {
        "desired_count": "4",
        "autoscaling": "on",
        "min_count": "2",
        "max_count": "8",
        "metric": "cpu",
        "target": "50",
    }
    response = client.post(SCALE, scale)
    assert response.status_code == 302
    deployment = Deployment.objects.latest("pk")
    assert deployment.action == Deployment.Action.SCALE
    details = [line for step in deployment.plan for line in step["details"]]
    assert "desired count 2 → 4" in details
    assert "maximum tasks 4 → 8" in details
    assert "target 60 → 50 %" in details
    client.post(reverse("deployments:cancel", args=[deployment.pk]))

    # dev allows at most a 50 % cut per step and at most 50 tasks.
    response = client.post(SCALE, {**scale, "desired_count": "60", "max_count": "60"})
    assert response.status_code == 400
    assert "above the Development cap of 50" in response.content.decode()
    assert Deployment.objects.count() == 2  # the launch and the cancelled scale


def test_other_teams_cannot_update_or_scale(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["charlie"])
    assert client.get(UPDATE).status_code == 403
    assert client.post(SCALE, {"desired_count": "3"}).status_code == 403
    assert Deployment.objects.count() == 1
    client.logout()
    assert client.post(SCALE, {"desired_count": "3"}).status_code == 302  # to the login page
