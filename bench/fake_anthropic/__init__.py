"""A fast fake of Anthropic's Messages API, told what to do by the prompt.

Written from Anthropic's API reference and its official Python SDK (the types in `anthropic.types`, the
stream accumulator in `anthropic/lib/streaming/_messages.py`, the SSE decoder in `anthropic/_streaming.py`
and the retry policy in `anthropic/_base_client.py`); MAPPING.md beside this file cites each rule.

A gateway forwards only the request, so the behaviour is written into the last user message that has
text, as `[[key=value key=value …]]`:

    chunks=N          text deltas to send (default 5): "tok0", " tok1", …
    delay=S           seconds between content_block_delta events (default 0)
    ttft=S            seconds between message_start and the first content block (default 0)
    hang=S            wait S seconds before answering at all
    thinking[=N]      a `thinking` block first: N `thinking_delta`s (default 3) then one `signature_delta`,
                      then the text (also whenever the request has `thinking: {type: enabled|adaptive}`;
                      `nothink` turns that off). With `thinking.display: "omitted"` the thinking text is
                      empty and only the signature is sent, as Anthropic does.
    redacted_thinking a `redacted_thinking` block (no deltas) before everything else
    tools             `tool_use` blocks with `input_json_delta` fragments (the first one empty, as
                      Anthropic sends it). Also automatic whenever the request has `tools`, the last
                      message is not a user turn of `tool_result`s, and `tool_choice` is not `none`;
                      `tool_choice: any | {type: tool, name}` forces them. `calls=N` parallel calls
                      (default 1; 1 whenever `disable_parallel_tool_use` is true); `preamble` sends a text
                      block before the calls. Arguments are cut into `chunks` fragments in all.
    tool=NAME         the tool called is the request's tool of that name
    input=TEXT        the first call's arguments are its first property, TEXT (`+` for a space), alone:
                      `[[tools tool=Bash input=echo+hi+>+out.txt]]` has Claude Code run that
    cache[=read|write] usage with `cache_read_input_tokens` (default) or `cache_creation_input_tokens`:
                      everything before the last message counts as the cached prefix. Without the
                      directive, a request with a `cache_control` marker anywhere writes that prefix the
                      first time it is seen and reads it afterwards (until /_reset).
    overloaded[=N]    HTTP 529 `overloaded_error` on every attempt (or the first N attempts)
    fail=N            answer the first N attempts of this conversation with `status` (default 500) and
    status=C          Anthropic's error body for it; 429 (and 529) carry `retry-after` (`retry_after=S`,
    retry_after=S     default 1 for 429), so the SDK waits exactly that long
    reject=C          answer every attempt with C and its error body (invalid_request_error for 400)
    not_found         404 `not_found_error` "model: <model>" (also for a model named `unknown…`)
    at=N              where error_event, drop and stall strike: before the Nth content_block_delta
                      (counted from 0 across all blocks; default 1)
    error_event[=T]   after `at` deltas, `event: error` with error type T (default
                      overloaded_error), then the stream ends, as Anthropic does mid-stream
    drop              after `at` deltas, close the connection without ending the stream
    stall=S           after `at` deltas, go silent for S seconds
    utf8              text of multi-byte words, each event's bytes split inside a character
    max_tokens        stop_reason max_tokens (also, without the directive, whenever the request's
                      `max_tokens` is smaller than the text: the text is cut to `max_tokens` deltas)
    stop_sequence[=S] stop_reason stop_sequence with `stop_sequence` S (default the request's first
                      `stop_sequences` entry). Without the directive, a request stop sequence found in
                      the text ("tok3", say) cuts the text before it, as Anthropic does
    refusal           stop_reason refusal with `stop_details`
    stop_reason=R     any other stop_reason (pause_turn, model_context_window_exceeded, …)

The last user message being all `tool_result`s gets a text answer (never another tool call), so a
tool loop ends. `stream: false` gets the whole Message object built from the same plan.

Other routes: `POST /v1/messages/count_tokens` answers `{"input_tokens": N}` by the rule in
`count_input_tokens`; `GET /v1/models` and `GET /v1/models/{id}` list models in Anthropic's page shape.

Authentication and validation are Anthropic's (MAPPING.md, "What the fake enforces"): a key in
`x-api-key` or `Authorization: Bearer` (the 2.x SDKs send the latter) else 401 `authentication_error`;
`anthropic-version` required and one of the published versions (400 otherwise); on `2026-10-21`,
`temperature`/`top_p`/`top_k` are refused; unknown top-level and message fields are 400 "… Extra inputs are
not permitted" (beta-only fields pass only with an `anthropic-beta` header); `max_tokens` required;
non-empty content except a final assistant turn (and role "system" turns, which may sit anywhere in
`messages` and carry their own `output_config`, as Claude Code sends them); `tool_use`/`tool_result`
pairing; thinking budgets, signatures and the thinking-block-first rule of manual-thinking tool loops.

Every request is recorded (method, path, headers, body, which auth scheme and version it used, its
`anthropic-beta` values, the client's port, when it started and ended, whether the client went away):
`GET /_requests` lists them, `POST /_reset` forgets them (and the mode, the attempt counts and the cache).
`POST /_mode {"reject": C, "retry_after": S}` makes every message answer C until the next reset (a sick
upstream); `{"api_keys": [...]}` accepts only those keys (keys starting with `bad` are always refused);
`{"unknown_models": [...]}` answers 404 for those models. Pure ASGI, each event encoded once.
"""
