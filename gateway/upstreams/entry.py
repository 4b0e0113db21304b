"""One entry of the upstreams' file (`model_list[i]`), read and checked: its provider and model, its
address and key (the file's `os.environ/NAME`, or the provider's own variables), its limits, its
prices and the APIs it serves as they are. A `ConfigError`'s text names the entry and the key."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.upstreams.providers.catalogue import PROVIDERS

ENTRY_KEYS = {"model_name", "litellm_params", "model_info", "rpm"}  # rpm: here or in litellm_params
# LiteLLM's custom prices (US dollars a token), in litellm_params or model_info: what /usage costs.
COST_KEYS = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
             "cache_creation_input_token_cost")  # fmt: skip
PARAM_KEYS = {"model", "api_base", "api_key", "api_version", "rpm", "timeout", "weight", *COST_KEYS}
# Vertex AI's (LiteLLM's names, and their vertex_ai_ aliases): read by _vertex, for vertex_ai only.
VERTEX_KEYS = {"vertex_project", "vertex_location", "vertex_credentials"}
PARAM_KEYS |= VERTEX_KEYS | {key.replace("vertex_", "vertex_ai_") for key in VERTEX_KEYS}
INFO_KEYS = {"id", "supported_endpoints", *COST_KEYS}
# The client APIs an upstream may serve as they are, by the routes LiteLLM's `supported_endpoints` names.
ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/responses": "responses", "/v1/messages": "messages"}
# Keys of LiteLLM's file this gateway knows of and does not do: refused by name, so that nobody
# believes a setting holds that does not.
LITELLM_ONLY = {
    "tpm", "max_parallel_requests", "stream_timeout", "max_retries", "organization", "region_name",
    "aws_access_key_id", "aws_secret_access_key", "aws_region_name", "custom_llm_provider",
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
    # US dollars a million input, output, cache-read and cache-written input tokens.
    price: tuple[float, float, float | None, float | None] | None = None
    # The APIs it serves as they are (`model_info.supported_endpoints`): empty for its provider's own.
    apis: frozenset[str] = frozenset()
    vertex: Vertex | None = None  # a vertex_ai upstream's project, location and credentials


@dataclass(frozen=True)
class Vertex:
    """Where a Vertex AI upstream is (its Google Cloud project and location) and whose it is: a
    key file's JSON (a service account's, usually), or None for Application Default Credentials."""

    project: str
    location: str
    credentials: str | None = field(default=None, repr=False)


class Bad(ValueError):
    pass


def mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Bad(f"{where} must be a mapping")
    return value


def keys(value: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in value:
        if key in allowed:
            continue
        if key in LITELLM_ONLY:
            raise Bad(f"{where}: {key!r} is a LiteLLM setting this gateway does not support")
        raise Bad(f"{where}: unknown key {key!r}")


def number(value: Any, where: str, integral: bool | int = False, low: float = 0) -> Any:
    kinds = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < low:
        raise Bad(f"{where} must be {'an integer' if integral else 'a number'} of at least {low:g}")
    return value


def _secret(value: Any, where: str, env: Mapping[str, str]) -> str:
    if value is None:
        return ""
    match = ENVIRONMENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Bad(f"{where} must be os.environ/NAME: a key is never written in the file")
    name = match.group(1)
    if not env.get(name):
        raise Bad(f"{where} names {name}, which is not set")
    return env[name]


def read(entry: Any, index: int, env: Mapping[str, str]) -> Deployment:
    where = f"model_list[{index}]"
    entry = mapping(entry, where)
    keys(entry, ENTRY_KEYS, where)
    alias = entry.get("model_name")
    if not isinstance(alias, str) or not alias.strip():
        raise Bad(f"{where}.model_name must be a non-blank string")
    info = mapping(entry.get("model_info") or {}, f"{where}.model_info")
    keys(info, INFO_KEYS, f"{where}.model_info")
    name = info.get("id") if info.get("id") is not None else f"{alias}#{index}"
    if not isinstance(name, str) or not name:
        raise Bad(f"{where}.model_info.id must be a non-blank string")
    where = f"{where} ({name})"
    params = mapping(entry.get("litellm_params"), f"{where}.litellm_params")
    if "rpm" in entry:
        if "rpm" in params:
            raise Bad(f"{where}: rpm is given twice (beside and in litellm_params)")
        params = {**params, "rpm": entry["rpm"]}
    keys(params, PARAM_KEYS, f"{where}.litellm_params")
    model = params.get("model")
    provider, sep, upstream_model = model.partition("/") if isinstance(model, str) else ("", "", "")
    if not sep or not upstream_model:
        raise Bad(f"{where}.litellm_params.model must be <provider>/<model>")
    if provider not in PROVIDERS:
        raise Bad(f"{where}.litellm_params.model: provider {provider!r} is not one of {', '.join(sorted(PROVIDERS))}")
    known = PROVIDERS[provider]
    vertex = _vertex(params, where, env) if provider == "vertex_ai" else None
    if vertex is None and any(key.startswith("vertex_") for key in params):
        raise Bad(f"{where}.litellm_params: vertex_project, vertex_location and vertex_credentials are vertex_ai's")
    api_base = params.get("api_base") or next((env[n] for n in known.bases if env.get(n)), known.api_base)
    api_base = api_base or (vertex_base(vertex.location) if vertex is not None else "")
    if known.client != "mock":
        if not api_base:
            variables = " or ".join(known.bases)
            raise Bad(f"{where}.litellm_params.api_base is required for {provider} (or set {variables})")
        if not isinstance(api_base, str) or not re.match(r"^https?://[^/\s]+", api_base):
            raise Bad(f"{where}.litellm_params.api_base must be an http(s) URL")
        if known.suffix and not api_base.rstrip("/").endswith(known.suffix):
            api_base = api_base.rstrip("/") + known.suffix
    api_version = params.get("api_version")
    if provider == "azure" and not isinstance(api_version, str):
        raise Bad(f"{where}.litellm_params.api_version is required for azure")
    api_key = _secret(params.get("api_key"), f"{where}.litellm_params.api_key", env)
    if not api_key and "api_key" not in params:
        api_key = next((env[n] for n in known.keys if env.get(n)), "")
    if known.needs_key and not api_key:
        variables = " or ".join(known.keys)
        raise Bad(f"{where}.litellm_params.api_key is required for {provider} (os.environ/NAME, or set {variables})")
    costs = {name: number(value, f"{where}.{name}") for name, value in {**info, **params}.items() if name in COST_KEYS}
    price = None
    if costs:
        if not {"input_cost_per_token", "output_cost_per_token"} <= set(costs):
            raise Bad(f"{where}: input_cost_per_token and output_cost_per_token go together")
        cached = costs.get("cache_read_input_token_cost")
        written = costs.get("cache_creation_input_token_cost")
        per_million = (costs["input_cost_per_token"] * 1e6, costs["output_cost_per_token"] * 1e6)
        price = (*per_million, cached and cached * 1e6, written and written * 1e6)
    apis = _apis(info.get("supported_endpoints"), f"{where}.model_info.supported_endpoints")
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
        rpm=number(rpm, f"{where}.litellm_params.rpm", integral=True, low=1) if rpm is not None else None,
        timeout=number(timeout, f"{where}.litellm_params.timeout", low=0.001) if timeout is not None else None,
        weight=float(number(weight, f"{where}.litellm_params.weight", low=0)),
        price=price,
        apis=apis,
        vertex=vertex,
    )


def _apis(value: Any, where: str) -> frozenset[str]:
    """The APIs `supported_endpoints` names (LiteLLM's opt-in to passing /v1/responses as it came)."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Bad(f"{where} must be a list of routes")
    unknown = [item for item in value if item not in ENDPOINTS]
    if unknown:
        raise Bad(f"{where}: {unknown[0]!r} is not one of {', '.join(ENDPOINTS)}")
    return frozenset(ENDPOINTS[item] for item in value)


def vertex_base(location: str) -> str:
    """Vertex AI's address for a location: regional, global, or a multi-region's (us, eu)."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def _vertex(params: dict[str, Any], where: str, env: Mapping[str, str]) -> Vertex:
    """A vertex_ai entry's project, location and credentials, as LiteLLM reads them: the entry's
    (`os.environ/NAME` taken too), else VERTEXAI_PROJECT, VERTEXAI_LOCATION (us-central1 when
    none), VERTEXAI_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS; credentials are a key file's
    path or its JSON (the JSON only from the environment); without any, Application Default
    Credentials; the project, when none is given, the key file's `project_id`."""
    if params.get("api_key") is not None:
        raise Bad(f"{where}.litellm_params.api_key: vertex_ai is called with vertex_credentials, not a key")

    def given(name: str, variables: tuple[str, ...]) -> Any:
        value = params.get(name, params.get(name.replace("vertex_", "vertex_ai_")))
        if isinstance(value, str) and ENVIRONMENT.fullmatch(value):
            return _secret(value, f"{where}.litellm_params.{name}", env)
        return value if value is not None else next((env[n] for n in variables if env.get(n)), None)

    credentials = given("vertex_credentials", ("VERTEXAI_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"))
    info: str | None = None
    if credentials is not None:
        if not isinstance(credentials, str) or not credentials.strip():
            raise Bad(f"{where}.litellm_params.vertex_credentials must be a key file's path")
        written = params.get("vertex_credentials", params.get("vertex_ai_credentials"))
        if credentials.lstrip().startswith("{"):
            if isinstance(written, str) and not ENVIRONMENT.fullmatch(written):
                raise Bad(f"{where}.litellm_params.vertex_credentials: a key is never written in the file")
            info = credentials
        else:
            try:
                with open(credentials, encoding="utf-8") as file:
                    info = file.read()
            except OSError as exc:
                raise Bad(f"{where}: vertex_credentials {credentials!r} cannot be read: {exc.strerror}") from None
        try:
            parsed = json.loads(info)
        except ValueError:
            raise Bad(f"{where}: vertex_credentials is not a key file's JSON") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            raise Bad(f"{where}: vertex_credentials is not a Google key file (it names no type)")
    project = given("vertex_project", ("VERTEXAI_PROJECT",)) or (json.loads(info).get("project_id") if info else None)
    if not isinstance(project, str) or not project:
        raise Bad(f"{where}.litellm_params.vertex_project is required for vertex_ai (or set VERTEXAI_PROJECT)")
    location = given("vertex_location", ("VERTEXAI_LOCATION", "VERTEX_LOCATION")) or "us-central1"
    if not isinstance(location, str) or not re.fullmatch(r"[a-z0-9-]+", location):
        raise Bad(f"{where}.litellm_params.vertex_location must be a location's name (us-central1, global…)")
    return Vertex(project, location, info)
