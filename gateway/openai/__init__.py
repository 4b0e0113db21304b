"""OpenAI's API as clients call it at `/v1`: chat completions (completions.py, its requests
checked by chat.py), the Responses API (responses.py and response_reads.py: its requests read by
response_input.py, response_items.py and response_tools.py, what it continues found by
response_state.py, its objects and events made by response_object.py and response_events.py, or
relayed from a Responses upstream by response_relay.py), conversations, models and embeddings.

May import: the top's leaves, observability, db, access, upstreams, history, streams.
Public: `completions` (its ROUTES and fields), `responses.ROUTES`, `response_reads.ROUTES`,
`conversations.ROUTES`,
`response_input.response_fields`.
"""
