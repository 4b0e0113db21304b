"""Anthropic's Messages API as its clients call it (Claude Code, the Anthropic SDKs):
`POST /v1/messages`, streamed or whole, and `POST /v1/messages/count_tokens`, over any upstream.
Toward an Anthropic upstream the request goes as it came and its events are relayed byte for byte;
toward any other it is translated (upstreams/anthropic/) and its answer told as Anthropic's events.

May import: the top's leaves, observability, db, access, upstreams, history, streams.
Public: `messages.ROUTES`, `messages.message_fields`.
"""
