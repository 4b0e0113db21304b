"""The providers a configuration file may name, by LiteLLM's prefixes (`<prefix>/<model>`): which
client speaks to each, its default address, the environment variables LiteLLM reads for its key
and its address when the file gives neither, whether it needs a key, and its name in
OpenTelemetry's GenAI conventions (`gen_ai.provider.name`).

Most providers serve OpenAI's chat completions at `<base>/chat/completions`: they are one client
(`openai`) at another address. The addresses and variables are LiteLLM's own (its provider lookup,
`litellm/litellm_core_utils/get_llm_provider_logic.py`, and each provider's transformation); docs/routing.md
has the table, with what each provider refuses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    client: str  # which client speaks to it: openai, azure, anthropic, gemini, vertex_ai, mock
    api_base: str = ""  # its address when neither the file nor the environment gives one ("": required)
    keys: tuple[str, ...] = ()  # the variables its key is read from, in order, when the file names none
    bases: tuple[str, ...] = ()  # the variables its address is read from, in order
    needs_key: bool = True
    otel: str = ""  # gen_ai.provider.name (the prefix when the conventions name none)
    suffix: str = ""  # appended to an address that lacks it (Ollama's OpenAI-compatible API is at /v1)
    note: str = ""  # what it refuses that OpenAI takes, for docs/routing.md and /health


def _compatible(base: str, key: str, otel: str = "", note: str = "") -> Provider:
    """An OpenAI-compatible provider whose variables are `<NAME>_API_KEY` and `<NAME>_API_BASE`."""
    return Provider("openai", base, (key,), (key.removesuffix("_API_KEY") + "_API_BASE",), otel=otel, note=note)


PROVIDERS: dict[str, Provider] = {
    "openai": Provider("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), ("OPENAI_BASE_URL",), otel="openai"),
    "azure": Provider("azure", "", ("AZURE_API_KEY",), ("AZURE_API_BASE",), otel="azure.ai.openai"),
    "hosted_vllm": Provider("openai", "", ("HOSTED_VLLM_API_KEY",), ("HOSTED_VLLM_API_BASE",), needs_key=False, otel="vllm"),
    "anthropic": Provider("anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",), ("ANTHROPIC_API_BASE",), otel="anthropic"),
    "mock": Provider("mock", needs_key=False, otel="mock"),
    # Google's, in their native API (providers/gemini.py, vertex.py); Vertex's address comes from its location.
    "gemini": Provider("gemini", "https://generativelanguage.googleapis.com", ("GEMINI_API_KEY",), ("GEMINI_API_BASE",), otel="gcp.gemini"),
    "vertex_ai": Provider("vertex_ai", "", (), ("VERTEXAI_API_BASE",), needs_key=False, otel="gcp.vertex_ai"),
    "groq": _compatible("https://api.groq.com/openai/v1", "GROQ_API_KEY", "groq", "no logprobs, logit_bias, messages[].name, n > 1"),
    "mistral": Provider("openai", "https://api.mistral.ai/v1", ("MISTRAL_AZURE_API_KEY", "MISTRAL_API_KEY"), ("MISTRAL_AZURE_API_BASE",), otel="mistral_ai", suffix="/v1", note="refuses unknown fields (422): n, penalties, messages[].name"),
    "codestral": _compatible("https://codestral.mistral.ai/v1", "CODESTRAL_API_KEY", "mistral_ai", "as mistral"),
    "deepseek": _compatible("https://api.deepseek.com/beta", "DEEPSEEK_API_KEY", "deepseek"),
    "xai": _compatible("https://api.x.ai/v1", "XAI_API_KEY", "x_ai", "stop and frequency_penalty only on some models"),
    "openrouter": Provider("openai", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY", "OR_API_KEY"), ("OPENROUTER_API_BASE",)),
    "together_ai": Provider("openai", "https://api.together.ai/v1", ("TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"), ("TOGETHER_AI_API_BASE",)),
    "fireworks_ai": Provider("openai", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"), ("FIREWORKS_API_BASE",)),
    "cerebras": _compatible("https://api.cerebras.ai/v1", "CEREBRAS_API_KEY", note="no frequency_penalty, presence_penalty, logit_bias, parallel_tool_calls, service_tier"),
    "perplexity": Provider("openai", "https://api.perplexity.ai", ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"), ("PERPLEXITY_API_BASE",), otel="perplexity", note="no tools, n, logprobs, stop"),
    "deepinfra": _compatible("https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY"),
    "nvidia_nim": _compatible("https://integrate.api.nvidia.com/v1", "NVIDIA_NIM_API_KEY", note="per model; no n, logprobs by default"),
    "sambanova": _compatible("https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY", note="no n, seed, penalties, logprobs"),
    "azure_ai": Provider("openai", "", ("AZURE_AI_API_KEY",), ("AZURE_AI_API_BASE",), otel="azure.ai.inference"),
    "github": _compatible("https://models.inference.ai.azure.com", "GITHUB_API_KEY", "azure.ai.inference"),
    "ollama": Provider("openai", "http://localhost:11434/v1", ("OLLAMA_API_KEY",), ("OLLAMA_API_BASE",), needs_key=False, suffix="/v1"),
    "ollama_chat": Provider("openai", "http://localhost:11434/v1", ("OLLAMA_API_KEY",), ("OLLAMA_API_BASE",), needs_key=False, suffix="/v1"),
    "lm_studio": Provider("openai", "", ("LM_STUDIO_API_KEY",), ("LM_STUDIO_API_BASE",), needs_key=False),
    "llamafile": Provider("openai", "http://127.0.0.1:8080/v1", ("LLAMAFILE_API_KEY",), ("LLAMAFILE_API_BASE",), needs_key=False),
    "openai_like": Provider("openai", "", ("OPENAI_LIKE_API_KEY",), ("OPENAI_LIKE_API_BASE",), needs_key=False),
    "hyperbolic": _compatible("https://api.hyperbolic.xyz/v1", "HYPERBOLIC_API_KEY"),
    "novita": _compatible("https://api.novita.ai/v3/openai", "NOVITA_API_KEY"),
    "nebius": _compatible("https://api.studio.nebius.ai/v1", "NEBIUS_API_KEY"),
    "friendliai": Provider("openai", "https://api.friendli.ai/serverless/v1", ("FRIENDLIAI_API_KEY", "FRIENDLI_TOKEN"), ("FRIENDLI_API_BASE",)),
    "lambda_ai": Provider("openai", "https://api.lambda.ai/v1", ("LAMBDA_API_KEY",), ("LAMBDA_API_BASE",)),
    "featherless_ai": Provider("openai", "https://api.featherless.ai/v1", ("FEATHERLESS_AI_API_KEY", "FEATHERLESS_API_KEY"), ("FEATHERLESS_AI_API_BASE", "FEATHERLESS_API_BASE"), note="no tools"),
    "nscale": _compatible("https://inference.api.nscale.com/v1", "NSCALE_API_KEY", note="no tools"),
    "moonshot": _compatible("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY", "moonshot_ai", "temperature 0 to 1; no tool_choice required"),
    "dashscope": _compatible("https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
    "volcengine": _compatible("https://ark.cn-beijing.volces.com/api/v3", "VOLCENGINE_API_KEY"),
    "meta_llama": Provider("openai", "https://api.llama.com/compat/v1", ("LLAMA_API_KEY",), ("LLAMA_API_BASE",)),
    "ai21_chat": Provider("openai", "https://api.ai21.com/studio/v1", ("AI21_API_KEY",), ("AI21_API_BASE",)),
    "wandb": _compatible("https://api.inference.wandb.ai/v1", "WANDB_API_KEY"),
    "zai": _compatible("https://api.z.ai/api/paas/v4", "ZAI_API_KEY"),
}  # fmt: skip


def otel_name(prefix: str) -> str:
    """A provider's gen_ai.provider.name: the conventions' name, or its prefix where they have none."""
    found = PROVIDERS.get(prefix)
    return found.otel if found is not None and found.otel else prefix
