"""Google Cloud's access tokens, for Vertex AI: a service account's credentials (or another kind a
key file names: authorized_user, external_account), or Application Default Credentials when none
is configured, turned into a bearer token by Google's own library, google-auth.

google-auth refreshes synchronously (over `requests`), so a refresh runs in a thread
(`asyncio.to_thread`), bounded by REFRESH_SECONDS, under a lock: one refresh a credential at a
time, and only when the token is missing or expired (google-auth counts a token with less than
3 min 45 s left as expired, so a live token is refreshed before it runs out, never during a
request). The token itself is never logged: a failure says what google-auth said, which holds no
token. A failure is worth another attempt elsewhere (another upstream may hold other credentials),
and cools this upstream down as any other failure does.

google-auth is imported on first use, only by a gateway that has a Vertex upstream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from gateway.errors import UpstreamError
from gateway.upstreams.retries import Retryable

log = logging.getLogger("gateway.upstream")

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_SECONDS = 30.0


class AccessToken:
    """The bearer of one upstream's credentials: `info` is a key file's JSON, or None for
    Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, the metadata server)."""

    def __init__(self, info: str | None) -> None:
        self.info = info
        self.credentials: Any = None
        self.request: Any = None
        self.lock = asyncio.Lock()

    async def header(self) -> tuple[bytes, bytes]:
        """`authorization: Bearer <token>`, refreshed first when it is missing or about to expire."""
        credentials = self.credentials
        if credentials is None or not credentials.valid:
            async with self.lock:
                if self.credentials is None or not self.credentials.valid:
                    await self._refresh()
            credentials = self.credentials
        return b"authorization", b"Bearer " + credentials.token.encode()

    async def _refresh(self) -> None:
        try:
            async with asyncio.timeout(REFRESH_SECONDS):
                await asyncio.to_thread(self._refresh_now)
        except TimeoutError:
            raise Retryable(UpstreamError(f"Google gave no access token within {REFRESH_SECONDS:g} s")) from None
        except Exception as exc:  # google-auth's RefreshError, TransportError, DefaultCredentialsError…
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            log.error("could not get a Google access token (%s): check vertex_credentials", reason)
            raise Retryable(UpstreamError("the gateway could not get an access token from Google")) from None

    def _refresh_now(self) -> None:
        """In a thread: the credentials made once, then refreshed."""
        import google.auth
        import google.auth.transport.requests

        if self.credentials is None:
            if self.info is None:
                self.credentials, _ = google.auth.default(scopes=SCOPES)
            else:
                load: Any = google.auth.load_credentials_from_dict  # untyped
                self.credentials, _ = load(json.loads(self.info), scopes=SCOPES)
            self.request = google.auth.transport.requests.Request()
        self.credentials.refresh(self.request)
