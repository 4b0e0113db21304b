"""A value that satisfies a JSON Schema: what the mock LLM puts in a tool call's arguments and in an
answer constrained by `response_format: json_schema`. Pure and deterministic for one seed.

It covers what tool and response schemas use (pydantic's and OpenAI's strict ones among them):
`type` (and lists of types), `properties` (the `required` ones, as a model fills them; every one
when the schema names none, as strict mode requires them all),
`items`, `enum`, `const`, `anyOf`/`oneOf` (the first that is not null), `allOf`, `$ref` into `$defs`
or `definitions`, string `format`s, and the length, item and numeric bounds. A `pattern` is not
followed.
"""

from __future__ import annotations

import random
from typing import Any

WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "juniper")
FORMATS = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
}
MAX_DEPTH = 8


def example(schema: Any, rng: random.Random, root: Any = None, depth: int = 0) -> Any:
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "$ref" in schema:
        return example(_resolve(schema["$ref"], root), rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            chosen = next((o for o in options if not (isinstance(o, dict) and o.get("type") == "null")), options[0])
            return example(chosen, rng, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example(part, rng, root, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        required = schema.get("required")
        filled = [name for name in properties if name in required] if isinstance(required, list) else list(properties)
        return {name: example(properties[name], rng, root, depth + 1) for name in filled}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        return [example(schema.get("items", {}), rng, root, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(_number(schema, rng))
    if kind == "number":
        return _number(schema, rng)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, rng)


def _resolve(ref: Any, root: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return {}
    node = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _bound(schema: dict[str, Any], name: str) -> float | None:
    value = schema.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(schema: dict[str, Any], rng: random.Random) -> float:
    low = _bound(schema, "minimum")
    if low is None and (exclusive := _bound(schema, "exclusiveMinimum")) is not None:
        low = exclusive + 1
    high = _bound(schema, "maximum")
    if high is None and (exclusive := _bound(schema, "exclusiveMaximum")) is not None:
        high = exclusive - 1
    low = 0.0 if low is None else low
    high = low + 100 if high is None or high < low else high
    # Whole numbers for both: a model asked for a count or a limit gives one, and a client may read
    # a `number` of its own schema as an integer (Codex reads max_output_tokens so).
    return float(round(rng.uniform(low, high)))


def _string(schema: dict[str, Any], rng: random.Random) -> str:
    if schema.get("format") in FORMATS:
        return FORMATS[schema["format"]]
    text = " ".join(rng.choice(WORDS) for _ in range(2))
    low = schema.get("minLength", 0)
    high = schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = (text + " ") * (low // (len(text) + 1) + 1)
    if isinstance(high, int):
        text = text[:high]
    return text
