"""The OpenAI-compatible catalogue: an entry that names only `<prefix>/<model>` reaches the
provider's own chat-completions URL with the key from the variable LiteLLM reads, the file's
`api_base` and `api_key` win over them, and docs/routing.md's table says what the code does.

The expected URLs and variables are written here from LiteLLM's provider documentation, not read
from the catalogue, so a wrong row fails."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from gateway.upstreams.entry import Bad, read
from gateway.upstreams.llm import Completion
from gateway.upstreams.providers.catalogue import PROVIDERS, otel_name
from gateway.upstreams.providers.openai import OpenAI

DOCS = Path(__file__).resolve().parents[2] / "docs" / "routing.md"

# prefix: (the chat-completions URL, the variable its key is read from, whether a key is needed)
EXPECTED: dict[str, tuple[str, str, bool]] = {
    "groq": ("https://api.groq.com/openai/v1/chat/completions", "GROQ_API_KEY", True),
    "mistral": ("https://api.mistral.ai/v1/chat/completions", "MISTRAL_API_KEY", True),
    "deepseek": ("https://api.deepseek.com/beta/chat/completions", "DEEPSEEK_API_KEY", True),
    "xai": ("https://api.x.ai/v1/chat/completions", "XAI_API_KEY", True),
    "openrouter": ("https://openrouter.ai/api/v1/chat/completions", "OPENROUTER_API_KEY", True),
    "together_ai": ("https://api.together.ai/v1/chat/completions", "TOGETHER_API_KEY", True),
    "fireworks_ai": ("https://api.fireworks.ai/inference/v1/chat/completions", "FIREWORKS_API_KEY", True),
    "cerebras": ("https://api.cerebras.ai/v1/chat/completions", "CEREBRAS_API_KEY", True),
    "perplexity": ("https://api.perplexity.ai/chat/completions", "PERPLEXITYAI_API_KEY", True),
    "deepinfra": ("https://api.deepinfra.com/v1/openai/chat/completions", "DEEPINFRA_API_KEY", True),
    "nvidia_nim": ("https://integrate.api.nvidia.com/v1/chat/completions", "NVIDIA_NIM_API_KEY", True),
    "ollama": ("http://localhost:11434/v1/chat/completions", "OLLAMA_API_KEY", False),
    "ollama_chat": ("http://localhost:11434/v1/chat/completions", "OLLAMA_API_KEY", False),
    "sambanova": ("https://api.sambanova.ai/v1/chat/completions", "SAMBANOVA_API_KEY", True),
    "codestral": ("https://codestral.mistral.ai/v1/chat/completions", "CODESTRAL_API_KEY", True),
    "github": ("https://models.inference.ai.azure.com/chat/completions", "GITHUB_API_KEY", True),
    "llamafile": ("http://127.0.0.1:8080/v1/chat/completions", "LLAMAFILE_API_KEY", False),
    "hyperbolic": ("https://api.hyperbolic.xyz/v1/chat/completions", "HYPERBOLIC_API_KEY", True),
    "moonshot": ("https://api.moonshot.ai/v1/chat/completions", "MOONSHOT_API_KEY", True),
    "dashscope": ("https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions", "DASHSCOPE_API_KEY", True),
}
# Providers with no public address: the file's api_base or the variable is required.
ADDRESSED = {"lm_studio": "LM_STUDIO_API_BASE", "azure_ai": "AZURE_AI_API_BASE", "hosted_vllm": "HOSTED_VLLM_API_BASE"}


def entry(model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": "m", "litellm_params": {"model": model, **params}}


async def sent(deployment: Any) -> httpx.Request:
    """The one request the provider's client sends for a whole chat completion."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"id": "c", "object": "chat.completion", "created": 1, "model": "x", "choices": []}
        return httpx.Response(200, json=body)

    client = OpenAI(Settings(), httpx.MockTransport(answer), deployment)
    await client.complete(Completion([{"role": "user", "content": "hi"}], deployment.model, request_id="r"))
    return seen[0]


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
async def test_a_compatible_provider_needs_only_its_prefix_and_litellms_key_variable(prefix: str) -> None:
    url, variable, needs_key = EXPECTED[prefix]
    deployment = read(entry(f"{prefix}/some/model-1"), 0, {variable: f"key-{prefix}"})
    request = await sent(deployment)
    assert str(request.url) == url
    assert request.headers["authorization"] == f"Bearer key-{prefix}"
    assert json.loads(request.read())["model"] == "some/model-1"
    if needs_key:
        with pytest.raises(Bad, match=variable):
            read(entry(f"{prefix}/some/model-1"), 0, {})
    else:
        assert "authorization" not in (await sent(read(entry(f"{prefix}/m"), 0, {}))).headers


async def test_the_files_api_base_and_api_key_win_over_the_providers_defaults() -> None:
    env = {"GROQ_API_KEY": "from-variable", "PROXY_KEY": "from-file", "GROQ_API_BASE": "https://variable.test/v1"}
    by_file = read(entry("groq/llama", api_base="https://proxy.test/groq/v1", api_key="os.environ/PROXY_KEY"), 0, env)
    by_variable = read(entry("groq/llama"), 0, env)
    first, second = await sent(by_file), await sent(by_variable)
    assert (str(first.url), first.headers["authorization"]) == (
        "https://proxy.test/groq/v1/chat/completions",
        "Bearer from-file",
    )
    assert (str(second.url), second.headers["authorization"]) == (
        "https://variable.test/v1/chat/completions",
        "Bearer from-variable",
    )


@pytest.mark.parametrize("prefix", sorted(ADDRESSED))
def test_a_provider_without_a_public_address_asks_for_one(prefix: str) -> None:
    with pytest.raises(Bad, match=f"api_base is required for {prefix}.*{ADDRESSED[prefix]}"):
        read(entry(f"{prefix}/m", api_key="os.environ/K"), 0, {"K": "k"})
    found = read(entry(f"{prefix}/m", api_key="os.environ/K"), 0, {"K": "k", ADDRESSED[prefix]: "http://h.test/v1"})
    assert found.api_base == "http://h.test/v1"


def test_ollamas_address_gets_v1_as_litellm_gives_it() -> None:
    found = read(entry("ollama/llama3.2"), 0, {"OLLAMA_API_BASE": "http://gpu:11434"})
    assert found.api_base == "http://gpu:11434/v1"


def test_every_catalogued_provider_is_in_docs_routing_table_with_its_address_and_variables() -> None:
    text = DOCS.read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9_]+)` \|.*$", text, re.MULTILINE)}
    missing = sorted(set(PROVIDERS) - set(rows))
    assert not missing, f"docs/routing.md has no row for {missing}"
    for prefix, provider in PROVIDERS.items():
        row = rows[prefix]
        if provider.api_base:
            assert f"`{provider.api_base}`" in row, (prefix, row)
        for variable in (*provider.keys, *provider.bases):
            assert f"`{variable}`" in row, (prefix, variable, row)


def test_each_provider_has_its_genai_name_or_its_prefix() -> None:
    assert otel_name("groq") == "groq" and otel_name("mistral") == "mistral_ai" and otel_name("xai") == "x_ai"
    assert otel_name("openrouter") == "openrouter"
