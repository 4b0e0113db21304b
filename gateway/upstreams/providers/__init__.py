"""Each provider's client, one module a provider, each speaking the LLM interface (llm.py): OpenAI
and every server of its API (Azure OpenAI, vLLM), and the mock LLM."""
