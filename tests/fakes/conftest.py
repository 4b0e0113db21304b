"""Fixtures of the fakes' tests: the fake Google upstream served in this process, and Google's own
clients (google-genai for AI Studio and Vertex, google-auth for a service account) pointed at it."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn

from bench.fake_google import auth, rules, server

MODEL = "gemini-2.0-flash-fake"  # does not think unless asked
THINKER = "gemini-3-flash-fake"  # thinks, and wants its signatures back
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


# ---------------------------------------------------------------------------------------------
# The fake, served in this process


@pytest.fixture(scope="session")
def google_url() -> Any:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    for _ in range(200):
        if served.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(5)


@pytest.fixture(autouse=True)
def reset(google_url: str) -> None:
    httpx.post(google_url + "/_reset")


def seen(google_url: str) -> list[dict[str, Any]]:
    return httpx.get(google_url + "/_requests").json()


def token_requests(google_url: str) -> int:
    return httpx.get(google_url + "/_tokens").json()["requests"]


@pytest.fixture
def studio(google_url: str) -> Any:
    from google import genai

    return genai.Client(api_key=rules.API_KEY, http_options={"base_url": google_url, "api_version": "v1beta"})


@pytest.fixture
def account(google_url: str) -> dict[str, Any]:
    return auth.make_service_account(google_url + "/token")


@pytest.fixture
def credentials(account: dict[str, Any]) -> Any:
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_info(account, scopes=SCOPES)


@pytest.fixture
def vertex(google_url: str, credentials: Any) -> Any:
    from google import genai

    return genai.Client(
        vertexai=True,
        project="fake-project",
        location="us-central1",
        credentials=credentials,
        http_options={"base_url": google_url},
    )


WEATHER = {
    "name": "get_weather",
    "description": "The weather at a place",
    "parameters": {
        "type": "OBJECT",
        "properties": {"location": {"type": "STRING"}, "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "unit"],
    },
}
