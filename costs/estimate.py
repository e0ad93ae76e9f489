"""The monthly cost of a spec: typed spec + traffic assumptions + price table → line items.

Pure: no database, no AWS, no clock. Every figure is a line item, quantity × unit price, so the
page can show the formula behind the total. A month is the price table's `hours_per_month`
(730, as AWS's own calculator counts).

What is counted, per kind:
- ECS: Fargate vCPU-hours and GB-hours × tasks (the desired count; with auto-scaling also the
  range from min to max tasks), and, with a load balancer, this service's share of the
  environment's shared ALB hours. ALB LCUs, data transfer, logs and public IPv4 are not counted.
- Lambda: requests and GB-seconds of duration (from the traffic assumptions), and provisioned
  concurrency. With provisioned concurrency, all duration is priced at the provisioned rate.
- API Gateway: requests (REST and HTTP APIs have their own tiered prices).
- DynamoDB, SNS, Step Functions: not estimated (priced by use Slipway has no figures for).
The free tier is never subtracted: it belongs to the account, not to one service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from costs.prices import PriceTable, RegionPrices, Tiers
from deployments.specs import ApiGatewaySpec, EcsSpec, LambdaSpec, Spec

MILLION = Decimal(1_000_000)
SECONDS_PER_HOUR = 3600
CENT = Decimal("0.01")
NOT_ESTIMATED = {
    "dynamodb": "DynamoDB on-demand is priced per request and per GB stored; not estimated.",
    "sns": "SNS is priced per message published and delivered; not estimated.",
    "stepfunctions": "Step Functions is priced per state transition; not estimated.",
}


@dataclass(frozen=True)
class Traffic:
    """What the estimate assumes about use, and where the figures came from."""

    requests_per_month: int | None = None
    duration_ms: Decimal | None = None
    source: str = ""  # "your figures" or "CloudWatch, last 7 days"; empty without figures
    # How many services share the environment's load balancer (its hours are split evenly).
    alb_services: int = 1


@dataclass(frozen=True)
class LineItem:
    """One charge: `quantity` `unit`s at `unit_price` dollars each."""

    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Estimate:
    """The monthly cost of one spec in one region.

    `monthly` is None when it cannot be given (`unavailable` says why). `low`/`high` are the
    auto-scaling range (min and max tasks) when the spec has one.
    """

    region: str
    price_date: str = ""
    items: tuple[LineItem, ...] = ()
    low: Decimal | None = None
    high: Decimal | None = None
    unavailable: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def monthly(self) -> Decimal | None:
        if self.unavailable:
            return None
        return sum((item.amount for item in self.items), Decimal(0))


def cents(amount: Decimal) -> Decimal:
    """Dollars rounded to the cent, as pages show them."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def tiered(label: str, quantity: Decimal, unit: str, tiers: Tiers) -> list[LineItem]:
    """Line items for `quantity` across volume tiers ([up to, price] pairs, None = no limit);
    one item per tier reached, labelled with its range when there are several."""
    segments: list[tuple[Decimal, Decimal, Decimal]] = []  # (from, to, price)
    floor = Decimal(0)
    for upto, price in tiers:
        top = quantity if upto is None else min(quantity, Decimal(upto))
        if top > floor or not segments:
            segments.append((floor, top, price))
        if upto is None or quantity <= upto:
            break
        floor = Decimal(upto)
    if len(segments) == 1:
        low, top, price = segments[0]
        return [LineItem(label, top - low, unit, price)]
    return [
        LineItem(f"{label} ({low:,f}–{top:,f} {unit})", top - low, unit, price)
        for low, top, price in segments
    ]


def _fargate_items(spec: EcsSpec, tasks: int, prices: RegionPrices, hours: int) -> list[LineItem]:
    rate = prices.fargate["x86_64"]
    vcpu = Decimal(spec.cpu) / 1024
    gb = Decimal(spec.memory) / 1024
    return [
        LineItem(f"Fargate vCPU: {tasks} tasks × {vcpu:g} vCPU", tasks * vcpu * hours, "vCPU-hours",
                 rate.vcpu_hour),
        LineItem(f"Fargate memory: {tasks} tasks × {gb:g} GB", tasks * gb * hours, "GB-hours",
                 rate.gb_hour),
    ]  # fmt: skip


