"""Every environment read of the gateway, typed and validated at start-up; nothing else.

Values come from the process environment, then from an optional `.env` file in the working
directory (the environment wins). A bad value raises `ConfigError` naming the variable.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

T = TypeVar("T")

DEFAULT_SQLITE_URL = "sqlite:///gateway.db"
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+asyncpg")


class ConfigError(ValueError):
    """One bad configuration value; the message names the variable."""


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be 0 or a positive number")
    return value


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
        raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def _http_url(text: str) -> str:
    url = text.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError("expected an http:// or https:// URL")
    return url


def _issuer(text: str) -> str:
    """An issuer URL exactly as its tokens' iss spells it (Auth0's ends in a slash)."""
    _http_url(text)
    return text.strip()


def _transport(text: str) -> str:
    if text not in ("aiohttp", "httpx"):
        raise ValueError("expected aiohttp or httpx")
    return text


def _prices(text: str) -> tuple[tuple[str, float, float, float | None, float | None], ...]:
    """MODEL_PRICES: {"model": {"input": 0.15, "output": 0.6, "cached": 0.075, "cache_write": 0.19}, ...},
    in US dollars a million tokens (`cached`, input read from a cache, and `cache_write`, input
    written to one, are optional: such input costs the input price then)."""
    try:
        table = json.loads(text)
    except ValueError:
        raise ValueError("expected a JSON object of models") from None
    if not isinstance(table, dict):
        raise ValueError("expected a JSON object of models")
    prices = []
    for model, price in table.items():
        if (
            not isinstance(price, dict)
            or not {"input", "output"} <= set(price)
            or set(price) - {"input", "output", "cached", "cache_write"}
        ):
            raise ValueError(f"{model}: expected input, output and optionally cached and cache_write")
        values: list[Any] = [price.get(name) for name in ("input", "output", "cached", "cache_write")]
        for value in values:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{model}: prices are numbers of 0 or more")
        cached, write = (float(value) if value is not None else None for value in values[2:])
        prices.append((str(model), float(values[0]), float(values[1]), cached, write))
    return tuple(prices)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _proxies(text: str) -> tuple[str, ...]:
    entries = _csv(text)
    for entry in entries:
        if entry != "*":
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
    return entries


def normalise_database_url(url: str) -> str:
    """Accept Heroku's `postgres://`; refuse schemes the gateway cannot drive."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in DATABASE_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}: use sqlite:/// or postgresql://")
    scheme = scheme.lower()
    if scheme in ("postgres", "postgresql+asyncpg"):
        scheme = "postgresql"
    return f"{scheme}://{rest}"


