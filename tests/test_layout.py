"""The package's layout keeps its promises (docs/architecture.md): each package imports only the
packages its `__init__.py` says it may, other packages use only the names it calls public, and
nobody reaches into another package's private names."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "gateway"
LEAVES = {"settings", "errors", "inputs"}  # the top's leaves: open to every package
COMPOSITION = {"app", "lifespan", "home", "cli", "serve"}  # the top's composition: imported by nobody but itself


def packages() -> list[str]:
    return sorted(path.parent.name for path in ROOT.glob("*/__init__.py"))


def docstring(package: str) -> str:
    return ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""


def may_import(package: str) -> set[str]:
    found = re.search(r"^May import: (.+?)\.$", docstring(package), re.M | re.S)
    assert found, f"gateway/{package}/__init__.py says nothing of what it may import"
    text = found.group(1)
    if text.startswith("every package but"):
        return set(packages()) - {package}
    return {word for word in re.findall(r"[a-z_]+", text) if word in packages()}


def public(package: str) -> set[str]:
    """The public names, as `module.Name`, or `module` for a module whose names are all public."""
    found = re.search(r"^Public: (.+?)(?:\n\n|\Z)", docstring(package), re.M | re.S)
    assert found, f"gateway/{package}/__init__.py names no public surface"
    return set(re.findall(r"`([A-Za-z_.]+)`", found.group(1)))


def owner(module: str) -> str:
    """The package a dotted module (`gateway.x.y`) belongs to, or the top module's own name."""
    return module.split(".")[1]


@dataclass(frozen=True)
class Use:
    where: str  # the importing file
    module: str  # gateway.x.y
    name: str | None  # the name imported from it; None when the module itself is imported


def modules() -> list[Path]:
    return sorted(path for path in ROOT.rglob("*.py") if "__pycache__" not in path.parts)


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)


def is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def uses(path: Path) -> list[Use]:
    """What a file imports of the gateway, each as the module and the name taken from it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gateway":
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                if is_module(whole):
                    found.append(Use(str(path), whole, None))
                else:
                    found.append(Use(str(path), node.module, alias.name))
        elif isinstance(node, ast.Import):
            found += [Use(str(path), a.name, None) for a in node.names if a.name.split(".")[0] == "gateway"]
    return found


def foreign(path: Path) -> list[Use]:
    """The imports of a package's file from other packages (the top's modules left out)."""
    mine = owner(dotted(path))
    return [use for use in uses(path) if use.module.count(".") >= 2 and owner(use.module) != mine]


def third_party(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - {"gateway"}


def files_of(package: str) -> list[Path]:
    return [path for path in modules() if path.relative_to(ROOT).parts[0] == package]


def test_every_package_says_what_it_owns_may_import_and_offers() -> None:
    for package in packages():
        text = docstring(package)
        assert text and may_import(package) is not None and public(package), package
        for name in public(package):
            module = name if is_module(f"gateway.{package}.{name}") else name.rpartition(".")[0]
            assert is_module(f"gateway.{package}.{module}"), f"{package}: {name} names no module"


def test_each_package_imports_only_the_packages_it_may() -> None:
    for package in packages():
        allowed = may_import(package)
        for path in files_of(package):
            for use in uses(path):
                parts = use.module.split(".")
                if len(parts) == 1 or (len(parts) == 2 and not (ROOT / parts[1]).is_dir()):
                    top = parts[1] if len(parts) == 2 else use.name
                    assert top in LEAVES or top == "__version__", f"{path} imports gateway.{top}"
                    continue
                target = owner(use.module)
                assert target == package or target in allowed, f"{path} imports {use.module} ({package} may not)"


def test_packages_use_only_each_others_public_names() -> None:
    for package in packages():
        for path in files_of(package):
            for use in foreign(path):
                target = owner(use.module)
                inner = use.module.split(".", 2)[2]  # the module's name inside its package
                offered = public(target)
                if use.name is None:
                    assert inner in offered or any(name.startswith(inner + ".") for name in offered), (
                        f"{path} imports {use.module}, which {target} does not offer"
                    )
                else:
                    assert inner in offered or f"{inner}.{use.name}" in offered, (
                        f"{path} imports {use.name} from {use.module}, which {target} does not offer"
                    )


def test_nobody_reaches_into_another_packages_private_names() -> None:
    for path in modules():
        tree = ast.parse(path.read_text())
        mine = owner(dotted(path)) if path.parent != ROOT else dotted(path)
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gateway"):
                for alias in node.names:
                    whole = f"{node.module}.{alias.name}"
                    if is_module(whole) and whole.count(".") >= 2 and owner(whole) != mine:
                        aliases[alias.asname or alias.name] = whole
                    elif whole.count(".") >= 3 and owner(node.module) != mine:
                        assert not alias.name.startswith("_"), f"{path} imports {whole}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                assert not node.attr.startswith("_"), f"{path} uses {aliases[node.value.id]}.{node.attr}"


def test_the_tops_leaves_import_no_package_and_nothing_imports_the_composition() -> None:
    for leaf in LEAVES:
        inner = {use.module for use in uses(ROOT / f"{leaf}.py")}
        assert inner <= {f"gateway.{name}" for name in LEAVES} | {"gateway"}, f"{leaf} imports {inner}"
    for path in modules():
        for use in uses(path):
            target = use.module.split(".")[1] if "." in use.module else use.name
            if target in COMPOSITION and dotted(path).split(".")[1] not in COMPOSITION:
                raise AssertionError(f"{path} imports gateway.{target}")
            assert target != "app", f"{path} imports gateway.app"


def test_storage_never_imports_starlette_and_only_the_transport_knows_aiohttp() -> None:
    storage = files_of("db") + [p for p in files_of("history") if p.stem not in ("routes", "reports")]
    for path in storage:
        assert "starlette" not in third_party(path), path
    for package in ("streams", "openai", "history"):  # routes and streams: the client is the upstreams'
        for path in files_of(package):
            assert not third_party(path) & {"httpx", "aiohttp"}, path
    knows_aiohttp = {path.relative_to(ROOT).as_posix() for path in modules() if "aiohttp" in third_party(path)}
    assert knows_aiohttp == {"upstreams/transport.py"}
