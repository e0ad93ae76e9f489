"""The Metrics tab: values put into CloudWatch come back in the charts, in ONE GetMetricData."""

import json
import re
import time
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from monitoring import charts
from portal.aws import aws_client, call_counts, interactive

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def put(namespace, metric, dims, points):
    """points: [(epoch seconds, value)]"""
    aws_client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": datetime.fromtimestamp(ts, tz=UTC),
                "Value": value,
            }
            for ts, value in points
        ],
    )


def chart_data(html: str, key: str) -> dict:
    match = re.search(
        rf'<script id="chart-data-{key}" type="application/json">(.*?)</script>', html
    )
    assert match, f"no chart data for {key}"
    return json.loads(match.group(1))


def minutes_ago(n: int) -> int:
    return (int(time.time()) // 60 - n) * 60


def series(data: dict, label: str) -> dict[int, float]:
    return {ts: v for s in data["series"] if s["label"] == label for ts, v in s["points"]}


def test_lambda_metrics_and_deploy_marker_are_on_the_page(
    client, personas, aws_clean, make_instance, make_deployment
):
    instance = make_instance(slug="orders")
    dims = {"FunctionName": "orders-dev"}
    put("AWS/Lambda", "Invocations", dims, [(minutes_ago(5), 42), (minutes_ago(4), 57)])
    put("AWS/Lambda", "Errors", dims, [(minutes_ago(4), 3)])
    put("AWS/Lambda", "Duration", dims, [(minutes_ago(4), 120.0), (minutes_ago(4), 80.0)])
    deployment = make_deployment(instance, minutes_ago=6)

    client.force_login(personas["charlie"])  # every signed-in user may read
    response = client.get(reverse("monitoring:metrics", args=["orders"]))
    html = response.content.decode()

    assert response.status_code == 200
    invocations = chart_data(html, "invocations")
    assert series(invocations, "Invocations") == {minutes_ago(5): 42.0, minutes_ago(4): 57.0}
    assert series(invocations, "Errors") == {minutes_ago(4): 3.0}
    assert series(chart_data(html, "duration"), "Average") == {minutes_ago(4): 100.0}
    # Legend, units, the deployment marker on every chart, p95 honestly unavailable here.
    assert "latest 57" in html
    assert "(ms)" in html
    assert html.count('<g class="marker marker-deploy">') == 3
    assert f"Deployment #{deployment.pk} (update) succeeded" in html
    assert "p95 unavailable: the embedded emulator cannot compute percentiles" in html
    assert 'aria-current="page">Metrics' in html


def test_one_get_metric_data_per_page_and_none_on_a_cached_refresh(
    client, personas, aws_clean, make_instance
):
    make_instance(slug="orders")
    client.force_login(personas["alice"])
    url = reverse("monitoring:metrics", args=["orders"])

    before = call_counts()
    assert client.get(url).status_code == 200
    first = call_counts() - before
    assert first[("cloudwatch", "GetMetricData")] == 1

    before = call_counts()
    html = client.get(url).content.decode()
    assert (call_counts() - before)[("cloudwatch", "GetMetricData")] == 0
    assert "from cache" in html


def test_range_switch_changes_the_period_and_returns_only_the_charts(
    client, personas, aws_clean, make_instance
):
    make_instance(slug="orders")
    put("AWS/Lambda", "Invocations", {"FunctionName": "orders-dev"}, [(minutes_ago(300), 9)])
    client.force_login(personas["alice"])
    url = reverse("monitoring:metrics", args=["orders"])

    html = client.get(url, {"range": "24h"}, headers={"HX-Request": "true"}).content.decode()

    assert html.lstrip().startswith('<div id="charts" data-range="24h"')
    assert "one point per 300 s" in html
    bucket = minutes_ago(300) // 300 * 300
    assert series(chart_data(html, "invocations"), "Invocations") == {bucket: 9.0}
    assert "Alarms" not in html  # the fragment only


def test_ecs_and_api_pages_ask_for_their_own_metrics(client, personas, aws_clean, make_instance):
    make_instance(
        slug="web",
        kind="ecs",
        resources={"service_arn": "arn:aws:ecs:us-east-1:123456789012:service/main/web-dev"},
    )
    make_instance(slug="edge", kind="apigateway", applied_spec={"stage_name": "v1"})
    put(
        "AWS/ECS",
        "CPUUtilization",
        {"ClusterName": "main", "ServiceName": "web-dev"},
        [(minutes_ago(3), 61.5)],
    )
    put("AWS/ApiGateway", "5XXError", {"ApiName": "edge-dev", "Stage": "v1"}, [(minutes_ago(3), 4)])
    client.force_login(personas["alice"])

    ecs = client.get(reverse("monitoring:metrics", args=["web"])).content.decode()
    api = client.get(reverse("monitoring:metrics", args=["edge"])).content.decode()

    assert series(chart_data(ecs, "utilisation"), "CPU") == {minutes_ago(3): 61.5}
    assert series(chart_data(api, "requests"), "5xx") == {minutes_ago(3): 4.0}
    assert "Latency" in api


def test_gaps_stay_gaps_in_the_drawn_line():
    start, period = 0, 60
    points = [(0, 1.0), (60, 2.0), (240, 3.0), (300, 4.0)]  # 120 and 180 have no data
    svg = charts.render_svg(
        title="t",
        unit="count",
        series=[charts.SeriesData("s", "Sum", points)],
        markers=[],
        start=start,
        end=360,
        period=period,
    )
    assert svg.count("<path") == 2


def test_a_service_never_deployed_says_so(client, personas):
    from catalog import services

    services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="idle", kind="lambda"
    )
    client.force_login(personas["bob"])
    html = client.get(reverse("monitoring:metrics", args=["idle"])).content.decode()
    assert "not deployed anywhere yet" in html