def mask_url(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_SQLITE_URL
    openai_api_key: str = ""
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_max_retries: int = 3
    openai_timeout: float = 60.0
    openai_connect_deadline: float = 20.0
    openai_keepalive_seconds: float = 4.0
    upstream_transport: str = "aiohttp"
    api_key: str = ""
    rate_limit_enabled: bool = True
    rate_limit_requests: int = 60
    rate_limit_window_seconds: int = 60
    redis_url: str = ""
    log_json: bool = True
    log_level: str = "INFO"
    max_prompt_chars: int = 1_000_000
    max_body_bytes: int = 10 * 1024 * 1024  # an ordinary photo, base64 in a data: URI, fits
    mock_delay_seconds: float = 0.02
    sse_keepalive_seconds: float = 15.0
    max_stream_seconds: float = 600.0
    stale_stream_seconds: float = 60.0
    heartbeat_seconds: float = 10.0
    gateway_config: str = ""  # a YAML file of upstreams (gateway/upstreams/config.py)
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    oidc_issuer: str = ""  # the issuer a JWT's iss names; its keys found by discovery
    jwt_jwks_url: str = ""  # the issuer's keys, when it has no discovery document
    jwt_audience: str = ""
    jwt_role_claim: str = "role"
    # US dollars a million tokens, by model: (model, input, output, cached input or None).
    model_prices: tuple[tuple[str, float, float, float | None, float | None], ...] = field(default_factory=tuple)
    retention_days: int = 0  # records older than this are deleted (0: kept for good)
    prompt_retention_days: int = 0  # records older than this keep their usage, not their text (0: never)
    retention_sweep_seconds: float = 60.0  # how often retention looks for records past it
    # Every OTEL_* variable, for the OpenTelemetry SDK, which reads them itself (gateway/observability/tracing.py).
    otel: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def tracing(self) -> bool:
        """On with an OTLP endpoint, unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none says no."""
        env = dict(self.otel)
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return False
        if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
            return False
        return any(name in env for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"))

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def database_kind(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
        env: dict[str, str] = read_env_file(env_file) if env_file is not None else {}
        env.update(os.environ if environ is None else environ)
        return cls.from_mapping(env)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        values: dict[str, object] = {}

        def take(name: str, cast: Callable[[str], T]) -> None:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return
            try:
                values[name.lower()] = cast(raw.strip())
            except ValueError as exc:
                reason = str(exc) if not str(exc).startswith(("invalid literal", "could not")) else "not a number"
                raise ConfigError(f"{name}={raw!r} is invalid: {reason}") from None

        take("DATABASE_URL", normalise_database_url)
        if "database_url" not in values and env.get("POSTGRES_HOST", "").strip():
            values["database_url"] = _compose_postgres_url(env)
        take("OPENAI_API_KEY", str)
        take("OPENAI_BASE_URL", _http_url)
        take("OPENAI_MODEL", str)
        take("OPENAI_MAX_RETRIES", _non_negative_int)
        take("OPENAI_TIMEOUT", _positive_float)
        take("OPENAI_CONNECT_DEADLINE", _positive_float)
        take("OPENAI_KEEPALIVE_SECONDS", _positive_float)
        take("UPSTREAM_TRANSPORT", _transport)
        take("API_KEY", str)
        take("RATE_LIMIT_ENABLED", _bool)
        take("RATE_LIMIT_REQUESTS", _positive_int)
        take("RATE_LIMIT_WINDOW_SECONDS", _positive_int)
        take("REDIS_URL", str)
        take("LOG_JSON", _bool)
        take("LOG_LEVEL", _log_level)
        take("MAX_PROMPT_CHARS", _positive_int)
        take("MAX_BODY_BYTES", _positive_int)
        take("MOCK_DELAY_SECONDS", _non_negative_float)
        take("SSE_KEEPALIVE_SECONDS", _positive_float)
        take("MAX_STREAM_SECONDS", _positive_float)
        take("STALE_STREAM_SECONDS", _positive_float)
        take("HEARTBEAT_SECONDS", _positive_float)
        take("GATEWAY_CONFIG", str)
        take("CORS_ORIGINS", _csv)
        take("TRUSTED_PROXIES", _proxies)
        take("OIDC_ISSUER", _issuer)
        take("JWT_JWKS_URL", _http_url)
        take("JWT_AUDIENCE", str)
        take("JWT_ROLE_CLAIM", str)
        take("MODEL_PRICES", _prices)
        take("RETENTION_DAYS", _non_negative_int)
        take("PROMPT_RETENTION_DAYS", _non_negative_int)
        take("RETENTION_SWEEP_SECONDS", _positive_float)
        if values.get("jwt_jwks_url") and not values.get("oidc_issuer"):
            raise ConfigError("JWT_JWKS_URL needs OIDC_ISSUER: the issuer a token's iss must name")
        if values.get("oidc_issuer") and not values.get("jwt_audience"):
            raise ConfigError("OIDC_ISSUER needs JWT_AUDIENCE: the audience a token's aud must name")
        values["otel"] = tuple(sorted((k, v) for k, v in env.items() if k.startswith("OTEL_") and v.strip()))
        redis_url = values.get("redis_url")
        if isinstance(redis_url, str) and not redis_url.startswith(("redis://", "rediss://")):
            raise ConfigError(f"REDIS_URL={redis_url!r} is invalid: expected redis:// or rediss://")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})  # type: ignore[arg-type]


def _compose_postgres_url(env: Mapping[str, str]) -> str:
    host = env["POSTGRES_HOST"].strip()
    port = env.get("POSTGRES_PORT", "").strip() or "5432"
    if not port.isdigit():
        raise ConfigError(f"POSTGRES_PORT={port!r} is invalid: not a number")
    user = quote(env.get("POSTGRES_USER", "").strip() or "postgres", safe="")
    password = env.get("POSTGRES_PASSWORD", "")
    db = quote(env.get("POSTGRES_DB", "").strip() or "postgres", safe="")
    auth = f"{user}:{quote(password, safe='')}@" if password else f"{user}@"
    return f"postgresql://{auth}{host}:{port}/{db}"
