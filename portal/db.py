"""Small database helpers shared by the services."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from django.db import transaction


def savepoint_if_in_transaction() -> AbstractContextManager[object]:
    """A block for one INSERT that may lose a race on a unique constraint.

    Inside a caller's transaction a savepoint keeps that transaction usable after the
    IntegrityError; outside one the INSERT is a statement of its own, so no transaction is
    opened and committed around it (two statements saved)."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return contextlib.nullcontext()
