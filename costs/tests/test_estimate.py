"""The pure estimate: known specs against hand calculations, written out with the prices of
costs/prices/aws-prices.json for us-east-1 (730 hours a month)."""

from decimal import Decimal

import pytest

from costs.estimate import Difference, Traffic, cents, estimate
from costs.prices import load_prices, parse_prices
from deployments.specs import ApiGatewaySpec, DynamoDbSpec, EcsSpec, LambdaSpec

PRICES = load_prices()
REGION = "us-east-1"


def ecs(**fields) -> EcsSpec:
    return EcsSpec(image="nginx:1.27", cpu=512, memory=1024, **fields)


def api(api_type: str) -> ApiGatewaySpec:
    return ApiGatewaySpec(
        api_type=api_type,
        stage="dev",
        routes=[{"method": "GET", "path": "/orders", "target": "orders"}],
    )


def test_the_price_file_is_dated_and_names_its_sources():
    region = PRICES.regions[REGION]
    assert region.as_of == "2026-12-03"
    assert "https://aws.amazon.com/fargate/pricing/" in region.sources
    assert PRICES.hours_per_month == 730


def test_ecs_with_a_load_balancer_and_an_auto_scaling_range():
    spec = ecs(
        desired_count=2,
        load_balancer={"path": "/orders/*"},
        autoscaling={"min": 1, "max": 4, "metric": "cpu", "target": 60},
    )
    found = estimate(spec, Traffic(), PRICES, REGION)
    vcpu = Decimal("2") * Decimal("0.5") * 730 * Decimal("0.04048")  # 29.5504
    memory = Decimal("2") * Decimal("1") * 730 * Decimal("0.004445")  # 6.4897
    alb = 730 * Decimal("0.0225")  # 16.425
    assert found.monthly == vcpu + memory + alb == Decimal("52.4651")
    # 1 task: 14.7752 + 3.24485 + 16.425; 4 tasks: 59.1008 + 12.9794 + 16.425.
    assert found.low == Decimal("34.44505")
    assert found.high == Decimal("88.5052")
    labels = [item.label for item in found.items]
    assert labels == [
        "Fargate vCPU: 2 tasks × 0.5 vCPU",
        "Fargate memory: 2 tasks × 1 GB",
        "Load balancer hours",
    ]
    assert found.price_date == "2026-12-03"
    assert any("LCU" in note for note in found.notes)


def test_ecs_shares_the_environments_load_balancer_hours():
    spec = ecs(desired_count=1, load_balancer={"host": "orders.example.com"})
    found = estimate(spec, Traffic(alb_services=3), PRICES, REGION)
    alb = found.items[-1]
    assert alb.label == "Load balancer hours (1/3 of the environment's shared ALB)"
    assert abs(alb.amount - Decimal("5.475")) < Decimal("1e-9")  # 730 / 3 × 0.0225
    assert found.low is None and found.high is None  # no auto-scaling, no range


def test_lambda_requests_and_duration_from_traffic():
    spec = LambdaSpec(memory_size=512)
    traffic = Traffic(requests_per_month=3_000_000, duration_ms=Decimal("120"))
    found = estimate(spec, traffic, PRICES, REGION)
    requests = Decimal("3") * Decimal("0.20")  # 3 million × $0.20
    duration = Decimal("3000000") * Decimal("0.120") * Decimal("0.5") * Decimal("0.0000166667")
    assert duration == Decimal("3.000006000")  # 180,000 GB-seconds
    assert found.monthly == requests + duration
    assert cents(found.monthly) == Decimal("3.60")


def test_lambda_on_arm_uses_arm_prices():
    spec = LambdaSpec(memory_size=512, architecture="arm64")
    traffic = Traffic(requests_per_month=3_000_000, duration_ms=Decimal("120"))
    found = estimate(spec, traffic, PRICES, REGION)
    assert found.monthly == Decimal("0.60") + 180_000 * Decimal("0.0000133334")


