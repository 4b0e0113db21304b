"""The LLM interface (llm.py) and everything behind it: the configuration file of upstreams
(LiteLLM's shape), each provider's client (providers/), the HTTP transport, what a failure is
worth (retries.py), each upstream's health and cool-downs, the candidates of a model, failover,
and the router that puts them together. Knows nothing of Starlette, the database or the caller.

May import: the top's leaves, observability.
Public: `llm` (its names), `config` (its names), `router.Router`, `candidates.Upstream`,
`cooldown.Health`, `transport.make_transport`, `providers.openai.OpenAI`,
`providers.mock.MockLLM`.
"""
