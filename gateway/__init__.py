"""An LLM streaming gateway: text, OpenAI NDJSON and SSE streams, every exchange kept.

The packages, each one concern, lowest first (each imports only those before it; the top's
leaves, `settings`, `errors` and `inputs`, are open to all):

    observability  logs, metrics, traces
    db             connections, tables, group commits, times and cursors, LISTEN/NOTIFY
    access         who is calling and what they may do: roles, keys, JWTs, rate limits, audit, admin API
    upstreams      the LLM interface and every upstream behind it: providers, routing, failover
    history        the records: their store, search, usage, retention, export, and routes
    streams        `/stream`, and the relay every streamed answer goes through
    openai         OpenAI's `/v1` API: chat completions, the Responses API, models, embeddings
    openapi        the OpenAPI description, built from every route's declared fields

At the top, what composes them: `app` (the Starlette app), `lifespan` (a process's resources),
`home` (health, metrics, the page), `cli` (the `gateway` command), `serve` (uvicorn, as the
image runs it). docs/architecture.md draws it.
"""

__version__ = "0.1.0"
