"""The LLM interface (llm.py) and everything behind it: the configuration file of upstreams (LiteLLM's
shape: config.py, each entry read by entry.py), each provider's client (providers/: OpenAI's API and
the compatible ones, Responses included, Anthropic's, Google's, the mock; which prefix is which
client in providers/catalogue.py), the one translation between chat completions and Anthropic's
Messages (anthropic/), and between chat completions and Gemini's API (gemini/), the HTTP transport,
what a failure is worth (retries.py), each upstream's health and cool-downs, the candidates of a
model, failover, and the router that puts them together. Knows nothing of Starlette, the database or
the caller.

May import: the top's leaves, observability.
Public: `llm` (its names), `config` (its names), `entry.Deployment`, `router.Router`,
`candidates.Upstream`, `cooldown.Health`, `transport.make_transport`, `providers.clients.client`,
`providers.openai.OpenAI`, `providers.mock.MockLLM`, `anthropic.chat_requests.ChatRequest`,
`anthropic.chat_requests.to_chat`, `anthropic.tokens.estimate_input_tokens`,
`anthropic.writer.EventWriter`, `anthropic.objects.to_message`, `anthropic.errors.error_type_of`,
`anthropic.models.model_info`, `anthropic.models.model_list`.
"""
