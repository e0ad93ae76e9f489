"""The registry of resource kinds: for each, its provisioner and its forms.

Views, services and the API look a kind up here, so adding a kind is one entry (plus its
provisioner and form modules), not edits across the code base.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from deployments import provisioners
from deployments.forms.lambda_ import LambdaServiceForm


@dataclass(frozen=True)
class Kind:
    """One resource kind Slipway can provision."""

    slug: str  # Service.Kind value
    label: str
    provisioner: ModuleType
    create_form: type  # new service + first deployment: (data, files, *, teams)


KINDS: dict[str, Kind] = {
    "lambda": Kind("lambda", "Lambda function", provisioners.for_kind("lambda"), LambdaServiceForm),
}


def get(slug: str) -> Kind:
    try:
        return KINDS[slug]
    except KeyError:
        raise ValueError(f"Unknown resource kind {slug!r}") from None
