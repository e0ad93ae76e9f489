"""The code's boundaries, checked as facts about the source (grep-able, so they stay true).

- Provisioners are objects implementing `Provisioner`; nothing looks their functions up with
  `getattr(module, "name", None)`.
- Only the AWS boundary knows about endpoints: no `AWS_ENDPOINT_URL`/`endpoint_url` outside
  portal/aws.py, the settings and the emulator modules; provisioners never ask
  `is_emulator()` (the emulator's gaps are patched inside it, see portal/emulator_*.py).
- No module in deployments/provisioners/ imports the service layer (deployments.services).
- The API's routers import their helpers from api.common, never the router assembly (api.v1).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from deployments import kinds, provisioners
from deployments.provisioners.base import Provisioner

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "var", "node_modules", ".git", "tests", "bench", "migrations"}
PROVISIONERS = ROOT / "deployments" / "provisioners"


def source_files() -> list[Path]:
    """Every application module (tests, benchmarks and migrations aside)."""
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts[:-1]) and path.name != "conftest.py"
    ]


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside functions ("from a import b" → a, a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_walk_finds_the_code_it_checks():
    files = {rel(p) for p in source_files()}
    assert "deployments/provisioners/lambda_.py" in files
    assert "deployments/engine.py" in files
    assert "api/deploy_api.py" in files


def test_every_kind_has_a_provisioner_object_implementing_the_protocol():
    assert set(provisioners.PROVISIONERS) == set(kinds.KINDS)
    for kind, provisioner in provisioners.PROVISIONERS.items():
        assert isinstance(provisioner, Provisioner), kind
        assert provisioner.kind == kind
        assert kinds.get(kind).provisioner is provisioner


def test_no_getattr_lookups_of_provisioner_functions():
    offenders = []
    for path in source_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            in_provisioners = path.is_relative_to(PROVISIONERS)
            if "getattr(" in line and (in_provisioners or "provisioner" in line):
                offenders.append(f"{rel(path)}:{number}: {line.strip()}")
    assert offenders == []


ENDPOINT = re.compile(r"AWS_ENDPOINT_URL|endpoint_url")
# Where endpoints may be named: the boundary, the settings, and the emulator's own modules.
ENDPOINT_ALLOWED = {
    "portal/aws.py",
    "portal/settings.py",
    "portal/settings_test.py",
    "portal/emulator.py",
    "portal/management/commands/aws_emulator.py",
    "portal/management/commands/slipway_ready.py",
}


def test_no_endpoint_url_checks_outside_the_aws_boundary():
    offenders = [
        f"{rel(path)}:{number}: {line.strip()}"
        for path in source_files()
        if rel(path) not in ENDPOINT_ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ENDPOINT.search(line)
    ]
    assert offenders == []


def test_provisioners_never_ask_whether_they_talk_to_the_emulator():
    offenders = [
        f"{rel(path)}:{number}: {line.strip()}"
        for path in PROVISIONERS.glob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ENDPOINT.search(line) or "is_emulator" in line
    ]
    assert offenders == []


def test_provisioners_import_nothing_from_the_service_layer():
    offenders = {
        rel(path): sorted(
            module
            for module in imported_modules(path)
            if module in ("deployments.services", "deployments.views", "deployments.engine")
            or module.startswith("deployments.services.")
        )
        for path in PROVISIONERS.glob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_api_routers_do_not_import_the_router_assembly():
    offenders = [
        rel(path)
        for path in (ROOT / "api").glob("*.py")
        if path.name not in ("v1.py", "urls.py")
        and {"api.v1", "api.v1.api"} & imported_modules(path)
    ]
    assert offenders == []
