"""Backstage entity references (`[kind:][namespace/]name`) and the catalog slugs entities get.

Namespaces are kept apart: a reference without one means the namespace of the entity holding
it, and an entity outside the default namespace gets the slug `<namespace>-<name>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_REF = re.compile(r"^(?:(?P<kind>[A-Za-z]+):)?(?:(?P<namespace>[^/:]+)/)?(?P<name>[^/:]+)$")


@dataclass(frozen=True)
class Ref:
    kind: str  # lower case: "group", "component", "api", ...
    namespace: str
    name: str


def parse_ref(value, *, default_kind: str, namespace: str = "default") -> Ref | None:
    """`[kind:][namespace/]name` → Ref, or None when it is not a reference.

    As in Backstage, a reference without a namespace means the namespace of the entity that
    holds it (`namespace`), not "default".
    """
    if not isinstance(value, str):
        return None
    return _parse(value, default_kind, namespace)


@lru_cache(maxsize=65536)
def _parse(value: str, default_kind: str, namespace: str) -> Ref | None:
    # Remembered: a catalog repeats the same owners and systems thousands of times.
    match = _REF.match(value.strip())
    if not match:
        return None
    return Ref(
        kind=(match["kind"] or default_kind).lower(),
        namespace=match["namespace"] or namespace,
        name=match["name"],
    )


def ref_text(kind: str, namespace: str, name: str, *, default_kind: str, own: str) -> str:
    """The shortest reference text that parse_ref() reads back as (kind, namespace, name)
    from an entity in namespace `own` (the kind is always written when default_kind is "")."""
    text = name if namespace == own else f"{namespace}/{name}"
    return text if kind == default_kind else f"{kind}:{text}"


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def catalog_slug(namespace: str, name: str) -> str:
    """The catalog slug (Team.slug, Service.slug) of an entity: its name in the default
    namespace, `<namespace>-<name>` in any other, so two namespaces never share a row.
    entities.py checks that the result is a valid slug."""
    return name if namespace == "default" else f"{namespace}-{name}".lower()


def personal_slug(namespace: str, name: str) -> str:
    """The slug of the team that holds what a Backstage User owns (`user:guest` → user-guest;
    `breanna.davison` → user-breanna-davison)."""
    base = name if namespace == "default" else f"{namespace}-{name}"
    text = _NOT_SLUG.sub("-", f"user-{base}".lower()).strip("-")[:40]
    return text.rstrip("-")
