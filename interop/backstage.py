"""Reading and writing Backstage `catalog-info.yaml` documents (no database here).

Loading is safe and bounded: `yaml.safe_load_all` semantics (a SafeLoader subclass that also
refuses YAML aliases, so a small file cannot expand into a huge structure), a size cap per file
and a cap on documents. Anything that is not a mapping with apiVersion/kind/metadata.name is
reported, not crashed on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent

MAX_FILE_BYTES = 1024 * 1024  # one catalog-info.yaml; real ones are a few KB
MAX_TOTAL_BYTES = 8 * 1024 * 1024  # one import (upload or command)
MAX_DOCUMENTS = 2000
MAX_DEFINITION_CHARS = 256 * 1024  # an API's definition text, stored as is

SUPPORTED_KINDS = ("Group", "System", "Component", "API")
KIND_ANNOTATION = "slipway.dev/kind"

# spec.type of a Component → Service.kind. Anything else becomes "ecs" (see kind_for()).
TYPE_TO_KIND = {
    "lambda": "lambda",
    "function": "lambda",
    "serverless": "lambda",
    "service": "ecs",
    "backend": "ecs",
    "website": "ecs",
    "frontend": "ecs",
    "worker": "ecs",
    "container": "ecs",
    "api": "apigateway",
    "gateway": "apigateway",
}
KIND_TO_TYPE = {
    "lambda": "service",
    "ecs": "service",
    "apigateway": "service",
    "dynamodb": "database",
    "stepfunctions": "workflow",
}
# Slipway kinds exported as Backstage `kind: Resource` (infrastructure a component uses).
RESOURCE_KINDS = {"dynamodb"}
LIFECYCLES = ("experimental", "production", "deprecated")


class _NoAliasSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (`*name`): no billion-laughs expansion."""

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None, None, "YAML aliases are not allowed in catalog files", event.start_mark
            )
        return super().compose_node(parent, index)


@dataclass
class Document:
    """One entity as read: where it came from and its parsed body."""

    source: str  # "file.yaml#2"
    body: dict

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def metadata(self) -> dict:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def spec(self) -> dict:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load(files: list[tuple[str, bytes | str]]) -> LoadResult:
    """Parse (name, content) pairs into entity documents; problems become error lines."""
    result = LoadResult()
    total = 0
    for name, content in files:
        size = len(content)
        total += size
        if size > MAX_FILE_BYTES:
            result.errors.append(f"{name}: larger than {MAX_FILE_BYTES // 1024} KB; skipped.")
            continue
        if total > MAX_TOTAL_BYTES:
            result.errors.append(
                f"{name}: the import is larger than {MAX_TOTAL_BYTES // 1024 // 1024} MB; "
                "skipped this and the remaining files."
            )
            break
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError:
                result.errors.append(f"{name}: not UTF-8 text; skipped.")
                continue
        try:
            bodies = list(yaml.load_all(content, Loader=_NoAliasSafeLoader))  # noqa: S506 — safe
        except yaml.YAMLError as exc:
            result.errors.append(f"{name}: not valid YAML ({_short(exc)}); skipped.")
            continue
        for index, body in enumerate(bodies, start=1):
            if body is None:
                continue  # an empty document between `---` separators
            source = f"{name}#{index}"
            if len(result.documents) >= MAX_DOCUMENTS:
                result.errors.append(f"{source}: more than {MAX_DOCUMENTS} entities; stopped.")
                return result
            problem = _shape_problem(body)
            if problem:
                result.errors.append(f"{source}: {problem}")
                continue
            result.documents.append(Document(source=source, body=body))
    return result


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _shape_problem(body) -> str:
    if not isinstance(body, dict):
        return "not a mapping; skipped."
    if not str(body.get("apiVersion", "")).startswith("backstage.io/"):
        return "apiVersion is not backstage.io/…; skipped."
    if not isinstance(body.get("kind"), str):
        return "no kind; skipped."
    meta = body.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return "no metadata.name; skipped."
    if "spec" in body and not isinstance(body["spec"], dict):
        return "spec is not a mapping; skipped."
    return ""


_REF = re.compile(r"^(?:(?P<kind>[A-Za-z]+):)?(?:(?P<namespace>[^/:]+)/)?(?P<name>[^/:]+)$")


@dataclass(frozen=True)
class Ref:
    kind: str  # lower case: "group", "component", "api", ...
    namespace: str
    name: str


def parse_ref(value, *, default_kind: str) -> Ref | None:
    """`[kind:][namespace/]name` → Ref, or None when it is not a reference."""
    if not isinstance(value, str):
        return None
    match = _REF.match(value.strip())
    if not match:
        return None
    return Ref(
        kind=(match["kind"] or default_kind).lower(),
        namespace=match["namespace"] or "default",
        name=match["name"],
    )


def kind_for(spec_type: str, annotations: dict) -> tuple[str, bool]:
    """(Service.kind, deployable?) for a Component.

    The `slipway.dev/kind` annotation wins. Otherwise spec.type is mapped; a type with no
    deployable meaning (library, documentation, ...) still needs a valid Service.kind, so it
    becomes "ecs" — the general-purpose container kind — and is reported; its original
    spec.type is kept and exported back unchanged.
    """
    explicit = str(annotations.get(KIND_ANNOTATION, "")).lower()
    if explicit in ("lambda", "ecs", "apigateway"):
        return explicit, True
    mapped = TYPE_TO_KIND.get(str(spec_type).lower())
    return (mapped, True) if mapped else ("ecs", False)


def lifecycle_for(value) -> tuple[str, bool]:
    """(catalog lifecycle, exact?): unknown lifecycles become experimental."""
    text = str(value or "").lower()
    return (text, True) if text in LIFECYCLES else ("experimental", False)


class _NoAliasSafeDumper(yaml.SafeDumper):
    """Write repeated values out in full: our own loader refuses aliases."""

    def ignore_aliases(self, data):
        return True


def dump(entities: list[dict]) -> str:
    """Entities → one multi-document YAML text."""
    return yaml.dump_all(
        entities, Dumper=_NoAliasSafeDumper, sort_keys=False, allow_unicode=True, width=100
    )


def files_from_paths(paths) -> list[tuple[str, bytes]]:
    """(relative name, content) of each .yaml/.yml file given, or found under a given folder."""
    from pathlib import Path

    found: list[tuple[str, bytes]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            candidates = [path]
        for candidate in candidates:
            if candidate.is_file():
                # Read one byte past the cap, so load() can say the file is too large.
                with candidate.open("rb") as handle:
                    found.append((str(candidate), handle.read(MAX_FILE_BYTES + 1)))
    return found
