"""The package's layout keeps its promises: imports point one way (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"
LEAVES = {"settings", "errors", "access", "metrics", "formats", "llm", "openai_sse", "tables", "tracing", "stamps"}
STORAGE = {"notify", "database", "groupcommit", "store", "search", "keys", "audit", "upkeep", "usage", "export"}
ROUTES = {
    "streaming",
    "v1",
    "routes",
    "admin",
    "relay",
    "resume",
    "streamed",
    "exchange",
    "responses",
    "response_events",
    "response_object",
    "readahead",
    "reports",
}


def imports(module: str) -> set[str]:
    """The top-level names a module imports: `gateway.x` as `x`, anything else by its package."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "gateway" else [f"gateway.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found.add(parts[1] if parts[0] == "gateway" and len(parts) > 1 else f"<{parts[0]}>")
    return found


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def test_the_leaves_import_nothing_of_the_package_but_other_leaves() -> None:
    for module in LEAVES:
        inner = {name for name in imports(module) if not name.startswith("<")}
        assert inner <= LEAVES, f"{module} imports {inner - LEAVES}"


def test_the_storage_never_imports_starlette_nor_the_layers_above_it() -> None:
    above = set(modules()) - LEAVES - STORAGE
    for module in STORAGE:
        found = imports(module)
        assert "<starlette>" not in found, module
        assert not found & above, f"{module} imports {found & above}"


def test_no_route_or_stream_module_knows_the_http_client_and_nothing_imports_the_app() -> None:
    for module in ROUTES:
        assert not imports(module) & {"<httpx>", "<aiohttp>"}, module
    for module in modules():
        assert "app" not in imports(module), f"{module} imports gateway.app"
    knows_aiohttp = {module for module in modules() if "<aiohttp>" in imports(module)}
    assert knows_aiohttp == {"aiohttp_transport"}
