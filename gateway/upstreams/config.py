"""The upstreams, from an optional YAML file (`GATEWAY_CONFIG`) in the shape of LiteLLM's proxy
`config.yaml`, so an operator can move over with the file they have.

The part of LiteLLM's file that routing needs is read: `model_list` (each entry's `model_name`,
the alias clients send, `*` for any other; `litellm_params` `model` as `openai/<name>`,
`azure/<deployment>`, `hosted_vllm/<name>` or `mock/<name>`, `api_base`, `api_key`, `api_version`,
`rpm`, `timeout`, `weight`; `model_info.id`), `router_settings` (`num_retries`, `allowed_fails`,
`cooldown_time`, `routing_strategy`) and `litellm_settings.fallbacks`. A key LiteLLM knows and
the gateway does not support is refused by name, never ignored; a key is read only from the
environment (`os.environ/NAME`), never from the file. Without a file, the environment variables
make one upstream (`OPENAI_BASE_URL` and `OPENAI_API_KEY`, or the mock).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.settings import ConfigError, Settings

PROVIDERS = ("openai", "azure", "hosted_vllm", "mock")
DEFAULT_BASES = {"openai": "https://api.openai.com/v1"}
STRATEGIES = ("simple-shuffle", "least-busy")
TOP_KEYS = {"model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables"}
ENTRY_KEYS = {"model_name", "litellm_params", "model_info", "rpm"}  # rpm: here or in litellm_params
# LiteLLM's custom prices (US dollars a token), in litellm_params or model_info: what /usage costs.
COST_KEYS = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost")
PARAM_KEYS = {"model", "api_base", "api_key", "api_version", "rpm", "timeout", "weight", *COST_KEYS}
INFO_KEYS = {"id", *COST_KEYS}
ROUTER_KEYS = {"num_retries", "allowed_fails", "cooldown_time", "routing_strategy", "fallbacks"}
LITELLM_SETTINGS_KEYS = {"fallbacks"}
# Keys of LiteLLM's file this gateway knows of and does not do: refused by name, so that nobody
# believes a setting holds that does not.
LITELLM_ONLY = {
    "tpm", "max_parallel_requests", "stream_timeout", "max_retries", "organization", "region_name",
    "aws_access_key_id", "aws_secret_access_key", "aws_region_name", "vertex_project", "vertex_location",
    "vertex_credentials", "custom_llm_provider",
    "base_model", "mode", "litellm_credential_name", "api_type", "tenant_id", "client_id", "client_secret",
    "azure_ad_token", "rpm_limit", "tpm_limit", "redis_host", "redis_port", "redis_password",
    "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks", "retry_policy",
    "allowed_fails_policy", "enable_pre_call_checks", "model_group_alias", "cache", "cache_params",
    "success_callback", "failure_callback", "callbacks", "drop_params", "set_verbose", "master_key",
    "database_url", "alerting", "max_budget", "budget_duration", "num_retries_per_request",
}  # fmt: skip
ENVIRONMENT = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Deployment:
    """One upstream: a model of one provider at one address, with its own key."""

    name: str  # what records, logs, metrics and /health show
    alias: str  # the model name clients send (`*`: any other)
    provider: str
    model: str  # the name the upstream knows it by (Azure: the deployment)
    api_base: str
    api_key: str = field(repr=False)
    api_version: str | None = None
    rpm: int | None = None
    timeout: float | None = None
    weight: float = 1.0
    price: tuple[float, float, float | None] | None = None  # a million input, output, cached input tokens


@dataclass(frozen=True)
class Routing:
    deployments: tuple[Deployment, ...]
    num_retries: int
    allowed_fails: int = 3
    cooldown_time: float = 30.0
    strategy: str = "simple-shuffle"
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def prices(self) -> dict[str, tuple[float, float, float | None]]:
        """Each model name's price, as its first entry with one gives it."""
        found: dict[str, tuple[float, float, float | None]] = {}
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
        deployment = Deployment("openai", "*", "openai", "*", settings.openai_base_url, settings.openai_api_key)
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
    except _Bad as bad:
        raise ConfigError(f"{path}: {bad}") from None


