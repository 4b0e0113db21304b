"""bench/fake_google's token endpoint, driven by google-auth as a service account uses it: the JWT-bearer
grant verified, refreshes, retries, self-signed JWTs, and what a refresh costs."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import httpx
import pytest

from bench.fake_google import auth
from tests.fakes.conftest import MODEL, SCOPES, token_requests

# ---------------------------------------------------------------------------------------------
# The token endpoint, through google-auth


def test_service_account_refresh(credentials: Any, account: dict[str, Any], google_url: str) -> None:
    from google.auth.transport.requests import Request

    assert not credentials.valid
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.fake-")
    left = credentials.expiry - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert 3500 < left.total_seconds() <= 3599
    (grant,) = httpx.get(google_url + "/_tokens").json()["log"]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = grant["claims"]
    assert claims["aud"] == "https://oauth2.googleapis.com/token"  # not token_uri
    assert claims["iss"] == account["client_email"] and claims["scope"] == SCOPES[0]
    assert claims["exp"] - claims["iat"] == 3600
    assert grant["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_application_default_credentials_file(google_url: str, tmp_path: Any, monkeypatch: Any) -> None:
    import google.auth
    from google.auth.transport.requests import Request

    path = tmp_path / "sa.json"
    written = auth.write_service_account(str(path), google_url, project_id="adc-project")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    credentials, project = google.auth.default(scopes=SCOPES)
    assert project == "adc-project" and credentials.service_account_email == written["client_email"]
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.fake-")


def test_untrusted_key_is_refused(google_url: str) -> None:
    from google.auth import exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    stranger = auth.make_service_account(google_url + "/token", trust=False)
    credentials = service_account.Credentials.from_service_account_info(stranger, scopes=SCOPES)
    with pytest.raises(exceptions.RefreshError, match="account not found"):
        credentials.refresh(Request())
    trusted = auth.make_service_account(google_url + "/token")
    forged = dict(trusted, private_key=stranger["private_key"])  # right name, wrong key
    credentials = service_account.Credentials.from_service_account_info(forged, scopes=SCOPES)
    with pytest.raises(exceptions.RefreshError, match="Invalid JWT Signature"):
        credentials.refresh(Request())


def test_google_auth_retries_a_503_token_endpoint(credentials: Any, google_url: str) -> None:
    from google.auth.transport.requests import Request

    httpx.post(google_url + "/_mode", json={"token_fail": 1})
    credentials.refresh(Request())
    assert credentials.token and token_requests(google_url) == 2


def test_refresh_off_the_event_loop(credentials: Any, google_url: str) -> None:
    """refresh() blocks; in asyncio.to_thread the loop keeps running while the token comes."""
    from google.auth.transport.requests import Request

    httpx.post(google_url + "/_mode", json={"token_delay": 0.3})

    async def run() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await asyncio.to_thread(credentials.refresh, Request())
        ticker.cancel()
        return ticks

    assert asyncio.run(run()) >= 15
    assert credentials.token


def test_refresh_cost(credentials: Any, google_url: str) -> None:
    """What one refresh costs against a local token endpoint: an RSA signature and one round trip."""
    from google.auth.transport.requests import Request

    request = Request()
    started = time.perf_counter()
    for _ in range(10):
        credentials.refresh(request)
    each = (time.perf_counter() - started) / 10
    print(f"\nrefresh: {each * 1000:.1f} ms each")
    assert each < 0.5


def test_self_signed_jwt_needs_no_token_endpoint(account: dict[str, Any], google_url: str) -> None:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        account, scopes=SCOPES, always_use_jwt_access=True
    )
    credentials.refresh(Request())
    assert credentials.token.count(".") == 2
    url = f"{google_url}/v1/projects/p/locations/us-central1/publishers/google/models/{MODEL}:generateContent"
    answer = httpx.post(
        url, headers={"authorization": f"Bearer {credentials.token}"}, json={"contents": [{"parts": [{"text": "hi"}]}]}
    )
    assert answer.status_code == 200 and token_requests(google_url) == 0