def _ecs(spec: EcsSpec, traffic: Traffic, prices: RegionPrices, hours: int) -> Estimate:
    shared = []
    notes = ["Data transfer, CloudWatch Logs and public IPv4 addresses are not counted."]
    if spec.load_balancer is not None:
        sharing = max(traffic.alb_services, 1)
        label = "Load balancer hours"
        if sharing > 1:
            label += f" (1/{sharing} of the environment's shared ALB)"
        shared.append(LineItem(label, Decimal(hours) / sharing, "ALB-hours", prices.alb.hour))
        notes.insert(0, "ALB LCUs (connections, bytes, rule evaluations) are not counted.")
    items = _fargate_items(spec, spec.desired_count, prices, hours) + shared
    low = high = None
    if spec.autoscaling is not None:
        extra = sum((item.amount for item in shared), Decimal(0))

        def total(tasks: int) -> Decimal:
            fargate = _fargate_items(spec, tasks, prices, hours)
            return sum((item.amount for item in fargate), extra)

        low, high = total(spec.autoscaling.min), total(spec.autoscaling.max)
    return Estimate(region="", items=tuple(items), low=low, high=high, notes=tuple(notes))


def _lambda(spec: LambdaSpec, traffic: Traffic, prices: RegionPrices, hours: int) -> Estimate:
    rate = prices.lambda_.for_architecture(spec.architecture)
    gb = Decimal(spec.memory_size) / 1024
    items: list[LineItem] = []
    notes: list[str] = []
    if traffic.requests_per_month is not None:
        requests = Decimal(traffic.requests_per_month)
        items.append(
            LineItem("Lambda requests", requests / MILLION, "million requests",
                     prices.lambda_.request_per_million)
        )  # fmt: skip
        if traffic.duration_ms is not None:
            gb_seconds = requests * traffic.duration_ms / 1000 * gb
            ms = traffic.duration_ms.normalize()
            label = f"Lambda duration: {requests:,} × {ms:f} ms × {gb:g} GB"
            if spec.provisioned_concurrency:
                rate_ = rate.provisioned_duration_gb_second
                items.append(LineItem(label + " (provisioned)", gb_seconds, "GB-seconds", rate_))
            else:
                items += tiered(label, gb_seconds, "GB-seconds", rate.gb_second_tiers)
        else:
            notes.append("No average duration given: duration is not counted.")
    else:
        notes.append("No expected traffic: requests and duration are not counted.")
    if spec.provisioned_concurrency:
        seconds = Decimal(hours * SECONDS_PER_HOUR)
        items.append(
            LineItem(
                f"Provisioned concurrency: {spec.provisioned_concurrency} × {gb:g} GB × {hours} h",
                spec.provisioned_concurrency * gb * seconds,
                "GB-seconds",
                rate.provisioned_gb_second,
            )
        )
    return Estimate(region="", items=tuple(items), notes=tuple(notes))


def _apigateway(spec: ApiGatewaySpec, traffic: Traffic, prices: RegionPrices) -> Estimate:
    if traffic.requests_per_month is None:
        return Estimate(region="", notes=("No expected traffic: requests are not counted.",))
    millions = Decimal(traffic.requests_per_month) / MILLION
    notes: list[str] = []
    if spec.api_type == "http":
        label, per_request = "HTTP API requests", prices.apigateway.http_per_million_tiers
        notes.append("HTTP APIs meter each 512 KB of a request as one request; counted as one.")
    else:
        label, per_request = "REST API requests", prices.apigateway.rest_per_million_tiers
    # The file's tiers count requests; the line items count millions of them.
    tiers: Tiers = [
        (None if upto is None else upto // 1_000_000, price) for upto, price in per_request
    ]
    notes.append("Data transfer and caching are not counted.")
    items = tiered(label, millions, "million requests", tiers)
    return Estimate(region="", items=tuple(items), notes=tuple(notes))


def estimate(spec: Spec, traffic: Traffic, table: PriceTable, region: str) -> Estimate:
    """The monthly cost of `spec` in `region`, with its line items."""
    prices = table.regions.get(region)
    if prices is None:
        return Estimate(region=region, unavailable=f"No prices for region {region}.")
    hours = table.hours_per_month
    if isinstance(spec, EcsSpec):
        found = _ecs(spec, traffic, prices, hours)
    elif isinstance(spec, LambdaSpec):
        found = _lambda(spec, traffic, prices, hours)
    elif isinstance(spec, ApiGatewaySpec):
        found = _apigateway(spec, traffic, prices)
    else:
        reason = NOT_ESTIMATED.get(spec.kind, f"{spec.kind} is not estimated.")
        return Estimate(region=region, price_date=prices.as_of, unavailable=reason)
    return Estimate(
        region=region,
        price_date=prices.as_of,
        items=found.items,
        low=found.low,
        high=found.high,
        notes=found.notes,
    )


@dataclass(frozen=True)
class Difference:
    """A change's cost: the estimate after it, the one before (None for a new service)."""

    after: Estimate
    before: Estimate | None
    traffic_source: str = ""  # where the traffic figures came from ("" = none assumed)

    @property
    def delta(self) -> Decimal | None:
        """After minus before; None when either side has no figure."""
        after = self.after.monthly
        if after is None:
            return None
        if self.before is None:
            return after
        before = self.before.monthly
        return None if before is None else after - before
