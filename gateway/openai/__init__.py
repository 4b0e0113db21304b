"""OpenAI's API as clients call it at `/v1`: chat completions (completions.py, its requests
checked by chat.py), the Responses API (responses.py, its requests read by response_input.py, its
objects and events made by response_object.py and response_events.py), models and embeddings.

May import: the top's leaves, observability, db, access, upstreams, history, streams.
Public: `completions` (its ROUTES and fields), `responses.ROUTES`,
`response_input.response_fields`.
"""
