"""The shared broker plumbing depends on no service: `messaging/` may import `contracts/` and
`observability/`, never `services/` or the CLI (whose consumer registry names the services)."""

from __future__ import annotations

import ast
from pathlib import Path

MESSAGING = Path(__file__).resolve().parents[2] / "messaging"
FORBIDDEN = ("services", "tocsin_cli")


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_messaging_imports_no_service_and_not_the_cli() -> None:
    offending = {
        f"{path.name}: {module}"
        for path in sorted(MESSAGING.glob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    }
    assert not offending
