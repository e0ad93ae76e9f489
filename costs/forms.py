"""The traffic figures typed beside a deploy, update or scale form (for the estimate only)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from costs.selectors import assumptions
from portal import forms as portal_forms

# Kinds whose cost depends on traffic: Lambda (requests and duration), API Gateway (requests).
TRAFFIC_KINDS = ("lambda", "apigateway")


class TrafficForm(portal_forms.Form):
    """Expected requests per month (and, for Lambda, their average duration).

    Not part of the AWS spec: AWS never receives them, so they never plan a deployment. Left
    empty, the estimate reads last week's CloudWatch metrics once the service runs.
    """

    prefix = "traffic"

    requests_per_month = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10**12,
        label="Expected requests per month",
        help_text="For the cost estimate only. Empty: last week's metrics once it runs.",
    )
    duration_ms = forms.DecimalField(
        required=False,
        min_value=Decimal("0.1"),
        max_value=900_000,
        max_digits=8,
        decimal_places=1,
        label="Average duration (ms)",
        help_text="For the cost estimate only: how long an invocation takes on average.",
    )

    def __init__(self, *args, kind: str, instance=None, **kwargs):
        stored = assumptions(instance=instance)
        if stored is not None and not args:
            kwargs["initial"] = {
                "requests_per_month": stored.requests_per_month,
                "duration_ms": stored.duration_ms,
            }
        super().__init__(*args, **kwargs)
        if kind != "lambda":
            del self.fields["duration_ms"]

    def figures(self) -> tuple[int | None, Decimal | None]:
        data = self.cleaned_data
        return data.get("requests_per_month"), data.get("duration_ms")
