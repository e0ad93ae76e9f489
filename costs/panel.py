"""The cost box of the deploy, update and scale forms: today's figure, the change's figure,
and the traffic figures behind them. The form's own view serves it (htmx posts the form with
`_estimate`), so it is built from exactly what the form would plan; nothing is stored then.
"""

from __future__ import annotations

from django.shortcuts import render

from costs import selectors, services
from costs.estimate import Difference
from costs.forms import TRAFFIC_KINDS, TrafficForm

ESTIMATE_FLAG = "_estimate"


class CostPanel:
    """Traffic fields and the estimate of one form page (`instance` None for a new one)."""

    def __init__(self, request, *, kind: str, instance=None, environment=None):
        self.kind = kind
        self.instance = instance
        self.environment = environment or (instance.environment if instance else None)
        data = request.POST if request.method == "POST" else None
        self.traffic = (
            TrafficForm(data, kind=kind, instance=instance) if kind in TRAFFIC_KINDS else None
        )
        # With or without htmx, a post carrying the flag only asks for the figure: never a plan.
        self.wanted = bool(data is not None and ESTIMATE_FLAG in request.POST)

    def is_valid(self) -> bool:
        return self.traffic is None or self.traffic.is_valid()

    def has_errors(self) -> bool:
        """True when the traffic figures posted were refused (the page answers 400)."""
        return bool(self.traffic is not None and self.traffic.errors)

    def estimate(self, form) -> Difference | None:
        """The valid form's spec against today's, with the traffic typed; None if invalid."""
        if not (form.is_valid() and self.is_valid()):
            return None
        environment = self.environment or form.cleaned_data.get("environment")
        if environment is None:
            return None
        requests, duration = self.traffic.figures() if self.traffic else (None, None)
        traffic = selectors.traffic_for(
            instance=self.instance,
            environment=environment,
            kind=self.kind,
            requests_per_month=requests,
            duration_ms=duration,
            stored=self.traffic is None,
        )
        after = selectors.spec_estimate(spec=form.spec(), environment=environment, traffic=traffic)
        today = self.instance.applied_spec if self.instance else None
        before = None
        if today:
            before = selectors.spec_estimate(spec=today, environment=environment, traffic=traffic)
        return Difference(after=after, before=before, traffic_source=traffic.source)

    def reply(self, request, form):
        """The cost box alone, for htmx, as the user changes the form."""
        return render(request, "costs/_form_cost.html", {"cost": self.estimate(form)})

    def save(self, *, instance, user) -> None:
        """Keep the typed traffic figures with the instance the form planned for."""
        if self.traffic is not None and self.traffic.is_valid():
            requests, duration = self.traffic.figures()
            services.instance_traffic_set(
                instance=instance, requests_per_month=requests, duration_ms=duration, user=user
            )