def test_p95_is_asked_of_real_aws_only(settings):
    """The emulator fails a whole GetMetricData on percentiles; real AWS gets p95 in the batch."""
    from monitoring import queries
    from monitoring.targets import Target

    target = Target(
        kind="lambda",
        dimensions={"AWS/Lambda": [{"Name": "FunctionName", "Value": "orders-dev"}]},
        log_group="/aws/lambda/orders-dev",
        alarm_prefix="slipway-dev-orders-",
    )
    settings.AWS_ENDPOINT_URL = ""
    real = queries.metric_queries(target, queries.panels_for(target), 60)
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:1"
    embedded = queries.metric_queries(target, queries.panels_for(target), 60)
    assert [q["MetricStat"]["Stat"] for q in real if q["Id"] == "q1_1"] == ["p95"]
    assert "q1_1" not in [q["Id"] for q in embedded]
    assert len(real) == len(embedded) + 1 <= 500


def test_cloudwatch_refusing_is_a_message_not_an_error(
    client, personas, aws_emulator, make_instance
):
    # The fault proxy cannot speak CloudWatch's CBOR protocol, so a Stubber stands in for AWS.
    from botocore.stub import Stubber

    make_instance(slug="orders")
    client.force_login(personas["alice"])
    with interactive():  # the client a web request gets (short timeouts)
        cloudwatch = aws_client("cloudwatch", environment=personas["dev"])
    with Stubber(cloudwatch) as stub:
        stub.add_client_error(
            "get_metric_data", service_error_code="Throttling", service_message="Rate exceeded"
        )
        response = client.get(reverse("monitoring:metrics", args=["orders"]))
    assert response.status_code == 200
    assert "CloudWatch did not answer: Throttling: Rate exceeded" in response.content.decode()


def test_scale_and_failed_deployments_have_their_own_markers(
    client, personas, aws_clean, make_instance, make_deployment
):
    instance = make_instance(slug="orders")
    make_deployment(instance, minutes_ago=30, action="scale")
    make_deployment(instance, minutes_ago=20, status="rolled_back")
    make_deployment(instance, minutes_ago=24 * 60)  # outside the 1 h window
    client.force_login(personas["alice"])
    html = client.get(reverse("monitoring:metrics", args=["orders"])).content.decode()
    panel = html.split('id="panel-invocations"')[1].split("</figure>")[0]
    assert panel.count("marker-scale") == 1
    assert panel.count("marker-failed") == 1
    assert panel.count("marker-deploy") == 0


def test_sns_pages_chart_the_first_topic_or_say_there_is_none(
    client, personas, aws_clean, make_instance
):
    make_instance(
        slug="events", kind="sns", applied_spec={"kind": "sns", "topics": [{"name": "placed"}]}
    )
    queues = [{"name": "all", "topic": "events/placed"}]
    make_instance(slug="audit", kind="sns", applied_spec={"kind": "sns", "queues": queues})
    put(
        "AWS/SNS",
        "NumberOfMessagesPublished",
        {"TopicName": "events-dev-placed"},
        [(minutes_ago(3), 7)],
    )
    client.force_login(personas["alice"])

    events = client.get(reverse("monitoring:metrics", args=["events"])).content.decode()
    audit = client.get(reverse("monitoring:metrics", args=["audit"]))

    assert series(chart_data(events, "messages"), "Published") == {minutes_ago(3): 7.0}
    assert audit.status_code == 200
    assert 'Published: <em class="muted">the service has no topic of its own, only queues' in (
        audit.content.decode()
    )
