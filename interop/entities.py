"""The shape of each Backstage entity kind Slipway imports, checked before anything is written.

backstage.load() guarantees plain JSON values; this module checks that the fields the
importer reads have the types and sizes it stores (pydantic, strict: no coercion of `5` to
"5" or of a list to text), the way Backstage's own validator would. Fields Slipway does not
read are allowed and kept. Each problem is one line naming the field; the importer prefixes
the file, document and entity.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from catalog.models import slug_validator
from interop.backstage import Document, label, quote
from interop.refs import catalog_slug

DESCRIPTION_MAX = 2000  # the catalog's own cap for a service description
TITLE_MAX = 200  # EntityRecord.title
MAX_TAGS = 20
MAX_LIST = 500  # dependsOn, members, providesApis...: far beyond any real entity

# Backstage's own rule for names and namespaces (1–63 characters).
_BACKSTAGE_NAME = re.compile(r"^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$")
_SLUG = re.compile(slug_validator.regex.pattern)

Str63 = Annotated[str, StringConstraints(max_length=63)]
Str100 = Annotated[str, StringConstraints(max_length=100)]
Ref = Annotated[str, StringConstraints(max_length=255)]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]


class _Model(BaseModel):
    # strict: a number is not text and text is not a list; extra: Backstage has many more
    # fields (uid, etag, spec.profile.picture, ...) that are kept as they are.
    model_config = ConfigDict(strict=True, extra="allow")


class _Link(_Model):
    url: Annotated[str, StringConstraints(max_length=2000)]
    title: Str100 | None = None
    icon: Str63 | None = None
    type: Str63 | None = None


class _Metadata(_Model):
    name: str
    namespace: Str63 | None = None
    title: Annotated[str, StringConstraints(max_length=TITLE_MAX)] | None = None
    description: Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)] | None = None
    labels: dict[Str63, Annotated[str, StringConstraints(max_length=255)]] | None = None
    annotations: dict[Annotated[str, StringConstraints(max_length=255)], str] | None = None
    tags: list[Tag] | None = None
    links: list[_Link] | None = None


class _Profile(_Model):
    displayName: Str100 | None = None  # noqa: N815 — Backstage's field name
    email: Annotated[str, StringConstraints(max_length=255)] | None = None


class _UserProfile(_Profile):
    picture: Annotated[str, StringConstraints(max_length=2000)] | None = None


class _UserSpec(_Model):
    profile: _UserProfile | None = None
    memberOf: list[Ref] | None = None  # noqa: N815


class _DomainSpec(_Model):
    owner: Ref
    subdomainOf: Ref | None = None  # noqa: N815
    type: Str63 | None = None


class _ResourceSpec(_Model):
    type: Str63
    owner: Ref
    system: Str100 | None = None
    dependsOn: list[Ref] | None = None  # noqa: N815
    dependencyOf: list[Ref] | None = None  # noqa: N815


class _LocationSpec(_Model):
    type: Str63 | None = None
    target: Annotated[str, StringConstraints(max_length=2000)] | None = None
    targets: list[Annotated[str, StringConstraints(max_length=2000)]] | None = None


class _GroupSpec(_Model):
    type: Str63 | None = None
    profile: _Profile | None = None
    parent: Ref | None = None
    children: list[Ref] | None = None
    members: list[Ref] | None = None


class _SystemSpec(_Model):
    type: Str63 | None = None  # stored as the record's spec_type, a string column
    owner: Ref
    domain: Ref | None = None


class _ComponentSpec(_Model):
    type: Str63 | None = None
    lifecycle: Str63 | None = None
    owner: Ref
    system: Str100 | None = None
    subcomponentOf: Ref | None = None  # noqa: N815
    providesApis: list[Ref] | None = None  # noqa: N815
    consumesApis: list[Ref] | None = None  # noqa: N815
    dependsOn: list[Ref] | None = None  # noqa: N815


class _ApiSpec(_ComponentSpec):
    definition: str | dict | None = None


class _Entity(_Model):
    apiVersion: str  # noqa: N815
    kind: str
    metadata: _Metadata


SPECS = {
    "Group": _GroupSpec,
    "User": _UserSpec,
    "System": _SystemSpec,
    "Domain": _DomainSpec,
    "Component": _ComponentSpec,
    "API": _ApiSpec,
    "Resource": _ResourceSpec,
    "Location": _LocationSpec,
}
# Kinds that become a catalog row (Team or Service) and so need a slug for a name; the others
# follow Backstage's own, wider rule (`breanna.davison`).
SLUG_KINDS = {"Group", "Component", "API", "Resource"}


def shape_problems(doc: Document) -> list[str]:
    """Problems with the envelope every entity has (apiVersion, kind, metadata.name)."""
    body = doc.body
    if not isinstance(body, dict):
        return ["not a mapping; skipped."]
    if not isinstance(body.get("apiVersion"), str) or not body["apiVersion"].startswith(
        "backstage.io/"
    ):
        return ["apiVersion is not backstage.io/…; skipped."]
    if not isinstance(body.get("kind"), str):
        return ["no kind; skipped."]
    meta = body.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return ["no metadata.name; skipped."]
    if "spec" in body and not isinstance(body["spec"], dict):
        return ["spec is not a mapping; skipped."]
    return []


def entity_problems(doc: Document) -> list[str]:
    """Problems with the fields of a supported kind, each naming the field."""
    problems = []
    name = doc.metadata.get("name", "")
    namespace = doc.metadata.get("namespace")
    if not _BACKSTAGE_NAME.match(name):
        problems.append(
            f"metadata.name: {quote(name)} is not a valid name{_why(name)}; use 1–63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit."
        )
    elif doc.kind in SLUG_KINDS and not _SLUG.match(name):
        problems.append(f"metadata.name: {slug_validator.message} Got {quote(name)}.")
    if isinstance(namespace, str) and not _BACKSTAGE_NAME.match(namespace):
        problems.append(f"metadata.namespace: {quote(namespace)} is not a Backstage namespace.")
    elif (
        doc.kind in SLUG_KINDS
        and doc.namespace != "default"  # in the default namespace the slug is the name
        and not problems
        and not _SLUG.match(catalog_slug(doc.namespace, name))
    ):
        problems.append(
            f"metadata.namespace: {doc.namespace}/{name} needs the catalog name "
            f"{quote(catalog_slug(doc.namespace, name))}, which is not a valid slug "
            f"({slug_validator.message})"
        )
    try:
        _Entity.model_validate(doc.body)
    except ValidationError as exc:
        problems += _lines(exc)
    try:
        SPECS[doc.kind].model_validate(doc.body.get("spec") or {})
    except ValidationError as exc:
        problems += _lines(exc, prefix="spec")
    tags = doc.metadata.get("tags")
    if isinstance(tags, list) and len(tags) > MAX_TAGS:
        problems.append(f"metadata.tags: at most {MAX_TAGS} tags.")
    for key, value in doc.spec.items():
        if isinstance(value, list) and len(value) > MAX_LIST:
            problems.append(f"spec.{label(key)}: at most {MAX_LIST} entries.")
    return problems


def _why(name: str) -> str:
    """Which character makes a name invalid, said plainly (the usual case is a space)."""
    if not name:
        return " (it is empty)"
    if len(name) > 63:
        return " (longer than 63 characters)"
    for char in name:
        if char == " ":
            return " (it contains a space)"
        if not (char.isascii() and (char.isalnum() or char in "-_.")):
            return f" (it contains {quote(char)})"
    return ""


def _lines(exc: ValidationError, *, prefix: str = "") -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False)[:10]:
        parts = [prefix] if prefix else []
        parts += [label(part) if isinstance(part, str) else str(part) for part in error["loc"]]
        where = ".".join(parts) or "the document"
        lines.append(f"{where}: {error['msg']}.")
    return lines
