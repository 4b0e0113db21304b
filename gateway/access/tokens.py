"""Bearer JWTs from an OIDC issuer: the signature checked against the issuer's published keys (its
JWKS), then `exp`, `nbf`, `iss` and `aud`; the token's subject is the caller.

On with `OIDC_ISSUER` (its keys found by discovery, `/.well-known/openid-configuration`) or
`JWT_JWKS_URL`, and `JWT_AUDIENCE`. Only RS256 and ES256 are accepted, each with a key of its own
type (an RSA key for RS256, an EC key for ES256): never `none`, never an HS algorithm, whose
"secret" would be the issuer's public key. The keys are fetched once, kept for `KEYS_MAX_AGE`, and
fetched again when a token names a key (`kid`) they do not hold, at most once every
`REFRESH_INTERVAL` (so random kids cannot make the gateway hammer the issuer).

The subject owns its records as a stored key does, under `access.subject_id(issuer, sub)`; its role
is the `JWT_ROLE_CLAIM` claim (a dotted path; a string or a list of strings), `user` without one.
A refused token gets a 401 that says why in one phrase.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt

from gateway.access.roles import ADMIN, ROLES, USER, VIEWER, Principal, subject_id
from gateway.errors import Unauthorized, Unavailable

log = logging.getLogger("gateway.tokens")

# The algorithm a token may name, and the type of key it must be checked with.
KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
KEYS_MAX_AGE = 3600.0
REFRESH_INTERVAL = 30.0
LEEWAY_SECONDS = 30  # clock skew allowed on exp and nbf
FETCH_TIMEOUT = 5.0
REQUIRED = ("exp", "iss", "aud", "sub")
PRIVILEGE = (ADMIN, USER, VIEWER)  # most first: a list of roles gives the first of these it holds


def refused(reason: str) -> Unauthorized:
    return Unauthorized(reason, {"WWW-Authenticate": 'Bearer realm="gateway", error="invalid_token"'})


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: a JWT, not a gateway key (`gw_…` holds no dot)."""
    return token.count(".") == 2


class Tokens:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str = "",
        role_claim: str = "role",
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks_url = jwks_url
        self._role_path = tuple(role_claim.split("."))
        self._client = httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False)
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = self._tried_at = float("-inf")
        self._fetching: asyncio.Future[None] | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def identify(self, token: str) -> Principal:
        """The caller a token names, or Unauthorized saying why not (Unavailable when the issuer's
        keys cannot be fetched)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise refused("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in KEY_TYPES:
            raise refused(f"the token's algorithm {algorithm!r} is not accepted (RS256 or ES256 only)")
        kid = header.get("kid")
        key = await self._key(kid if isinstance(kid, str) else None)
        if key.key_type != KEY_TYPES[algorithm]:
            raise refused(f"the token's key is an {key.key_type} key, which does not sign {algorithm}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED), "verify_nbf": True},
            )
        except jwt.PyJWTError as exc:
            raise refused(reason(exc)) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise refused("the token's 'sub' claim is not a string")
        return Principal(name=f"jwt:{subject}", role=self.role(claims), owner_id=subject_id(self.issuer, subject))

    def role(self, claims: Mapping[str, Any]) -> str:
        value: Any = claims
        for part in self._role_path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return USER
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for role in PRIVILEGE:
            if role in names:
                return role
        claim = ".".join(self._role_path)
        raise refused(f"the token's {claim!r} claim names none of the roles {', '.join(ROLES)}")

    async def _key(self, kid: str | None) -> jwt.PyJWK:
        now = time.monotonic()
        stale = now - self._fetched_at > KEYS_MAX_AGE
        if (stale or self._find(kid) is None) and now - self._tried_at >= REFRESH_INTERVAL:
            await self._refresh()  # first use, old keys, or an issuer that rotated its keys
        if not self._keys:
            raise Unavailable("the gateway cannot fetch the token issuer's keys right now")
        key = self._find(kid)
        if key is None:
            raise refused("the token is signed by a key the issuer does not publish")
        return key

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        # No kid: only an issuer with a single key can say which one it is.
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    async def _refresh(self) -> None:
        # One fetch for a burst of tokens, not one each.
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.ensure_future(self._fetch())
        await asyncio.shield(self._fetching)

    async def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            url = self._jwks_url or await self._discover()
            response = await self._client.get(url)
            response.raise_for_status()
            published = response.json()["keys"]
        except Exception as exc:  # the keys held so far, if any, go on being used
            log.warning("cannot fetch the token issuer's keys: %s", exc)
            return
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in published if isinstance(published, list) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key of a kind this gateway does not accept
            keys[key.key_id] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _discover(self) -> str:
        response = await self._client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self.issuer:
            raise ValueError(f"the discovery document names the issuer {document.get('issuer')!r}")
        self._jwks_url = str(document["jwks_uri"])
        return self._jwks_url


def reason(exc: jwt.PyJWTError) -> str:
    """One phrase for why PyJWT refused a token."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet (nbf)"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "the token is not for this audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "the token is from another issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token has no {exc.claim!r} claim"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature does not verify"
    return "the token is not valid"
