"""The price table: AWS on-demand prices as dated data, read from a JSON file in the repository.

`costs/prices/aws-prices.json` holds one entry per region with the date the prices were taken
from AWS's public pricing pages (`as_of`) and those pages' addresses (`sources`). Updating a
price is an edit of that file, no code; nothing here ever asks AWS for prices (the Pricing API
is not called at render time, nor at all).

Tiered prices are lists of [up to, price] pairs in order; `null` as "up to" is the last tier.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PRICE_FILE = Path(__file__).resolve().parent / "prices" / "aws-prices.json"

Tiers = list[tuple[int | None, Decimal]]
Architecture = Literal["x86_64", "arm64"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FargatePrices(_Strict):
    vcpu_hour: Decimal
    gb_hour: Decimal


class AlbPrices(_Strict):
    hour: Decimal
    lcu_hour: Decimal


class LambdaArchitecturePrices(_Strict):
    gb_second_tiers: Tiers
    provisioned_gb_second: Decimal
    provisioned_duration_gb_second: Decimal


class LambdaPrices(_Strict):
    request_per_million: Decimal
    x86_64: LambdaArchitecturePrices
    arm64: LambdaArchitecturePrices

    def for_architecture(self, architecture: Architecture) -> LambdaArchitecturePrices:
        return self.arm64 if architecture == "arm64" else self.x86_64


class ApiGatewayPrices(_Strict):
    rest_per_million_tiers: Tiers
    http_per_million_tiers: Tiers


class RegionPrices(_Strict):
    """Every price Slipway's estimates use, for one region, as of one date."""

    as_of: str
    sources: list[str]
    fargate: dict[Architecture, FargatePrices]
    alb: AlbPrices
    # Named `lambda` in the file (a Python keyword, hence the alias).
    lambda_: LambdaPrices = Field(alias="lambda")
    apigateway: ApiGatewayPrices


class PriceTable(_Strict):
    """The whole price file: hours billed per month and the regions that have prices."""

    currency: Literal["USD"]
    hours_per_month: int
    regions: dict[str, RegionPrices]


def parse_prices(data: dict) -> PriceTable:
    """A PriceTable from the price file's JSON (raises pydantic.ValidationError)."""
    return PriceTable.model_validate(data)


@lru_cache(maxsize=4)
def load_prices(path: Path = PRICE_FILE) -> PriceTable:
    """The price table in `path` (read once per process)."""
    import json

    return parse_prices(json.loads(path.read_text()))
