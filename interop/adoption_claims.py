"""Which resources adoption may take: in the environment's account and region, of the kind asked
for, and not already in the catalog (adopted, or created by Slipway).

`AdoptedResource` (unique by ARN) is the claim: written with the adopted instance's rows in one
transaction, before Slipway tags anything in AWS, so of two people adopting one resource at the
same moment exactly one gets the rows and the other is told, and nothing of theirs reaches AWS.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

from catalog.models import Environment, ServiceInstance
from interop.adopters import listers
from interop.models import AdoptedResource


def check_scope(arn: str, *, kind: str, arn_service: str, environment: Environment) -> None:
    """Refuse an ARN of another AWS service, account or region than the environment's."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValidationError({"name": "Choose a resource from the Discovery list."})
    service, region, account = parts[2], parts[3], parts[4]
    if service != arn_service:
        raise ValidationError(
            {"name": f"That is not a resource of kind {kind} (its ARN names {service})."}
        )
    if region != environment.region or account not in ("", environment.aws_account_id):
        raise ValidationError(
            {
                "name": f"That resource is in account {account or '-'}, region {region}; "
                f"{environment.name} is account {environment.aws_account_id}, region "
                f"{environment.region}."
            }
        )


def _keys() -> set[str]:
    return {key for lister in listers().values() if (key := getattr(lister, "identity_key", ""))}


def _recording(arns: list[str]):
    """Live catalog instances whose resources record one of `arns` (under an adopter's key)."""
    match = Q()
    for key in _keys():
        match |= Q(**{f"resources__{key}__in": arns})
    return ServiceInstance.objects.filter(match).exclude(status=ServiceInstance.Status.DELETED)


def catalog_holder(arn: str) -> str | None:
    """The slug of the catalog service that already holds `arn`, or None."""
    instance = _recording([arn]).select_related("service").first()
    return instance.service.slug if instance else None


def known_arns(arns: list[str]) -> set[str]:
    """The subset of `arns` the catalog already holds (for Discovery, in one query)."""
    if not arns:
        return set()
    found = set()
    for resources in _recording(arns).values_list("resources", flat=True):
        found |= {resources.get(key) for key in _keys()}
    return found & set(arns)


def claim(arn: str, instance: ServiceInstance) -> None:
    """Inside the rows' transaction: the unique claim (IntegrityError if someone holds it).
    A claim whose instance no longer records the ARN (its service was deleted) is dropped."""
    stale = AdoptedResource.objects.filter(arn=arn).exclude(instance__in=_recording([arn]))
    stale.delete()
    AdoptedResource.objects.create(arn=arn, instance=instance)
