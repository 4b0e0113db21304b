"""Stored API keys: made random and long, kept only as a hash, and managed with `gateway keys`."""

from __future__ import annotations

import asyncio

from gateway.access.keys import hash_key, new_key
from tests.conftest import cli, rows


def test_keys_are_random_and_long() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(key.startswith("gw_") and len(key) >= 43 for key in keys)
    assert hash_key("a") == hash_key("a") != hash_key("b")


def test_cli_creates_lists_and_revokes_keys_storing_only_a_hash(database_url: str) -> None:
    created = cli(database_url, "keys", "create", "alice", "--rate-limit", "5/60")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[0]
    assert created.stdout == key + "\n" and key.startswith("gw_")
    listed = cli(database_url, "keys", "list")
    assert "alice" in listed.stdout and "active" in listed.stdout and "5/60s" in listed.stdout
    assert key not in listed.stdout + listed.stderr
    assert cli(database_url, "keys", "create", "alice").returncode == 1
    dump = repr(asyncio.run(rows(database_url, "SELECT * FROM api_keys")))
    assert key not in dump and hash_key(key) in dump
    assert cli(database_url, "keys", "revoke", "alice").returncode == 0
    assert "revoked" in cli(database_url, "keys", "list").stdout
    assert cli(database_url, "keys", "revoke", "alice").returncode == 1
    bad = cli(database_url, "keys", "create", "bob", "--rate-limit", "lots")
    assert bad.returncode == 2 and "N/SECONDS" in bad.stderr
