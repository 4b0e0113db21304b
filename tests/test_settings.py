"""Settings from the environment and .env: typed, validated, and a bad value named in one line."""

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import DEFAULT_SQLITE_URL, ConfigError, Settings, mask_url
from gateway.upstreams import config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_use_an_embedded_sqlite_file_and_the_mock() -> None:
    settings = Settings.from_mapping({})
    assert settings.database_url == DEFAULT_SQLITE_URL == "sqlite:///gateway.db"
    assert config.from_settings(settings).llm_name == "mock"
    assert settings.openai_max_retries == 3
    assert settings.openai_timeout == 60
    assert settings.max_prompt_chars == 1_000_000
    assert settings.max_body_bytes == 10 * 1024 * 1024  # an ordinary photo as a data: URI fits


def test_heroku_postgres_scheme_is_accepted() -> None:
    settings = Settings.from_mapping({"DATABASE_URL": "postgres://u:p@db.example:5432/app"})
    assert settings.database_url == "postgresql://u:p@db.example:5432/app"
    assert settings.database_kind == "postgresql"


def test_postgres_parts_compose_a_url_with_the_password_quoted() -> None:
    settings = Settings.from_mapping(
        {"POSTGRES_HOST": "db", "POSTGRES_USER": "app", "POSTGRES_PASSWORD": "p@ss/word", "POSTGRES_DB": "llm"}
    )
    assert settings.database_url == "postgresql://app:p%40ss%2Fword@db:5432/llm"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_REQUESTS", "abc"),
        ("RATE_LIMIT_REQUESTS", "0"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("DATABASE_URL", "not a url"),
        ("OPENAI_TIMEOUT", "-1"),
        ("OPENAI_KEEPALIVE_SECONDS", "0"),
        ("LOG_JSON", "maybe"),
        ("LOG_LEVEL", "LOUD"),
        ("OPENAI_BASE_URL", "ftp://example"),
        ("MAX_BODY_BYTES", "1.5"),
        ("REDIS_URL", "localhost:6379"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping({name: value})
    assert str(caught.value).startswith(f"{name}=")


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nOPENAI_MODEL='from-file'\nMAX_PROMPT_CHARS=100\n")
    settings = Settings.from_env({"MAX_PROMPT_CHARS": "200"}, env_file)
    assert settings.openai_model == "from-file"
    assert settings.max_prompt_chars == 200


def test_password_is_masked_in_urls() -> None:
    assert mask_url("postgresql://app:secret@db/x") == "postgresql://app:***@db/x"


@pytest.mark.parametrize("bad", ["RATE_LIMIT_REQUESTS=abc", "DATABASE_URL=mysql://x/y"])
def test_the_process_stops_with_one_line_and_a_non_zero_exit(bad: str, tmp_path: Path) -> None:
    name, _, value = bad.partition("=")
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "gateway.app:app", "--port", "0"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), name: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
