"""Messages as records keep them: large binary parts described by type, size and hash, and
replayed as a text note."""

from __future__ import annotations

import base64
import hashlib

from gateway.history import messages as record


def test_large_binary_parts_are_recorded_by_type_size_and_hash_and_replayed_as_a_note() -> None:
    image = b"\x89PNG" + bytes(1000)
    audio = bytes(range(200)) * 5
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "see"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}},
            {"type": "input_audio", "input_audio": {"data": base64.b64encode(audio).decode(), "format": "mp3"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/small.png"}},
        ]}
    ]  # fmt: skip
    kept = record.for_record(messages)
    parts = kept[0]["content"]
    assert parts[0] == {"type": "text", "text": "see"} and parts[3] == messages[0]["content"][3]
    described = {
        "omitted": True,
        "media_type": "image/png",
        "bytes": len(image),
        "sha256": hashlib.sha256(image).hexdigest(),
    }
    assert parts[1]["image_url"]["url"] == described
    assert (
        parts[2]["input_audio"]["data"]["media_type"] == "audio/mp3"
        and parts[2]["input_audio"]["data"]["bytes"] == 1000
    )
    again = record.replayable(kept[0])["content"]
    assert again[1] == {
        "type": "text",
        "text": f"[image/png: {len(image)} bytes, sha256 {described['sha256']}, not kept]",
    }
    assert again[3] == parts[3]
