"""The upstreams, from an optional YAML file (`GATEWAY_CONFIG`) in the shape of LiteLLM's proxy
`config.yaml`, so an operator can move over with the file they have.

The part of LiteLLM's file that routing needs is read: `model_list` (each entry's `model_name`,
the alias clients send, `*` for any other; `litellm_params` `model` as `<provider>/<name>` with a
provider of providers/catalogue.py (`openai`, `azure`, `anthropic`, `groq`, … `mock`), `api_base`,
`api_key`, `api_version`, `rpm`, `timeout`, `weight`; `model_info.id`), `router_settings`
(`num_retries`, `allowed_fails`, `cooldown_time`, `routing_strategy`) and
`litellm_settings.fallbacks`. A key LiteLLM knows and the gateway does not support is refused by
name, never ignored; a key is read only from the environment (`os.environ/NAME`, or when the entry
names none, the provider's own variable as LiteLLM reads it, `GROQ_API_KEY`…), never from the file.
Without a file, the environment variables make one upstream (`OPENAI_BASE_URL` and
`OPENAI_API_KEY`, or the mock).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.settings import ConfigError, Settings
from gateway.upstreams.entry import Bad, Deployment, keys, mapping, number, read
from gateway.upstreams.providers.catalogue import PROVIDERS

OPENAI_BASE = PROVIDERS["openai"].api_base
STRATEGIES = ("simple-shuffle", "least-busy")
TOP_KEYS = {"model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables"}
ROUTER_KEYS = {"num_retries", "allowed_fails", "cooldown_time", "routing_strategy", "fallbacks"}
LITELLM_SETTINGS_KEYS = {"fallbacks"}


@dataclass(frozen=True)
class Routing:
    deployments: tuple[Deployment, ...]
    num_retries: int
    allowed_fails: int = 3
    cooldown_time: float = 30.0
    strategy: str = "simple-shuffle"
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def prices(self) -> dict[str, tuple[float, float, float | None, float | None]]:
        """Each model name's price, as its first entry with one gives it."""
        found: dict[str, tuple[float, float, float | None, float | None]] = {}
        for deployment in self.deployments:
            if deployment.price is not None:
                found.setdefault(deployment.alias, deployment.price)
        return found

    @property
    def llm_name(self) -> str:
        """What /health calls the upstream: `mock` when the mock is the only one, else `openai`."""
        return "mock" if all(d.provider == "mock" for d in self.deployments) else "openai"


def from_settings(settings: Settings) -> Routing:
    """Today's environment variables as one upstream: OpenAI's (or another at OPENAI_BASE_URL), or the mock."""
    if settings.openai_api_key:  # "*": the model the client asks for, as it asks
        # OpenAI's own API serves /v1/responses itself; another server at OPENAI_BASE_URL may not.
        apis = frozenset() if settings.openai_base_url.rstrip("/") == OPENAI_BASE else frozenset({"chat"})
        deployment = Deployment(
            "openai", "*", "openai", "*", settings.openai_base_url, settings.openai_api_key, apis=apis
        )
    else:
        deployment = Deployment("mock", "*", "mock", "*", "", "")
    return Routing((deployment,), num_retries=settings.openai_max_retries)


def load(path: Path, settings: Settings, environ: Mapping[str, str] | None = None) -> Routing:
    """The file read and checked; a ConfigError names the file, the entry and what is wrong."""
    env = os.environ if environ is None else environ
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: is not YAML: {str(exc).splitlines()[0]}") from None
    try:
        return _routing(data, settings, env)
    except Bad as bad:
        raise ConfigError(f"{path}: {bad}") from None


def _patterns(deployments: tuple[Deployment, ...]) -> None:
    """A `*` in a model_name matches any text there; the first pattern listed that matches a name
    takes it. Refused: a `*` in the model with none in its model_name to fill it, and a pattern
    that matches nothing because one listed before it takes every name it would."""
    earlier: list[tuple[str, str, str]] = []  # the patterns, in order: alias, its text before and after the *
    for index, d in enumerate(deployments):
        where = f"model_list[{index}] ({d.name})"
        stars = d.alias.count("*")
        if stars > 1 or d.model.count("*") > 1:
            raise Bad(f"{where}: a model_name or model may hold one * at most")
        if "*" in d.model and not stars:
            raise Bad(f"{where}.litellm_params.model {d.model!r} has a * that model_name {d.alias!r} cannot fill")
        if not stars or any(alias == d.alias for alias, _, _ in earlier):
            continue
        before, _, after = d.alias.partition("*")
        for alias, head, tail in earlier:
            if before.startswith(head) and after.endswith(tail):
                raise Bad(
                    f"{where}: model_name {d.alias!r} matches nothing: {alias!r}, listed before it, takes every name"
                )
        earlier.append((d.alias, before, after))


def _routing(data: Any, settings: Settings, env: Mapping[str, str]) -> Routing:
    data = mapping(data, "the file")
    keys(data, TOP_KEYS, "the file")
    for unsupported in ("general_settings", "environment_variables"):
        if data.get(unsupported):
            raise Bad(f"{unsupported!r} is a LiteLLM section this gateway does not support")
    entries = data.get("model_list")
    if not isinstance(entries, list) or not entries:
        raise Bad("model_list must be a non-empty list")
    deployments = tuple(read(entry, index, env) for index, entry in enumerate(entries))
    seen: set[str] = set()
    for deployment in deployments:
        if deployment.name in seen:
            raise Bad(f"two entries are named {deployment.name!r} (model_info.id)")
        seen.add(deployment.name)
    _patterns(deployments)
    router = mapping(data.get("router_settings") or {}, "router_settings")
    keys(router, ROUTER_KEYS, "router_settings")
    strategy = router.get("routing_strategy", "simple-shuffle")
    if strategy not in STRATEGIES:
        raise Bad(f"router_settings.routing_strategy must be one of {', '.join(STRATEGIES)}")
    litellm = mapping(data.get("litellm_settings") or {}, "litellm_settings")
    keys(litellm, LITELLM_SETTINGS_KEYS, "litellm_settings")
    aliases = {d.alias for d in deployments}
    fallbacks: dict[str, tuple[str, ...]] = {}
    if "fallbacks" in litellm and "fallbacks" in router:
        raise Bad("fallbacks are given twice (in router_settings and in litellm_settings)")
    section = "router_settings" if "fallbacks" in router else "litellm_settings"
    for index, item in enumerate((router if "fallbacks" in router else litellm).get("fallbacks") or []):
        where = f"{section}.fallbacks[{index}]"
        item = mapping(item, where)
        for model, targets in item.items():
            if model not in aliases:
                raise Bad(f"{where}: {model!r} is not a model_name of model_list")
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise Bad(f"{where}.{model} must be a list of model names")
            for target in targets:
                if target not in aliases:
                    raise Bad(f"{where}.{model}: {target!r} is not a model_name of model_list")
            fallbacks[model] = tuple(targets)
    return Routing(
        deployments=deployments,
        num_retries=number(router.get("num_retries", settings.openai_max_retries), "router_settings.num_retries", True),
        allowed_fails=number(router.get("allowed_fails", 3), "router_settings.allowed_fails", True, low=1),
        cooldown_time=float(number(router.get("cooldown_time", 30), "router_settings.cooldown_time", low=0)),
        strategy=strategy,
        fallbacks=fallbacks,
    )
