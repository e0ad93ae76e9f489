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
