"""The upstreams' file, in LiteLLM's shape: what it may hold, and one line for each thing wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import ConfigError, Settings
from gateway.upstreams import config

ROOT = Path(__file__).resolve().parent.parent.parent
ENV = {"OPENAI_KEY": "sk-1", "AZURE_KEY": "az-1"}
GOOD: dict[str, Any] = {
    "model_list": [
        {
            "model_name": "gpt-4o",
            "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/OPENAI_KEY", "rpm": 100},
            "model_info": {"id": "openai-primary"},
        },
        {
            "model_name": "gpt-4o",
            "litellm_params": {
                "model": "azure/gpt4o-eu",
                "api_base": "https://eu.openai.azure.com",
                "api_key": "os.environ/AZURE_KEY",
                "api_version": "2024-10-21",
                "weight": 3,
                "timeout": 20,
            },
        },
        {"model_name": "llama", "litellm_params": {"model": "hosted_vllm/meta-llama/Llama-3", "api_base": "http://gpu:8000/v1"}},
        {"model_name": "*", "litellm_params": {"model": "mock/anything"}},
    ],
    "router_settings": {"num_retries": 1, "allowed_fails": 2, "cooldown_time": 10, "routing_strategy": "least-busy"},
    "litellm_settings": {"fallbacks": [{"gpt-4o": ["llama"]}]},
}  # fmt: skip


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_a_litellm_file_is_read_as_litellm_reads_it(tmp_path: Path) -> None:
    routing = config.load(write(tmp_path, GOOD), Settings(), ENV)
    primary, azure, llama, mock = routing.deployments
    assert (primary.name, primary.provider, primary.model, primary.api_base) == (
        "openai-primary", "openai", "gpt-4o", "https://api.openai.com/v1",
    )  # fmt: skip
    assert primary.api_key == "sk-1" and primary.weight == 100 and primary.rpm == 100
    assert (azure.name, azure.api_version, azure.weight, azure.timeout) == ("gpt-4o#1", "2024-10-21", 3.0, 20)
    assert (llama.provider, llama.model, llama.api_key) == ("hosted_vllm", "meta-llama/Llama-3", "")
    assert (mock.alias, mock.provider) == ("*", "mock")
    assert (routing.num_retries, routing.allowed_fails, routing.cooldown_time) == (1, 2, 10.0)
    assert routing.strategy == "least-busy" and routing.fallbacks == {"gpt-4o": ("llama",)}
    assert "sk-1" not in repr(routing) and routing.llm_name == "openai"


def broken(change: Any) -> dict[str, Any]:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    change(data)
    return data  # type: ignore[no-any-return]


def params(index: int, **values: Any) -> Any:
    return lambda d: d["model_list"][index]["litellm_params"].update(values)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            params(0, tpm=1000),
            "(openai-primary).litellm_params: 'tpm' is a LiteLLM setting this gateway does not support",
        ),
        (params(0, colour="red"), "unknown key 'colour'"),
        (params(0, api_key="sk-in-clear"), "must be os.environ/NAME"),
        (params(0, api_key="os.environ/NOT_SET"), "names NOT_SET, which is not set"),
        (lambda d: d["model_list"][2].update(model_info={"id": "openai-primary"}), "two entries are named"),
        (lambda d: d["litellm_settings"]["fallbacks"].append({"gpt-4o": ["nobody"]}), "'nobody' is not a model_name"),
        (lambda d: d["model_list"][1]["litellm_params"].pop("api_version"), "api_version is required for azure"),
        (params(0, model="nowhere/claude"), "provider 'nowhere' is not one of"),
        (lambda d: d["router_settings"].update(routing_strategy="latency-based"), "routing_strategy must be one of"),
        (lambda d: d.update(general_settings={"master_key": "x"}), "'general_settings' is a LiteLLM section"),
        (params(2, api_base="gpu:8000"), "api_base must be an http(s) URL"),
        (
            lambda d: d["model_list"].append({"model_name": "gpt-*", "litellm_params": {"model": "mock/x"}}),
            "model_list[4] (gpt-*#4): model_name 'gpt-*' matches nothing: '*', listed before it, takes every name",
        ),
        (params(2, model="hosted_vllm/meta-llama/*"), "has a * that model_name 'llama' cannot fill"),
        (lambda d: d["model_list"][0].update(rpm=5), "rpm is given twice"),
        (lambda d: d["router_settings"].update(fallbacks=[]), "fallbacks are given twice"),
    ],
)
def test_each_thing_wrong_in_the_file_is_named_in_one_line(tmp_path: Path, change: Any, says: str) -> None:
    path = write(tmp_path, broken(change))
    with pytest.raises(ConfigError) as caught:
        config.load(path, Settings(), ENV)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message


def test_a_file_that_is_not_yaml_or_not_there_is_named_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not YAML"):
        config.load(write(tmp_path, "model_list: [unclosed"), Settings(), ENV)
    with pytest.raises(ConfigError, match="cannot be read"):
        config.load(tmp_path / "missing.yaml", Settings(), ENV)


def test_a_bad_file_stops_start_up_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, broken(lambda d: d["model_list"][0]["litellm_params"].update(tpm=1)))
    env = {**os.environ, "GATEWAY_CONFIG": str(path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **ENV}
    done = subprocess.run(
        [sys.executable, "-c", "import gateway.app as m; m.app"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gateway: configuration error: {path}: model_list[0] (openai-primary).litellm_params: "
        "'tpm' is a LiteLLM setting this gateway does not support"
    ]


def test_a_pattern_listed_before_a_wider_one_takes_its_names_first(tmp_path: Path) -> None:
    data = broken(
        lambda d: d["model_list"].insert(3, {"model_name": "claude-*", "litellm_params": {"model": "mock/*"}})
    )
    routing = config.load(write(tmp_path, data), Settings(), ENV)
    assert [d.alias for d in routing.deployments][3:] == ["claude-*", "*"]


def test_fallbacks_in_router_settings_and_rpm_beside_the_params_are_read_too(tmp_path: Path) -> None:
    def move(d: dict[str, Any]) -> None:
        d["router_settings"]["fallbacks"] = d["litellm_settings"].pop("fallbacks")
        d["model_list"][2]["rpm"] = 7

    routing = config.load(write(tmp_path, broken(move)), Settings(), ENV)
    assert routing.fallbacks == {"gpt-4o": ("llama",)} and routing.deployments[2].rpm == 7


def test_without_a_file_the_environment_makes_one_upstream_for_any_model() -> None:
    (mock,) = config.from_settings(Settings()).deployments
    assert (mock.name, mock.alias, mock.provider, mock.model) == ("mock", "*", "mock", "*")
    routing = config.from_settings(Settings(openai_api_key="sk", openai_max_retries=5))
    assert routing.deployments[0].provider == "openai" and routing.num_retries == 5
