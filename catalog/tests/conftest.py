"""Catalog test data, built through the catalog and deployment services."""

import pytest

from catalog import services


@pytest.fixture
def catalog(personas):
    """A few services across two teams, with dependencies between them."""
    alice, charlie = personas["alice"], personas["charlie"]
    made = {
        "checkout": services.service_create(
            user=alice,
            owner=personas["payments"],
            slug="checkout",
            kind="lambda",
            description="Takes card payments at checkout.",
            lifecycle="production",
            tags=["pci", "python"],
        ),
        "ledger": services.service_create(
            user=alice,
            owner=personas["payments"],
            slug="ledger",
            kind="ecs",
            description="Double-entry bookkeeping.",
            tags=["batch"],
        ),
        "indexer": services.service_create(
            user=charlie,
            owner=personas["search"],
            slug="indexer",
            kind="lambda",
            description="Feeds documents to the search cluster.",
            lifecycle="deprecated",
        ),
    }
    services.service_update(
        service=made["checkout"],
        user=alice,
        name="Checkout",
        description=made["checkout"].description,
        lifecycle="production",
        tags=["pci", "python"],
        depends_on=[made["ledger"]],
    )
    return {**personas, **made}


SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def launch(client, personas, *, user, name, environment="dev", confirm=True):
    """Create a Lambda service through the deploy form (plan, then confirm), as a user would.

    Planning reads the emulator; no worker runs, so a confirmed deployment stays queued and its
    instance `deploying` unless the test also starts `celery_worker`.
    """
    from django.urls import reverse

    from deployments.models import Deployment

    client.force_login(user)
    team = personas["search"] if user == personas["charlie"] else personas["payments"]
    response = client.post(
        reverse("deployments:lambda_create"),
        {
            "name": name,
            "owner": team.pk,
            "environment": personas[environment].pk,
            "runtime": "python3.12",
            "handler": "app.handler",
            "source": SOURCE,
            "memory_size": "128",
            "timeout": "3",
            "architecture": "x86_64",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    deployment = Deployment.objects.filter(instance__service__slug=name).latest("pk")
    if confirm:
        assert client.post(reverse("deployments:confirm", args=[deployment.pk])).status_code == 302
        deployment.refresh_from_db()
    return deployment
