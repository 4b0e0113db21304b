"""Values read from an Anthropic request, checked: a malformed one is refused (`Invalid`) with the
path and the words of Anthropic's own validation (`messages.2.content.0.type: Field required`).
A field inside a content block is named after the block's type, as Anthropic names it
(`messages.1.content.0.tool_use.id`).
"""

from __future__ import annotations

from typing import Any

from gateway.errors import Invalid


def field(value: dict[str, Any], key: str, where: str) -> Any:
    """`value[key]`, which must be there."""
    if key not in value:
        raise Invalid(f"{where}.{key}: Field required" if where else f"{key}: Field required")
    return value[key]


def string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where}: Input should be a valid string")
    return value


def mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where}: Input should be a valid dictionary")
    return value


def items(value: Any, where: str, or_string: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"{where}: Input should be a valid {'string or ' if or_string else ''}list")
    return value


def number(value: Any, where: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{where}: Input should be a valid number")
    return value


def block_type(block: Any, where: str) -> str:
    """A block's `type`, which every block has."""
    return string(field(mapping(block, where), "type", where), f"{where}.type")


def block_string(block: dict[str, Any], where: str, tag: str, key: str) -> str:
    """A string field of a block whose type is `tag`."""
    return string(field(block, key, f"{where}.{tag}"), f"{where}.{tag}.{key}")
