"""Models in Anthropic's shape (`GET /v1/models` for a client that says `anthropic-version`): each
`{"type": "model", "id", "display_name", "created_at"}`, in a page with `has_more`, `first_id` and
`last_id`. The gateway knows no model's date: `created_at` is the epoch."""

from __future__ import annotations

from typing import Any

EPOCH = "1970-01-01T00:00:00Z"


def model_info(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": EPOCH}


def model_list(names: list[str]) -> dict[str, Any]:
    return {
        "data": [model_info(name) for name in names],
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }
