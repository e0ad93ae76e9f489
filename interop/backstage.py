"""Reading and writing Backstage `catalog-info.yaml` documents (no database here).

Catalog files are untrusted text, so loading is bounded and builds plain JSON types only:

- a size cap per file (and, for uploads, per import); bytes must be UTF-8;
- libyaml's parser composes each document's node tree (it caps nesting at 1,000 levels);
- then one pass (`_Builder`) turns nodes into str/int/float/bool/null/list/dict and refuses,
  naming the field, whatever PostgreSQL or the JSON columns cannot store or would blow up
  later: `!!binary`, `!!set`, `!!omap`, Python and local tags; nesting deeper than MAX_DEPTH;
  YAML aliases (a shared or cyclic value: no billion-laughs); keys that are not plain text;
  NUL bytes and lone surrogates in any text; non-finite or huge numbers. Dates stay the text
  they were written as (`since: 2024-01-01` is "2024-01-01").

Every problem is a line naming the file, the document (`file.yaml#2`) and the field; nothing
here raises on bad input. Entity-level rules (types of known fields) are in interop/entities.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

MAX_FILE_BYTES = 1024 * 1024  # one catalog-info.yaml; real ones are a few KB
MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # one upload on the web page (the command has no total cap)
MAX_UPLOAD_DOCUMENTS = 5000  # one upload on the web page; the command takes any number
MAX_DEFINITION_CHARS = 256 * 1024  # an API's definition text, stored as is
MAX_DEPTH = 20  # nesting of mappings/lists in one document; real entities use 4 or 5

SUPPORTED_KINDS = ("Group", "User", "System", "Domain", "Component", "API", "Resource", "Location")

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
    "sns": "topic",
    "resource": "resource",
}
# Slipway kinds exported as Backstage `kind: Resource` (infrastructure a component uses).
# "resource" is a catalog-only entry: a Backstage Resource Slipway does not run (yet).
RESOURCE_KINDS = {"dynamodb", "sns", "stepfunctions", "resource"}
# Of those, the kinds whose dependencies the deployments keep in step with the specs (table
# access, topic subscriptions; catalog.services.service_table_uses_sync).
SPEC_DEPENDENCY_KINDS = {"dynamodb", "sns"}
LIFECYCLES = ("experimental", "production", "deprecated")


@dataclass
class Document:
    """One entity as read: where it came from and its parsed body."""

    source: str  # "file.yaml#2"
    body: dict

    @cached_property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @cached_property
    def metadata(self) -> dict:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @cached_property
    def spec(self) -> dict:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @cached_property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @cached_property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _tag_label(tag: str) -> str:
    if tag.startswith("tag:yaml.org,2002:"):
        return "!!" + tag.removeprefix("tag:yaml.org,2002:")
    return quote(tag)


# libyaml's parser (about 10x faster than the pure-Python one) composes the node tree and caps
# nesting at 1,000 levels by itself; _Builder then refuses anything deeper than MAX_DEPTH.
# Without libyaml, the pure-Python composer recurses, and a document nested past Python's
# recursion limit ends as a RecursionError, caught in load().
try:
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - libyaml ships in PyYAML's wheels
    _Parser = None


_CORE = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = f"{_CORE}str", f"{_CORE}map", f"{_CORE}seq"


class _FastResolver(Resolver):
    """YAML's tag resolution, remembered per plain scalar: catalog files repeat the same keys
    and values (`name`, `owner`, `production`...) thousands of times, and each resolution
    runs the implicit-type regexes. No path resolvers are used, so their hooks do nothing."""

    _known: dict[str, str] = {}

    def descend_resolver(self, current_node, current_index):
        return None

    def ascend_resolver(self):
        return None

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return _SEQ if kind is yaml.SequenceNode else _MAP
        if not implicit[0]:
            return _STR  # quoted or block text
        tag = self._known.get(value)
        if tag is None:
            tag = Resolver.resolve(self, kind, value, implicit)
            if len(value) <= 40 and len(self._known) < 20000:
                self._known[value] = tag
        return tag


if _Parser is not None:

    class _Composer(_Parser, _FastResolver):
        def __init__(self, stream):
            _Parser.__init__(self, stream)
            Resolver.__init__(self)

else:  # pragma: no cover

    class _Composer(
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _FastResolver,
    ):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            Resolver.__init__(self)


# Everything a YAML text can make the parser raise: its own errors, and Python's for a
# document nested past the recursion limit or values like `!!int 1e999999`.
LOAD_ERRORS = (yaml.YAMLError, RecursionError, TypeError, ValueError, KeyError, OverflowError)
_KEY_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
MAX_INT = 2**63  # PostgreSQL's bigint; JSON readers lose precision well before it anyway
MAX_PROBLEMS = 10  # per document: the first few say enough
_SAFE = SafeConstructor()  # for YAML's int/float/bool spellings (0x1F, 1_000, .5, yes...)


class _Builder:
    """Node tree → plain JSON values, collecting what is refused (see the module doc).

    One pass builds and checks: a path is only formatted when something is wrong there.
    """

    def __init__(self):
        self.problems: list[str] = []
        self.seen: set[int] = set()

    def refuse(self, path: tuple, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            where = "".join(
                f"[{p}]" if isinstance(p, int) else f".{label(p)}" for p in path
            ).lstrip(".")
            self.problems.append(f"{where or 'the document'}: {message}")

    def build(self, node, path: tuple = (), depth: int = 0):
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.seen:  # only an alias (`*name`) makes a node appear twice
            if not any("aliases" in problem for problem in self.problems):  # say it once
                self.refuse(path, "YAML aliases are not allowed in catalog files.")
            return None
        self.seen.add(id(node))
        if depth >= MAX_DEPTH:
            self.refuse(path, f"nested deeper than {MAX_DEPTH} levels.")
            return None
        if tag == _SEQ:
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if tag != _MAP:
            self.refuse(path, f"the YAML tag {_tag_label(tag)} is not allowed; use plain values.")
            return None
        mapping = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _KEY_TAGS:
                what = "merge keys (<<)" if key_node.tag == f"{_CORE}merge" else "this key"
                self.refuse(path, f"{what}: only plain text keys are allowed.")
                continue
            # A key is the text written: `on:` is "on", not YAML 1.1's True.
            key = key_node.value
            if _BAD_TEXT.search(key):
                self.refuse(path, "a key holds a NUL byte or an unpaired surrogate.")
                continue
            mapping[key] = self.build(value_node, (*path, key), depth + 1)
        return mapping

    def scalar(self, node, path: tuple):
        tag, value = node.tag, node.value
        if tag == _STR or tag == f"{_CORE}timestamp":  # dates stay the text written
            if _BAD_TEXT.search(value):
                self.refuse(path, "NUL bytes and unpaired surrogates are not allowed.")
            return value
        try:
            if tag == f"{_CORE}null":
                return None
            if tag == f"{_CORE}bool":
                return _SAFE.construct_yaml_bool(node)
            if tag == f"{_CORE}int":
                number = _SAFE.construct_yaml_int(node)
                if abs(number) >= MAX_INT:
                    self.refuse(path, "the number is too large.")
                return number
            if tag == f"{_CORE}float":
                number = _SAFE.construct_yaml_float(node)
                if not math.isfinite(number):
                    self.refuse(path, "non-finite numbers (.nan, .inf) are not allowed.")
                return number
        except LOAD_ERRORS:
            self.refuse(path, f"{quote(value)} is not a valid {_tag_label(tag)}.")
            return None
        self.refuse(path, f"the YAML tag {_tag_label(tag)} is not allowed; use plain values.")
        return None


def _documents(text: str):
    """(body, problems) per YAML document of `text`; raises one of LOAD_ERRORS."""
    composer = _Composer(text)
    try:
        while composer.check_node():
            builder = _Builder()
            body = builder.build(composer.get_node())
            yield body, builder.problems
    finally:
        composer.dispose()


def load(
    files: list[tuple[str, bytes | str]],
    *,
    max_total_bytes: int | None = None,
    max_documents: int | None = None,
) -> LoadResult:
    """Parse (name, content) pairs into documents; every problem becomes an error line.

    A file that cannot be read or parsed is skipped whole; a document with a value it may not
    hold (see _Builder) is skipped alone. The caps apply to web uploads; the command
    passes none and takes any number of files.
    """
    result = LoadResult()
    total = 0
    for name, content in files:
        name = label(name, limit=200)
        size = len(content)
        total += size
        if size > MAX_FILE_BYTES:
            result.errors.append(f"{name}: larger than {MAX_FILE_BYTES // 1024} KB; skipped.")
            continue
        if max_total_bytes is not None and total > max_total_bytes:
            result.errors.append(
                f"{name}: the import is larger than {max_total_bytes // 1024 // 1024} MB; "
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
            parsed = list(_documents(content))
        except LOAD_ERRORS as exc:
            result.errors.append(f"{name}: not valid YAML ({_short(exc)}); skipped.")
            continue
        for index, (body, problems) in enumerate(parsed, start=1):
            if body is None and not problems:
                continue  # an empty document between `---` separators
            source = f"{name}#{index}"
            if max_documents is not None and len(result.documents) >= max_documents:
                result.errors.append(
                    f"{source}: more than {max_documents} entities in one upload; stopped. "
                    "Import larger catalogs with `manage.py import_backstage`."
                )
                return result
            if problems:
                result.errors.extend(f"{source}: {problem}" for problem in problems)
                continue
            result.documents.append(Document(source=source, body=body))
    return result


def _short(exc: Exception) -> str:
    return label(" ".join(str(exc).split()), limit=200)


_PLAIN_LABEL = re.compile(r"^[\w./:@ +#-]{0,200}$")


def label(text, *, limit: int = 60) -> str:
    """`text` safe to put in a message (and so in HTML, the audit log and PostgreSQL): plain
    names as they are, anything else as its Python repr, which escapes control characters."""
    text = str(text)
    if _PLAIN_LABEL.match(text) and len(text) <= limit:
        return text
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def quote(text, *, limit: int = 60) -> str:
    """`text` in quotes for a message, control characters escaped, cut to `limit`."""
    shown = repr(str(text))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


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
