"""Each provider's client, one module a provider, each speaking the LLM interface (llm.py): OpenAI
and every server of its API (Azure OpenAI, vLLM), Anthropic, Google (Gemini on AI Studio and Vertex,
Claude on Vertex, and Vertex's access tokens), and the mock LLM."""
