"""Hostile input around cost estimates: what a user sees, and that nothing is stored."""

from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service
from costs.models import InstanceCost
from costs.tests.test_cost_pages import HTMX, LAMBDA_URL, lambda_data
from deployments.models import Deployment


def test_huge_figures_do_not_break_the_estimate_or_the_save(client, personas, aws_clean):
    client.force_login(personas["alice"])
    huge = lambda_data(
        personas,
        memory_size="10240",
        **{"traffic-requests_per_month": str(10**12), "traffic-duration_ms": "900000"},
    )
    box = client.post(LAMBDA_URL, {**huge, "_estimate": "1"}, **HTMX)
    assert box.status_code == 200
    # The figure is what the price table says, readable (no overflow, no exponent).
    assert "About $120,000,834,999.20/month" in box.content.decode()
    response = client.post(LAMBDA_URL, huge)
    assert response.status_code in (302, 400), response.status_code


def test_an_absurd_estimate_is_stored_as_no_figure(personas):
    from catalog import services as catalog_services
    from costs.services import instance_cost_store

    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="big-fn", kind="lambda"
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    InstanceCost.objects.create(instance=instance, requests_per_month=10**12, duration_ms=900000)
    # 10^12 requests × 900 s × 10 GB × $0.0000166667: about $150 billion, more than the
    # column holds. It used to fail the deployment's success bookkeeping (numeric overflow).
    instance_cost_store(instance=instance, spec={"kind": "lambda", "memory_size": 10240})
    stored = InstanceCost.objects.get(instance=instance)
    assert stored.monthly_usd is None
    assert stored.note == "Over $9,999,999,999.99 a month: check the traffic figures."


def test_non_numbers_are_refused(client, personas, aws_clean):
    client.force_login(personas["alice"])
    for value in ("NaN", "Infinity", "1e30", "-1", "1.5", "3\x00"):
        data = lambda_data(personas, **{"traffic-requests_per_month": value})
        response = client.post(LAMBDA_URL, data)
        assert response.status_code == 400, value
        box = client.post(LAMBDA_URL, {**data, "_estimate": "1"}, **HTMX)
        assert box.status_code in (200, 400), value
    for value in ("NaN", "Infinity", "-Infinity", "sNaN", "1e30", "0"):
        data = lambda_data(personas, **{"traffic-duration_ms": value})
        assert client.post(LAMBDA_URL, data).status_code == 400, value
    assert not Service.objects.exists()
    assert not InstanceCost.objects.exists()


def test_an_estimate_post_without_htmx_plans_nothing(client, personas, aws_clean):
    client.force_login(personas["alice"])
    audited = AuditEvent.objects.count()
    box = client.post(LAMBDA_URL, {**lambda_data(personas), "_estimate": "1"})
    assert "About $3.60/month" in box.content.decode()
    assert not Deployment.objects.exists()
    assert not Service.objects.exists()
    assert AuditEvent.objects.count() == audited


def test_hostile_cost_cursors(client, personas):
    client.force_login(personas["alice"])
    for after in ("NaN~a", "sNaN~a", "Infinity~a", "1e999999999~a", "~", "-Infinity~"):
        page = client.get(reverse("catalog:service_list"), {"sort": "cost", "after": after})
        assert page.status_code == 200, after


def test_a_tiny_cost_is_not_shown_as_nothing(client, personas, aws_clean):
    client.force_login(personas["alice"])
    data = lambda_data(personas, **{"traffic-requests_per_month": "10", "traffic-duration_ms": ""})
    box = client.post(LAMBDA_URL, {**data, "_estimate": "1"}, **HTMX).content.decode()
    assert "About &lt;$0.01/month" in box  # 10 requests × $0.20 per million


def test_an_adopted_service_counts_in_its_teams_monthly_cost(client, personas, aws_clean):
    from interop.tests.test_adopt_ecs import make_network, make_service

    arn = make_service(make_network(), "web", path="/legacy/*")
    client.force_login(personas["alice"])
    adopt = reverse("interop:adopt", args=["dev"])
    data = {"kind": "ecs", "name": arn, "slug": "web", "owner": personas["payments"].pk}
    assert client.post(adopt, data).status_code == 302
    # 2 tasks × 0.5 vCPU × 730 h × $0.04048 + 2 × 1 GB × 730 h × $0.004445 + 730 ALB-hours
    # × $0.0225 = $52.4651. Adoption used to store no figure: "0 running instances estimated".
    page = client.get(reverse("catalog:team_detail", args=["payments"])).content.decode()
    assert "about $52.47/month" in page
    assert "1 running instance estimated" in page


def test_a_failing_cloudwatch_is_asked_once_not_at_every_form_change(
    client, personas, aws_clean, monkeypatch
):
    from botocore.exceptions import ReadTimeoutError

    from conftest import launch_lambda
    from deployments.tests.test_provision_ecs import run_inline
    from monitoring import selectors as monitoring_selectors

    run_inline(launch_lambda(personas, "thumbs", memory_size=512))
    calls = []

    def hanging(**kwargs):  # what the client raises after the web read timeout
        calls.append(kwargs)
        raise ReadTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com")

    monkeypatch.setattr(monitoring_selectors, "metric_data", hanging)
    client.force_login(personas["alice"])
    update = reverse("deployments:update", args=["thumbs", "dev"])
    form = {"memory_size": "512", "timeout": "10", "handler": "app.handler",
            "runtime": "python3.12", "architecture": "x86_64", "_estimate": "1",
            "traffic-requests_per_month": "", "traffic-duration_ms": ""}  # fmt: skip
    for _change in range(3):
        box = client.post(update, form, **HTMX)
        assert box.status_code == 200
    assert len(calls) == 1
    assert "No expected traffic: requests and duration are not counted." in box.content.decode()


def test_money_is_written_with_separators_and_tiny_figures_are_not_zero():
    from decimal import Decimal

    from costs.templatetags.costs import usd, usd_change

    assert usd(Decimal("1234567.891")) == "$1,234,567.89"
    assert usd(Decimal("0")) == "$0.00"
    assert usd(Decimal("0.0000002")) == "<$0.01"
    assert usd(None) == "–"
    assert usd_change(Decimal("0")) == "no change"
    assert usd_change(Decimal("0.004")) == "+<$0.01"  # was "no change"
    assert usd_change(Decimal("-0.004")) == "−<$0.01"
    assert usd_change(Decimal("-1500")) == "−$1,500.00"
