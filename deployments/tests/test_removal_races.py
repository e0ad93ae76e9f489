"""Removing a service while someone plans a change to it: nothing is left half-made."""

import pytest

from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from deployments import services
from deployments.models import Deployment

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_plan_for_a_service_removed_meanwhile_is_refused_with_a_message(personas):
    service = catalog_services.service_create(
        slug="orders", kind=Service.Kind.LAMBDA, owner=personas["payments"], user=personas["alice"]
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    # Bob's request read the instance; then Alice removed the service before his plan was stored.
    catalog_services.service_delete(service=service, user=personas["alice"])
    assert not ServiceInstance.objects.filter(pk=instance.pk).exists()

    with pytest.raises(services.DeploymentConflict, match="orders was removed while this plan"):
        services._plan_record(
            instance=instance, spec={}, changes=[], user=personas["bob"], action="create"
        )
    assert not Deployment.objects.exists()
