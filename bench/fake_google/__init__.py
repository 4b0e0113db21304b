"""A fake of Google's LLM upstreams, told what to do by the prompt: Gemini on AI Studio
(generativelanguage.googleapis.com), Gemini and Claude on Vertex AI (aiplatform.googleapis.com),
and the OAuth2 token endpoint a service account gets its access tokens from.

Routes (every path the real hosts answer under, with any of their API versions):

    POST /{v1,v1beta,v1alpha}/models/{model}:generateContent             AI Studio, key required
    POST /{…}/models/{model}:streamGenerateContent?alt=sse                (x-goog-api-key or ?key=)
    POST /{…}/models/{model}:embedContent | :batchEmbedContents
    GET  /{…}/models[?pageSize=&pageToken=]   GET /{…}/models/{model}
    POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
         … :streamGenerateContent?alt=sse | :embedContent                 Vertex Gemini, Bearer required
    POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict
         … :streamRawPredict              Vertex Claude, Bearer required, body `anthropic_version`
                                          `vertex-2023-10-16` (or `2026-10-21`) and no `model`
    POST /token                       the JWT-bearer grant of a service account (RFC 7523)

A gateway forwards only the request, so the behaviour is written into the last user text as
`[[key=value key=value …]]` (the last `user` content with a text part, for Gemini; the last `user`
message with text, for Claude):

    chunks=N        text chunks (default 5): `tok0`, ` tok1`, …
    delay=S         seconds between chunks          ttft=S     seconds before the first chunk
    hang=S          wait S seconds before answering at all
    fail=N          answer the first N attempts of this prompt with `status` (default 500) and
                    Google's error body; with 429, `retry_after=S` adds a RetryInfo detail
    reject=C        answer every attempt with status C
    stall=S         after `at` chunks (default 1), go silent for S seconds
    drop            after `at` chunks, close the connection without ending the response
    error_event     after `at` chunks, send `data: {"error": {…}}` (Claude: `event: error`)
    malformed       after `at` chunks, send a line that is not SSE
    utf8            multi-byte words, each chunk sent in two pieces split inside a character
    lf              end SSE events with `\\n\\n` instead of Google's `\\r\\n\\r\\n`
    tools           answer with function calls (also whenever the request declares functions, the
                    calling mode is not NONE and the last content is not a function's response);
                    `calls=N` parallel calls (default 1), arguments made from each declaration's
                    `parameters` / `parametersJsonSchema` (Claude: `input_schema`)
    thinking        think even when the request does not ask to (a model named `gemini-3…`,
                    `gemini-2.5…` or `…think…` thinks unless `thinkingBudget` is 0): the usage
                    has `thoughtsTokenCount`; with `includeThoughts` the answer starts with
                    `thought: true` parts; a `thoughtSignature` rides on the first functionCall
                    part, or on the last text part when there is no call
    sig_empty       send the text answer's signature in a last chunk of its own, on an empty text
                    part (as Gemini 3 streams do)      nosig      think, but sign nothing
    cache=N         N prompt tokens came from the cache (`cachedContentTokenCount`; Claude:
                    `cache_read_input_tokens`); a request naming `cachedContent` gets 1000
    json            answer JSON (also with `responseMimeType: application/json`), an instance
                    of `responseSchema` / `responseJsonSchema` when one is given
    safety          stop after `at` chunks with finishReason SAFETY
    blocked         block the prompt: `promptFeedback.blockReason` and no candidates

Thought signatures are checked as Gemini checks them: in the current turn (every content after
the last user content with text), the first functionCall part of each model step must carry its
`thoughtSignature` when the model is a `gemini-3…` one or when this fake signed that very call;
a signature that this fake did not issue (nor the documented dummies) is "corrupted". Both answer
400 INVALID_ARGUMENT with the message AI Studio (or Vertex) sends.

Every request is recorded: `GET /_requests` lists them, `POST /_reset` forgets them (and the
mode, the tokens and the signed calls). `POST /_mode {...}` sets, until the next reset: `reject`
(and `retry_after`) for every model request; `api_keys` (the AI Studio keys accepted, default
`fake-gemini-key`); `token_ttl` (seconds an access token lives, default 3599); `token_fail` (fail
the next N token requests with 503); `token_delay` (seconds the token endpoint waits). `GET
/_tokens` counts token requests. `POST /_service_accounts {"client_email", "public_key"}` trusts
a service account's key (auth.py's helpers make one). Pure ASGI: `uvicorn bench.fake_google.server:app`,
or `python -m bench.fake_google.server --port 9200`; the token endpoint needs `pyjwt` and `cryptography`.
"""
