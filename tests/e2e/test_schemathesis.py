"""schemathesis drives every described operation of a real uvicorn process, with a bounded
number of examples each (SCHEMATHESIS_EXAMPLES, default 20), valid and invalid: no 5xx, and
every response keeps to the status codes, content types and schemas that /openapi.json promises.

(schemathesis' pytest plugin does not run on pytest 9, so the operations are walked here with
hypothesis directly.)"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_reliability import record_figures
from tests.servers import UvicornProcess

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_and_no_response_breaks_the_schema(
    uvicorn_gateway: Callable[..., UvicornProcess], mode: GenerationMode
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0", MAX_PROMPT_CHARS="2000")
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    labels = {operation.label for operation in operations}
    assert {"POST /stream", "GET /stream", "GET /history", "GET /history/{record_id}"} <= labels
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(checks=CHECKS, timeout=30)

        try:
            check()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid input to make.
            assert mode is GenerationMode.NEGATIVE, operation.label
    record_figures(f"schemathesis_{mode.value}", examples=calls, server_errors=0, schema_violations=0)
