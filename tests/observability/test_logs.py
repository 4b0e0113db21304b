"""Logs: JSON lines that keep UTF-8 and carry extras and exceptions."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from gateway.observability import logs


def test_json_lines_keep_utf8_and_carry_extras_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json_lines=True, level="INFO")
    log = logging.getLogger("gateway.test")
    log.info("naïve café ✓", extra={"record_id": uuid.UUID(int=1), "ttft_ms": 1.5})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = capsys.readouterr().out.splitlines()
    assert "naïve café ✓" in first  # UTF-8 as it is, not \u escapes
    line = json.loads(first)
    assert line["message"] == "naïve café ✓" and line["level"] == "INFO" and line["logger"] == "gateway.test"
    assert line["record_id"] == "00000000-0000-0000-0000-000000000001" and line["ttft_ms"] == 1.5
    assert line["time"].endswith("+00:00") and "request_id" in line
    assert "ValueError: boom" in json.loads(second)["exc_info"]
