"""Following Backstage `Location` entities inside one import.

A Location lists other catalog files (`spec.target` / `spec.targets`, relative to the
Location's own file, or URLs). An import reads the files it was given, so following a
Location means finding each target among them: a relative target names an uploaded file by
its path (`./components/x.yaml` beside `all.yaml`), or — when a browser sent bare file names —
by its file name when exactly one uploaded file has it. Targets that are not in the import,
and URLs (never fetched: an import reads nothing from the network), are reported by name so
the user knows which files to add. Locations write nothing: the export is one self-contained
file holding every entity they pointed at.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from typing import TYPE_CHECKING

from interop.backstage import Document, label

if TYPE_CHECKING:
    from interop.import_plan import Plan


def _file_of(doc: Document) -> str:
    return doc.source.rsplit("#", 1)[0]


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/")).lstrip("/")


def check(plan: Plan, docs: list[Document], files) -> None:
    """Report each Location target that is a URL or not among `files`."""
    if not docs:
        return
    uploaded = [_norm(label(name, limit=200)) for name, _content in files]
    names = set(uploaded)
    bare = Counter(posixpath.basename(name) for name in uploaded)
    for doc in docs:
        targets = list(doc.spec.get("targets") or [])
        if doc.spec.get("target"):
            targets.insert(0, doc.spec["target"])
        for target in targets:
            if "://" in target or target.startswith(("url:", "github:")):
                plan.report.warnings.append(
                    f"{doc.source} (Location {label(doc.name)}): target {label(target, limit=120)}"
                    " is a URL; Slipway does not fetch it: add that file to the import."
                )
                continue
            path = _norm(posixpath.join(posixpath.dirname(_norm(_file_of(doc))), target))
            if path in names or bare[posixpath.basename(path)] == 1:
                continue
            plan.report.warnings.append(
                f"{doc.source} (Location {label(doc.name)}): target {label(target, limit=120)} "
                "is not in this import; its entities were not imported."
            )
