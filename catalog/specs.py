"""A service's catalog data as one typed definition: the settings form, the API's create and
PATCH, and `catalog.services` all check it here, with the same messages.

`ServiceSettings` holds the fields and their limits; `resolve_dependencies` the one rule that
needs the catalog (the services named must exist, and not be the service itself).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from deployments.specs.base import invalid, spec_errors

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MAX_TAGS = 20
MAX_DEPENDENCIES = 50
MAX_DESCRIPTION = 2000


def normalized_words(value):
    """Tags and slugs are kept lowercase, once each, in the order given."""
    if not isinstance(value, list):
        return value
    seen: list = []
    for word in value:
        word = word.strip().lower() if isinstance(word, str) else word
        if word != "" and word not in seen:
            seen.append(word)
    return seen


def _tags(tags: list[str]) -> list[str]:
    bad = [tag for tag in tags if not TAG_RE.match(tag)]
    if bad:
        raise invalid(
            f"Not a tag: {', '.join(bad)}. Use up to 40 letters, digits, dots, hyphens or "
            "underscores."
        )
    if len(tags) > MAX_TAGS:
        raise invalid(f"At most {MAX_TAGS} tags.")
    return tags


Tags = Annotated[
    list[str],
    BeforeValidator(normalized_words),
    AfterValidator(_tags),
    Field(description=f"Lowercase words (at most {MAX_TAGS}), e.g. pci, python, batch."),
]


class ServiceSettings(BaseModel):
    """The catalog data an owner edits: every path that writes it checks it here."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, description="Display name; the slug stays the same.")
    description: str = Field("", max_length=MAX_DESCRIPTION)
    lifecycle: Literal["experimental", "production", "deprecated"] = "experimental"
    system: str = Field("", max_length=100, description="The larger system this is part of.")
    repo_url: str = Field("", max_length=200, description="http(s) URL of the repository.")
    docs_url: str = Field("", max_length=200, description="http(s) URL of the documentation.")
    tags: Tags = Field(default_factory=list)
    depends_on: Annotated[list[str], BeforeValidator(normalized_words)] = Field(
        default_factory=list, description="Slugs of the services this one calls."
    )

    @field_validator("repo_url", "docs_url")
    @classmethod
    def _url(cls, url: str) -> str:
        url = url.strip()
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                raise invalid("Enter a valid URL.") from None
        return url

    @field_validator("depends_on")
    @classmethod
    def _few(cls, slugs: list[str]) -> list[str]:
        if len(slugs) > MAX_DEPENDENCIES:
            raise invalid(f"At most {MAX_DEPENDENCIES} dependencies.")
        return slugs


def check_tags(tags: list[str]) -> list[str]:
    """Tags as stored (lowercase, once each), or Django's ValidationError keyed "tags"."""
    return settings_checked({"name": "-", "tags": tags}).tags


def settings_checked(data: dict) -> ServiceSettings:
    """`data` as ServiceSettings, or Django's ValidationError keyed by field."""
    try:
        return ServiceSettings.model_validate(data)
    except PydanticValidationError as exc:
        errors: dict[str, list[str]] = {}
        for loc, message in spec_errors(exc.errors()):
            errors.setdefault(str(loc[0]) if loc else "__all__", []).append(message)
        raise ValidationError(errors) from None


def resolve_dependencies(*, service, slugs: list[str]) -> list:
    """The services `slugs` name, in order; ValidationError keyed "depends_on" when one is the
    service itself or is not in the catalog."""
    from catalog.models import Service

    if service.slug in slugs:
        raise ValidationError({"depends_on": "A service cannot depend on itself."})
    found = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ValidationError(
            {"depends_on": f"No service named {', '.join(missing)} in the catalog."}
        )
    return [found[slug] for slug in slugs]
