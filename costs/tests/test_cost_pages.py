"""The cost a user sees: on the plan page, in the forms' cost box, and with traffic figures.

Figures are worked out by hand with us-east-1's prices (costs/prices/aws-prices.json). The ECS
service of these tests (deployments.tests.test_provision_ecs.ecs_spec) runs 2 tasks of 0.25 vCPU
and 0.5 GB behind the shared load balancer:
  2 × 0.25 vCPU × 730 h × $0.04048 = $14.7752
  2 × 0.5 GB × 730 h × $0.004445   =  $3.24485
  730 ALB-hours × $0.0225          = $16.425     → $34.44505, "$34.45"
Scaled to 4 tasks: $29.5504 + $6.4897 + $16.425 = $52.4651, "$52.47" (+$18.02); at its
auto-scaling minimum of 1 task: $7.3876 + $1.622425 + $16.425 = $25.435025, "$25.44".
"""

from decimal import Decimal

from django.urls import reverse

from catalog.models import Environment, Service
from conftest import field_html
from costs.models import InstanceCost
from deployments.models import Deployment
from deployments.tests.test_ecs_form import SCALE, UPDATE, deployed

HTMX = {"HTTP_HX_REQUEST": "true"}
SCALE_TO_4 = {
    "desired_count": "4",
    "autoscaling": "on",
    "min_count": "1",
    "max_count": "4",
    "metric": "cpu",
    "target": "60",
}
LAMBDA_URL = reverse("deployments:lambda_create")


def lambda_data(personas, **overrides):
    data = {
        "name": "thumbs",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": "def handler(event, context):\n    return 1\n",
        "memory_size": "512",
        "timeout": "10",
        "architecture": "x86_64",
        "traffic-requests_per_month": "3000000",
        "traffic-duration_ms": "120",
    }
    data.update(overrides)
    return data


def test_a_successful_deployment_stores_the_applied_specs_estimate(personas, aws_clean):
    instance = deployed(personas)
    cost = InstanceCost.objects.get(instance=instance)
    assert cost.monthly_usd == Decimal("34.45")
    assert cost.price_date == "2026-12-03"


def test_the_plan_page_shows_the_cost_and_its_difference_from_today(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    response = client.post(SCALE, SCALE_TO_4)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "About $52.47/month" in page
    assert "+$18.02</span> from today's $34.45" in page
    # The formula, one click away: quantity × unit price for each line.
    assert "<summary>How this is worked out</summary>" in page
    assert "Fargate vCPU: 4 tasks × 0.25 vCPU</td><td>730 vCPU-hours</td><td>$0.04048" in page
    assert "($25.44–$52.47 as auto-scaling runs" in page  # 1 to 4 tasks
    assert "ALB LCUs" in page  # what is not counted, said on the page


def test_the_scale_form_shows_the_figure_as_it_changes_and_plans_nothing(
    client, personas, aws_clean
):
    deployed(personas)
    client.force_login(personas["bob"])
    form = client.get(SCALE).content.decode()
    assert "<legend>Monthly cost</legend>" in form
    assert 'hx-post="/deployments/services/orders/dev/scale/"' in form

    response = client.post(SCALE, {**SCALE_TO_4, "_estimate": "1"}, **HTMX)
    assert response.status_code == 200
    box = response.content.decode()
    assert "About $52.47/month" in box
    assert "+$18.02" in box
    assert Deployment.objects.count() == 1  # only the launch: an estimate plans nothing


def test_the_update_form_with_an_error_asks_for_a_complete_form(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    form = client.get(UPDATE).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    response = client.post(UPDATE, {**data, "memory": "4096", "_estimate": "1"}, **HTMX)
    assert "Fill in the form without errors to see its monthly cost." in response.content.decode()


def test_lambda_traffic_figures_are_estimated_and_kept_with_the_instance(
    client, personas, aws_clean
):
    client.force_login(personas["alice"])
    box = client.post(LAMBDA_URL, {**lambda_data(personas), "_estimate": "1"}, **HTMX)
    # 3 million × $0.20 per million + 3,000,000 × 0.12 s × 0.5 GB × $0.0000166667 = $3.60
    assert "About $3.60/month" in box.content.decode()
    assert "a new cost" in box.content.decode()
    assert not Service.objects.exists()

    response = client.post(LAMBDA_URL, lambda_data(personas))
    assert response.status_code == 302
    deployment = Deployment.objects.get()
    cost = InstanceCost.objects.get(instance=deployment.instance)
    assert (cost.requests_per_month, cost.duration_ms) == (3_000_000, Decimal("120.0"))
    assert "requests_per_month" not in deployment.spec  # not part of the AWS spec
    page = client.get(response["Location"]).content.decode()
    assert "About $3.60/month" in page
    assert "Traffic from your figures." in page


def test_bad_traffic_figures_are_shown_next_to_the_field_and_nothing_is_stored(
    client, personas, aws_clean
):
    client.force_login(personas["alice"])
    response = client.post(LAMBDA_URL, lambda_data(personas, **{"traffic-duration_ms": "-5"}))
    assert response.status_code == 400
    assert "greater than or equal to 0.1" in field_html(response, "traffic-duration_ms")
    assert not Service.objects.exists()
    assert not InstanceCost.objects.exists()


def test_a_region_without_prices_says_so(client, personas, aws_clean):
    Environment.objects.create(
        slug="milan", name="Milan", aws_account_id="123456789012", region="eu-south-9"
    )
    client.force_login(personas["alice"])
    data = lambda_data(personas, environment=Environment.objects.get(slug="milan").pk)
    box = client.post(LAMBDA_URL, {**data, "_estimate": "1"}, **HTMX).content.decode()
    assert "No prices for region eu-south-9." in box
    assert "$" not in box.split("No prices")[0]  # no wrong number before it


def test_other_teams_and_anonymous_users_get_no_estimate(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["charlie"])
    assert client.post(SCALE, {**SCALE_TO_4, "_estimate": "1"}, **HTMX).status_code == 403
    client.logout()
    assert client.post(SCALE, {**SCALE_TO_4, "_estimate": "1"}, **HTMX).status_code == 302
    assert Deployment.objects.count() == 1


def test_a_running_function_without_figures_is_estimated_from_last_weeks_metrics(
    client, personas, aws_clean
):
    from datetime import UTC, datetime, timedelta

    from conftest import launch_lambda
    from deployments.tests.test_provision_ecs import run_inline
    from portal.aws import aws_client

    deployment = run_inline(launch_lambda(personas, "thumbs", memory_size=512))
    assert deployment.status == Deployment.Status.SUCCEEDED
    two_days_ago = datetime.now(tz=UTC) - timedelta(days=2)
    dims = [{"Name": "FunctionName", "Value": "thumbs-dev"}]
    aws_client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            # 700,000 invocations last week, 84,000,000 ms in all: 120 ms on average.
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": two_days_ago,
             "Value": 700_000},
            {"MetricName": "Duration", "Dimensions": dims, "Timestamp": two_days_ago,
             "Value": 84_000_000},
        ],
    )  # fmt: skip
    client.force_login(personas["alice"])
    page = client.get(deployment.get_absolute_url()).content.decode()
    # A month is 730 / 168 weeks: 700,000 × 730 / 168 = 3,041,666 requests.
    #   3.041666 million × $0.20                          = $0.6083332
    #   3,041,666 × 0.120 s × 0.5 GB = 182,499.96 GB-s × $0.0000166667 = $3.0416721...
    assert "Traffic from CloudWatch, last 7 days." in page
    assert "<td>Lambda requests</td><td>3.0417 million requests</td>" in page
    assert "Lambda duration: 3,041,666 × 120 ms × 0.5 GB" in page
    assert "About $3.65/month" in page


def test_a_teardown_plan_shows_what_it_saves(client, personas, aws_clean):
    deployed(personas)
    client.force_login(personas["alice"])
    delete = reverse("deployments:delete", args=["orders", "dev"])
    response = client.post(delete, {"confirm_name": "orders"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "About $0.00/month" in page
    assert "−$34.45</span> from today's $34.45" in page
