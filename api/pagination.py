"""Paging for the API's list endpoints: every list is bounded, none can be asked for whole.

- Short lists (teams, environments) use django-ninja's own `CursorPagination` (keyset on a
  unique column, `?page_size=` capped at MAX_PAGE_SIZE, `next`/`previous` links).
- Services use the catalog's keyset instead (`catalog.search`): the same sorts as the catalog
  page (name, -name, newest, oldest — ninja's cursor pages one fixed ordering and breaks ties
  with an OFFSET, ours breaks them on the primary key), the same filters and the same cached
  facet counts, so the API and the page answer a query alike and share the cache.
"""

from __future__ import annotations

from typing import Any, Literal

from ninja import Field, Schema
from ninja.pagination import CursorPagination

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class BoundedCursorPagination(CursorPagination):
    """ninja's cursor pagination with Slipway's page sizes, documented in the schema."""

    class Input(Schema):
        page_size: int | None = Field(
            None,
            ge=1,
            description=f"Items per page: {DEFAULT_PAGE_SIZE} by default, at most "
            f"{MAX_PAGE_SIZE} (larger values are capped).",
        )
        cursor: str | None = Field(None, description="The `next`/`previous` link's cursor.")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("page_size", DEFAULT_PAGE_SIZE)
        kwargs.setdefault("max_page_size", MAX_PAGE_SIZE)
        super().__init__(**kwargs)


class ServiceQuery(Schema):
    """Filters, sort and page of `GET /services` (all optional; filters combine with AND)."""

    q: str = Field("", max_length=100, description="Words in the slug, name, description, tags.")
    owner: str = Field("", max_length=50, description="Owner team slug.")
    kind: Literal["", "lambda", "ecs", "apigateway"] = ""
    lifecycle: Literal["", "experimental", "production", "deprecated"] = ""
    environment: str = Field(
        "", max_length=50, description="Environment slug: services deployed there."
    )
    status: Literal["", "not_deployed", "deploying", "healthy", "failed", "drifted", "deleted"] = (
        Field("", description="Instance status (in `environment` when given).")
    )
    sort: Literal["name", "-name", "newest", "oldest"] = "name"
    limit: int = Field(
        DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Items per page (at most {MAX_PAGE_SIZE}).",
    )
    cursor: str = Field(
        "", max_length=120, description="`next_cursor` of the previous page (same sort)."
    )


class FacetOptionOut(Schema):
    value: str
    label: str
    count: int
    selected: bool


class FacetOut(Schema):
    name: str = Field(..., description="The filter parameter this facet sets.")
    label: str
    options: list[FacetOptionOut]
    hidden: int = Field(0, description="Options left out of a long list (small teams).")
