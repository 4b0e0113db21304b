"""Who may call: AI Studio's API keys, Vertex's bearer tokens, and the OAuth2 token endpoint a
service account's JWT-bearer grant goes to (RFC 7523); helpers that make a test service account."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse
from typing import Any

from bench.fake_google.rules import (
    API_KEY,
    GOOGLE_TOKEN_URI,
    JWT_GRANT,
    Receive,
    Send,
    google_error,
    json_response,
    mode,
    read_body,
    service_accounts,
    token_log,
    tokens,
)


async def studio_key_refused(send: Send, headers: dict[str, str], query: dict[str, str]) -> bool:
    key = headers.get("x-goog-api-key") or query.get("key")
    if not key:
        message = (
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API."
        )
        await json_response(send, 403, google_error(403, message))
        return True
    if key not in set(mode.get("api_keys") or [API_KEY]):
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
        await json_response(send, 400, google_error(400, "API key not valid. Please pass a valid API key.", details))
        return True
    return False


async def bearer_refused(send: Send, headers: dict[str, str]) -> bool:
    authorization = headers.get("authorization", "")
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    if not token and headers.get("x-goog-api-key"):
        message = (
            "API keys are not supported by this API. Expected OAuth2 access token or other "
            "authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication"
        )
        await json_response(send, 401, google_error(401, message))
        return True
    if not token:
        message = (
            "Request is missing required authentication credential. Expected OAuth 2 access token, login "
            "cookie or other valid authentication credential. See "
            "https://developers.google.com/identity/sign-in/web/devconsole-project."
        )
        await json_response(send, 401, google_error(401, message))
        return True
    expires = tokens.get(token)
    if (expires is not None and expires > time.time()) or self_signed_jwt_valid(token):
        return False
    message = (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    )
    await json_response(send, 401, google_error(401, message))
    return True


# ---------------------------------------------------------------------------------------------
# OAuth2: the token endpoint a service account's JWT-bearer grant goes to


def trust_service_account(client_email: str, public_key_pem: str) -> None:
    from cryptography.hazmat.primitives import serialization

    service_accounts[client_email] = serialization.load_pem_public_key(public_key_pem.encode())


def self_signed_jwt_valid(token: str) -> bool:
    """A service account may sign its own JWT and send it as the bearer (google-auth's
    `always_use_jwt_access`, AIP-4111): accepted when a trusted key signed it and it is current."""
    if token.count(".") != 2 or not service_accounts:
        return False
    try:
        import jwt

        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        key = service_accounts.get(str(issuer))
        if key is None:
            return False
        jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False, "require": ["exp", "iat"]})
        return True
    except Exception:
        return False


async def token_endpoint(receive: Receive, send: Send, headers: dict[str, str]) -> None:
    raw = await read_body(receive)
    form = dict(urllib.parse.parse_qsl(raw.decode()))
    record: dict[str, Any] = {"at": time.time(), "grant_type": form.get("grant_type"), "headers": headers}
    token_log.append(record)

    async def refuse(status: int, error: str, description: str) -> None:
        record["refused"] = description
        await json_response(send, status, {"error": error, "error_description": description})

    if "token_delay" in mode:
        await asyncio.sleep(float(mode["token_delay"]))
    if int(mode.get("token_fail", 0)) > 0:
        mode["token_fail"] = int(mode["token_fail"]) - 1
        await refuse(503, "temporarily_unavailable", "The token service is unavailable.")
        return
    if form.get("grant_type") != JWT_GRANT:
        await refuse(400, "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}")
        return
    import jwt

    assertion = form.get("assertion", "")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        await refuse(400, "invalid_grant", "Invalid JWT: could not be decoded.")
        return
    record["claims"] = claims
    key = service_accounts.get(str(claims.get("iss")))
    if key is None:
        await refuse(400, "invalid_grant", "Invalid grant: account not found")
        return
    try:
        own = f"http://{headers.get('host', 'localhost')}/token"
        jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=[GOOGLE_TOKEN_URI, own],
            options={"require": ["exp", "iat", "aud", "iss"]},
            leeway=30,
        )
    except jwt.InvalidSignatureError:
        await refuse(400, "invalid_grant", "Invalid JWT Signature.")
        return
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        await refuse(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
        return
    except jwt.PyJWTError as error:
        await refuse(400, "invalid_grant", f"Invalid JWT: {error}")
        return
    if int(claims["exp"]) - int(claims["iat"]) > 3600:
        await refuse(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
        return
    if not claims.get("scope") and not claims.get("target_audience"):
        await refuse(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return
    ttl = int(mode.get("token_ttl", 3599))
    token = "ya29.fake-" + secrets.token_urlsafe(24)
    tokens[token] = time.time() + ttl
    record["issued"] = token
    await json_response(send, 200, {"access_token": token, "expires_in": ttl, "token_type": "Bearer"})


# ---------------------------------------------------------------------------------------------
# Helpers for tests: a service account of one's own, trusted by this fake


def make_service_account(
    token_uri: str, *, project_id: str = "fake-project", client_email: str | None = None, trust: bool = True
) -> dict[str, Any]:
    """The JSON of a service-account key as Google's console downloads it, with a fresh RSA key
    and `token_uri` pointing wherever the test wants (this fake's `/token`). With `trust`, this
    process's fake trusts it; a fake in another process needs `register_service_account`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    email = client_email or f"gateway-test-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{urllib.parse.quote(email)}",
        "universe_domain": "googleapis.com",
    }
    if trust:
        trust_service_account(email, public_pem)
    info["_public_key"] = public_pem  # not in a real key file; dropped by write_service_account
    return info


def register_service_account(base_url: str, info: dict[str, Any]) -> None:
    """Tell a fake running elsewhere (`base_url`) to trust this service account's key."""
    import urllib.request

    data = json.dumps({"client_email": info["client_email"], "public_key": info["_public_key"]}).encode()
    request = urllib.request.Request(
        base_url.rstrip("/") + "/_service_accounts", data=data, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def write_service_account(path: str, base_url: str, **options: Any) -> dict[str, Any]:
    """Write a test service-account key file whose `token_uri` is this fake's `/token` (the fake
    at `base_url`, told to trust it), as GOOGLE_APPLICATION_CREDENTIALS or LiteLLM's
    `vertex_credentials` would name it. Returns the JSON written."""
    info = make_service_account(base_url.rstrip("/") + "/token", **options)
    try:
        register_service_account(base_url, info)
    except OSError:
        pass  # a fake in this very process already trusts it
    written = {k: v for k, v in info.items() if not k.startswith("_")}
    with open(path, "w") as file:
        json.dump(written, file, indent=2)
    return written
