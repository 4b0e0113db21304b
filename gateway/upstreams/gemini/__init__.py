"""The one translation between OpenAI's chat completions (the gateway's own language) and Gemini's
native API (`generateContent`, the same bodies on Google AI Studio and on Vertex AI), pure (no
I/O): chat requests as generateContent bodies (requests.py, the messages by contents.py), Gemini's
streamed answer as chunks (events.py) and its whole answer as a `chat.completion` (objects.py),
both read by parts.py; embeddings both ways (embeddings.py); Google's error bodies (errors.py).
What the two name differently (finish reasons, usage, reasoning efforts, and the tool-call ids
that carry thought signatures) is terms.py's.

May import: the top's leaves, upstreams.llm, upstreams.anthropic (its usage object).
Public: `requests.to_gemini`, `events.EventReader`, `objects.to_chat_completion`, `embeddings`,
`errors.refused`, `terms`.
"""
