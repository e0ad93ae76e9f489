"""Factories for monitoring tests: a deployed service instance, deployment rows, clean caches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from deployments.models import Deployment


def _wipe_monitoring_cache():
    client = cache._cache.get_client(write=True)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    for key in client.scan_iter(match=f"{prefix}:*:monitoring:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_monitoring_cache():
    """Forget cached metrics/summaries of earlier tests (this suite's key prefix only)."""
    _wipe_monitoring_cache()
    yield
    _wipe_monitoring_cache()


@pytest.fixture
def make_instance(personas):
    """A service of `kind`, deployed (healthy) in dev, owned by payments (alice, bob)."""

    def make(slug="orders", kind="lambda", env="dev", **instance_fields):
        service = catalog_services.service_create(
            user=personas["alice"], owner=personas["payments"], slug=slug, kind=kind
        )
        instance = catalog_services.instance_get_or_create(
            service=service, environment=personas[env]
        )
        instance.status = ServiceInstance.Status.HEALTHY
        for key, value in instance_fields.items():
            setattr(instance, key, value)
        instance.save()
        return instance

    return make


@pytest.fixture
def make_deployment(personas):
    """A finished deployment row `minutes_ago` (what the engine leaves behind)."""

    def make(instance, minutes_ago=10, action="update", status="succeeded"):
        finished = timezone.now() - timedelta(minutes=minutes_ago)
        return Deployment.objects.create(
            instance=instance,
            action=action,
            spec={},
            status=status,
            requested_by=personas["alice"],
            started_at=finished - timedelta(seconds=30),
            finished_at=finished,
        )

    return make
