"""The one translation between OpenAI's chat completions (the gateway's own language) and
Anthropic's Messages API, both ways, pure (no I/O). For an Anthropic upstream (and Bedrock's and
Vertex's Claude): chat requests as Messages requests (requests.py, its messages by turns.py),
Messages events as chunks (events.py), Messages as `chat.completion`s (objects.py). For the
`/v1/messages` route over chat-completions upstreams: Messages requests as chat requests
(chat_requests.py, its messages by chat_messages.py, both checked by checks.py), chunks as
Messages events (writer.py), `chat.completion`s as Messages (objects.py), and an estimate of a
request's input tokens for `count_tokens` (tokens.py). What both directions name differently
(stop reasons, usage, tool-call ids, efforts) is terms.py's; Anthropic's error types and body
errors.py's; what each Claude model takes (adaptive thinking, sampling) families.py's.

May import: the top's leaves, upstreams.llm.
Public: `requests.to_anthropic`, `chat_requests.to_chat`, `chat_requests.ChatRequest`,
`tokens.estimate_input_tokens`, `events.EventReader`, `writer.EventWriter`, `writer.event`,
`objects.to_chat_completion`, `objects.to_message`, `errors.error_type`, `errors.error_type_of`,
`errors.status_for`, `errors.error_body`, `terms.usage_of`, `terms.anthropic_usage`,
`terms.chat_usage`, `terms.openai_usage_of`, `terms.finish_reason`, `terms.stop_reason`,
`terms.tool_id`, `families.traits`.
"""
