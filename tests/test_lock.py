"""requirements.lock still satisfies pyproject.toml: every runtime dependency pinned within its
range, with hashes, and nothing missing or left over from what the dependencies need here (read
from the installed packages' metadata, which is the lock's: `make install` installs from it).
Offline: nothing is resolved again. When one fails, `make lock` compiles the lock anew."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    version: Version
    marker: Marker | None
    hashes: list[str] = field(default_factory=list)

    def applies(self) -> bool:
        return self.marker is None or self.marker.evaluate({"extra": ""})


def pins() -> dict[str, list[Pin]]:
    found: dict[str, list[Pin]] = {}
    last: Pin | None = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name, version, marker = match.groups()
            last = Pin(Version(version), Marker(marker) if marker else None)
            found.setdefault(canonicalize_name(name), []).append(last)
        elif line.strip().startswith("--hash=") and last is not None:
            last.hashes.append(line.strip().removeprefix("--hash=").rstrip(" \\"))
    return found


def pinned_here(name: str) -> Pin | None:
    return next((pin for pin in pins().get(canonicalize_name(name), []) if pin.applies()), None)


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def needed_here() -> tuple[dict[str, list[Requirement]], list[str]]:
    """Every package the runtime set needs on this interpreter and platform, with what asks for it
    (from pyproject.toml, then each installed package's own requirements, extras included); and
    what could not be walked."""
    wanted: dict[str, list[Requirement]] = {}
    problems: list[str] = []
    queue = [req for req in runtime_requirements() if req.marker is None or req.marker.evaluate({"extra": ""})]
    walked: set[tuple[str, frozenset[str]]] = set()
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        wanted.setdefault(name, []).append(req)
        if (name, frozenset(req.extras)) in walked:
            continue
        walked.add((name, frozenset(req.extras)))
        try:
            requires = metadata.distribution(req.name).requires or []
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name} is not installed")
            continue
        for text in requires:
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                queue.append(child)
    return wanted, problems


def test_every_runtime_dependency_is_pinned_within_its_range_with_hashes() -> None:
    for req in runtime_requirements():
        pin = pinned_here(req.name)
        assert pin is not None, f"{req.name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"requirements.lock pins {req.name} {pin.version}, outside pyproject.toml's {req.specifier}: make lock"
        )
    unhashed = [name for name, found in pins().items() for pin in found if not pin.hashes]
    assert not unhashed, f"pinned without hashes: {unhashed}"


def test_everything_the_runtime_set_needs_here_is_pinned_and_installed_as_pinned() -> None:
    wanted, problems = needed_here()
    assert not problems, problems
    for name, asked in sorted(wanted.items()):
        pin = pinned_here(name)
        assert pin is not None, f"{name} (asked for by {asked[0]}) is not in requirements.lock: run `make lock`"
        for req in asked:
            assert req.specifier.contains(pin.version, prereleases=True), f"{name} {pin.version} does not fit {req}"
        installed = Version(metadata.version(name))
        assert installed == pin.version, f"{name} {installed} is installed, the lock pins {pin.version}: make install"


def test_the_lock_pins_nothing_the_runtime_set_does_not_need() -> None:
    wanted, _ = needed_here()
    extra = sorted(name for name, found in pins().items() if any(p.applies() for p in found) and name not in wanted)
    assert not extra, f"requirements.lock pins what nothing needs any more: {extra}; run `make lock`"