def test_lambda_with_provisioned_concurrency():
    spec = LambdaSpec(memory_size=512, reserved_concurrency=10, provisioned_concurrency=5)
    traffic = Traffic(requests_per_month=3_000_000, duration_ms=Decimal("120"))
    found = estimate(spec, traffic, PRICES, REGION)
    # 5 environments × 0.5 GB × 730 h × 3600 s = 6,570,000 GB-seconds × $0.0000041667
    provisioned = Decimal(6_570_000) * Decimal("0.0000041667")  # 27.3752190
    # Invocations on provisioned environments: 180,000 GB-s × $0.0000097222
    duration = Decimal(180_000) * Decimal("0.0000097222")  # 1.7499960
    assert found.monthly == Decimal("0.60") + duration + provisioned
    assert cents(found.monthly) == Decimal("29.73")
    assert found.items[-1].label == "Provisioned concurrency: 5 × 0.5 GB × 730 h"


def test_lambda_without_traffic_counts_only_provisioned_concurrency():
    found = estimate(LambdaSpec(memory_size=1024), Traffic(), PRICES, REGION)
    assert found.monthly == 0
    assert "No expected traffic" in found.notes[0]


def test_lambda_duration_crosses_a_volume_tier():
    spec = LambdaSpec(memory_size=10240)  # 10 GB
    # 1 billion × 1 s × 10 GB = 10 billion GB-seconds: 6 billion at the first price, 4 at the next.
    traffic = Traffic(requests_per_month=1_000_000_000, duration_ms=Decimal("1000"))
    found = estimate(spec, traffic, PRICES, REGION)
    first, second = found.items[1], found.items[2]
    assert first.quantity == 6_000_000_000 and first.unit_price == Decimal("0.0000166667")
    assert second.quantity == 4_000_000_000 and second.unit_price == Decimal("0.0000150000")
    assert found.monthly == 200 + Decimal("100000.2") + 60000


def test_api_gateway_rest_and_http_prices_differ():
    traffic = Traffic(requests_per_month=10_000_000)
    rest = estimate(api("rest"), traffic, PRICES, REGION)
    http = estimate(api("http"), traffic, PRICES, REGION)
    assert rest.monthly == 10 * Decimal("3.50") == Decimal("35.00")
    assert http.monthly == 10 * Decimal("1.00")
    assert rest.items[0].label == "REST API requests"
    assert http.items[0].label == "HTTP API requests"


def test_api_gateway_rest_tiers():
    found = estimate(api("rest"), Traffic(requests_per_month=500_000_000), PRICES, REGION)
    # 333 million at $3.50, the next 167 million at $2.80.
    assert found.monthly == 333 * Decimal("3.50") + 167 * Decimal("2.80") == Decimal("1633.1")


def test_unknown_region_gives_no_figure_but_says_why():
    found = estimate(ecs(desired_count=1), Traffic(), PRICES, "eu-south-9")
    assert found.monthly is None
    assert found.unavailable == "No prices for region eu-south-9."


def test_kinds_priced_by_use_are_not_estimated():
    spec = DynamoDbSpec(partition_key={"name": "pk", "type": "S"})
    found = estimate(spec, Traffic(), PRICES, REGION)
    assert found.monthly is None
    assert "not estimated" in found.unavailable


def test_difference_from_today():
    before = estimate(ecs(desired_count=2), Traffic(), PRICES, REGION)
    after = estimate(ecs(desired_count=3), Traffic(), PRICES, REGION)
    # One more task: 0.5 × 730 × 0.04048 + 1 × 730 × 0.004445 = 14.7752 + 3.24485
    assert Difference(after=after, before=before).delta == Decimal("18.02005")
    assert Difference(after=after, before=None).delta == after.monthly


def test_a_price_file_without_a_region_is_read_as_such():
    table = parse_prices({"currency": "USD", "hours_per_month": 730, "regions": {}})
    assert estimate(ecs(), Traffic(), table, REGION).unavailable == (
        "No prices for region us-east-1."
    )


@pytest.mark.parametrize("bad", [{"currency": "EUR", "hours_per_month": 730, "regions": {}}])
def test_a_malformed_price_file_is_refused(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        parse_prices(bad)