class _Bad(ValueError):
    pass


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{where} must be a mapping")
    return value


def _keys(value: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in value:
        if key in allowed:
            continue
        if key in LITELLM_ONLY:
            raise _Bad(f"{where}: {key!r} is a LiteLLM setting this gateway does not support")
        raise _Bad(f"{where}: unknown key {key!r}")


def _number(value: Any, where: str, integral: bool | int = False, low: float = 0) -> Any:
    kinds = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < low:
        raise _Bad(f"{where} must be {'an integer' if integral else 'a number'} of at least {low:g}")
    return value


def _secret(value: Any, where: str, env: Mapping[str, str]) -> str:
    if value is None:
        return ""
    match = ENVIRONMENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _Bad(f"{where} must be os.environ/NAME: a key is never written in the file")
    name = match.group(1)
    if not env.get(name):
        raise _Bad(f"{where} names {name}, which is not set")
    return env[name]


def _deployment(entry: Any, index: int, env: Mapping[str, str]) -> Deployment:
    where = f"model_list[{index}]"
    entry = _mapping(entry, where)
    _keys(entry, ENTRY_KEYS, where)
    alias = entry.get("model_name")
    if not isinstance(alias, str) or not alias.strip():
        raise _Bad(f"{where}.model_name must be a non-blank string")
    info = _mapping(entry.get("model_info") or {}, f"{where}.model_info")
    _keys(info, INFO_KEYS, f"{where}.model_info")
    name = info.get("id") if info.get("id") is not None else f"{alias}#{index}"
    if not isinstance(name, str) or not name:
        raise _Bad(f"{where}.model_info.id must be a non-blank string")
    where = f"{where} ({name})"
    params = _mapping(entry.get("litellm_params"), f"{where}.litellm_params")
    if "rpm" in entry:
        if "rpm" in params:
            raise _Bad(f"{where}: rpm is given twice (beside and in litellm_params)")
        params = {**params, "rpm": entry["rpm"]}
    _keys(params, PARAM_KEYS, f"{where}.litellm_params")
    model = params.get("model")
    provider, sep, upstream_model = model.partition("/") if isinstance(model, str) else ("", "", "")
    if not sep or provider not in PROVIDERS or not upstream_model:
        raise _Bad(f"{where}.litellm_params.model must be one of {', '.join(p + '/<name>' for p in PROVIDERS)}")
    api_base = params.get("api_base", DEFAULT_BASES.get(provider, ""))
    if provider != "mock" and (not isinstance(api_base, str) or not re.match(r"^https?://[^/\s]+", api_base)):
        raise _Bad(f"{where}.litellm_params.api_base must be an http(s) URL")
    api_version = params.get("api_version")
    if provider == "azure" and not isinstance(api_version, str):
        raise _Bad(f"{where}.litellm_params.api_version is required for azure")
    api_key = _secret(params.get("api_key"), f"{where}.litellm_params.api_key", env)
    if provider in ("openai", "azure") and not api_key:
        raise _Bad(f"{where}.litellm_params.api_key is required for {provider}")
    costs = {name: _number(value, f"{where}.{name}") for name, value in {**info, **params}.items() if name in COST_KEYS}
    price = None
    if costs:
        if not {"input_cost_per_token", "output_cost_per_token"} <= set(costs):
            raise _Bad(f"{where}: input_cost_per_token and output_cost_per_token go together")
        cached = costs.get("cache_read_input_token_cost")
        price = (costs["input_cost_per_token"] * 1e6, costs["output_cost_per_token"] * 1e6, cached and cached * 1e6)
    rpm = params.get("rpm")
    timeout = params.get("timeout")
    weight = params.get("weight", rpm if rpm is not None else 1)
    return Deployment(
        name=name,
        alias=alias,
        provider=provider,
        model=upstream_model,
        api_base=str(api_base).rstrip("/"),
        api_key=api_key,
        api_version=api_version,
        rpm=_number(rpm, f"{where}.litellm_params.rpm", integral=True, low=1) if rpm is not None else None,
        timeout=_number(timeout, f"{where}.litellm_params.timeout", low=0.001) if timeout is not None else None,
        weight=float(_number(weight, f"{where}.litellm_params.weight", low=0)),
        price=price,
    )


def _patterns(deployments: tuple[Deployment, ...]) -> None:
    """A `*` in a model_name matches any text there; the first pattern listed that matches a name
    takes it. Refused: a `*` in the model with none in its model_name to fill it, and a pattern
    that matches nothing because one listed before it takes every name it would."""
    earlier: list[tuple[str, str, str]] = []  # the patterns, in order: alias, its text before and after the *
    for index, d in enumerate(deployments):
        where = f"model_list[{index}] ({d.name})"
        stars = d.alias.count("*")
        if stars > 1 or d.model.count("*") > 1:
            raise _Bad(f"{where}: a model_name or model may hold one * at most")
        if "*" in d.model and not stars:
            raise _Bad(f"{where}.litellm_params.model {d.model!r} has a * that model_name {d.alias!r} cannot fill")
        if not stars or any(alias == d.alias for alias, _, _ in earlier):
            continue
        before, _, after = d.alias.partition("*")
        for alias, head, tail in earlier:
            if before.startswith(head) and after.endswith(tail):
                raise _Bad(
                    f"{where}: model_name {d.alias!r} matches nothing: {alias!r}, listed before it, takes every name"
                )
        earlier.append((d.alias, before, after))


def _routing(data: Any, settings: Settings, env: Mapping[str, str]) -> Routing:
    data = _mapping(data, "the file")
    _keys(data, TOP_KEYS, "the file")
    for unsupported in ("general_settings", "environment_variables"):
        if data.get(unsupported):
            raise _Bad(f"{unsupported!r} is a LiteLLM section this gateway does not support")
    entries = data.get("model_list")
    if not isinstance(entries, list) or not entries:
        raise _Bad("model_list must be a non-empty list")
    deployments = tuple(_deployment(entry, index, env) for index, entry in enumerate(entries))
    seen: set[str] = set()
    for deployment in deployments:
        if deployment.name in seen:
            raise _Bad(f"two entries are named {deployment.name!r} (model_info.id)")
        seen.add(deployment.name)
    _patterns(deployments)
    router = _mapping(data.get("router_settings") or {}, "router_settings")
    _keys(router, ROUTER_KEYS, "router_settings")
    strategy = router.get("routing_strategy", "simple-shuffle")
    if strategy not in STRATEGIES:
        raise _Bad(f"router_settings.routing_strategy must be one of {', '.join(STRATEGIES)}")
    litellm = _mapping(data.get("litellm_settings") or {}, "litellm_settings")
    _keys(litellm, LITELLM_SETTINGS_KEYS, "litellm_settings")
    aliases = {d.alias for d in deployments}
    fallbacks: dict[str, tuple[str, ...]] = {}
    if "fallbacks" in litellm and "fallbacks" in router:
        raise _Bad("fallbacks are given twice (in router_settings and in litellm_settings)")
    section = "router_settings" if "fallbacks" in router else "litellm_settings"
    for index, item in enumerate((router if "fallbacks" in router else litellm).get("fallbacks") or []):
        where = f"{section}.fallbacks[{index}]"
        item = _mapping(item, where)
        for model, targets in item.items():
            if model not in aliases:
                raise _Bad(f"{where}: {model!r} is not a model_name of model_list")
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise _Bad(f"{where}.{model} must be a list of model names")
            for target in targets:
                if target not in aliases:
                    raise _Bad(f"{where}.{model}: {target!r} is not a model_name of model_list")
            fallbacks[model] = tuple(targets)
    return Routing(
        deployments=deployments,
        num_retries=_number(
            router.get("num_retries", settings.openai_max_retries), "router_settings.num_retries", True
        ),
        allowed_fails=_number(router.get("allowed_fails", 3), "router_settings.allowed_fails", True, low=1),
        cooldown_time=float(_number(router.get("cooldown_time", 30), "router_settings.cooldown_time", low=0)),
        strategy=strategy,
        fallbacks=fallbacks,
    )
