"""JWT users: a token from the configured issuer is a caller beside API keys, checked against the
issuer's published keys (fetched by discovery or from JWT_JWKS_URL, refreshed on an unknown kid),
with exp/nbf/iss/aud; RS256 and ES256 only; every refusal a 401 saying why. A token's subject owns
its records as a key does, and its role comes from a claim. Both databases."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.access import tokens
from gateway.access.roles import subject_id
from gateway.settings import ConfigError, Settings
from tests.conftest import OPERATOR_KEY, Gateway, assert_error, rows, stored_key
from tests.servers import ThreadedHTTP

AUDIENCE = "gateway-tests"
V1 = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class Issuer:
    """An OIDC issuer: a discovery document, a JWKS of RSA and EC keys, and the tokens it signs."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, Any]] = {}
        self.server = ThreadedHTTP(self.handle)
        self.url = self.server.url + "/realm"
        self.add("rsa-1", "RS256")
        self.add("ec-1", "ES256")

    def add(self, kid: str, algorithm: str) -> None:
        private = (
            rsa.generate_private_key(65537, 2048) if algorithm == "RS256" else ec.generate_private_key(ec.SECP256R1())
        )
        self.keys[kid] = (algorithm, private)

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if path == "/realm/.well-known/openid-configuration":
            document = {"issuer": self.url, "jwks_uri": self.server.url + "/realm/jwks"}
            return 200, "application/json", json.dumps(document).encode()
        if path == "/realm/jwks":
            published = []
            for kid, (algorithm, private) in self.keys.items():
                codec = RSAAlgorithm if algorithm == "RS256" else ECAlgorithm
                published.append({**codec.to_jwk(private.public_key(), as_dict=True), "kid": kid, "use": "sig"})
            return 200, "application/json", json.dumps({"keys": published}).encode()
        return 404, "text/plain", b"not here"

    @property
    def fetches(self) -> int:
        return sum(1 for _, path, _, _ in self.server.requests if path == "/realm/jwks")

    def claims(self, sub: str = "alice", **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, sub: str = "alice", kid: str = "rsa-1", **changes: Any) -> str:
        algorithm, private = self.keys[kid]
        return jwt.encode(self.claims(sub, **changes), private, algorithm=algorithm, headers={"kid": kid})

    def public_pem(self, kid: str) -> bytes:
        public = self.keys[kid][1].public_key()
        pem: bytes = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return pem


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token signed by hand: `alg: none` (no signature), or HS256 with the given secret."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    made = Issuer()
    with made.server:
        yield made


@pytest.fixture
async def jwt_gateway(make_gateway: Any, issuer: Issuer) -> Gateway:
    gateway: Gateway = await make_gateway(api_key=OPERATOR_KEY, oidc_issuer=issuer.url, jwt_audience=AUDIENCE)
    return gateway


pytestmark = pytest.mark.usefixtures("no_key_cache")


async def test_a_token_from_the_issuer_is_a_caller_with_its_own_history(jwt_gateway: Gateway, issuer: Issuer) -> None:
    for kid in ("rsa-1", "ec-1"):  # RS256 and ES256
        made = await jwt_gateway.post(
            "/stream", json={"prompt": f"signed {kid}"}, headers=bearer(issuer.token(kid=kid))
        )
        assert made.status_code == 200, made.text
    listed = (await jwt_gateway.get("/history", headers=bearer(issuer.token()))).json()
    assert listed["total"] == 2
    stored = await rows(jwt_gateway.state["settings"].database_url, "SELECT api_key_id FROM records")
    assert {str(r["api_key_id"]).replace("-", "") for r in stored} == {subject_id(issuer.url, "alice").hex}
    assert issuer.fetches == 1  # fetched once by discovery, then kept


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"exp": -600}, "the token has expired"),  # seconds from now, when the test runs
        ({"nbf": 600}, "the token is not valid yet"),
        ({"aud": "another-service"}, "the token is not for this audience"),
        ({"iss": "https://elsewhere.example"}, "the token is from another issuer"),
        ({"exp": None}, "the token has no 'exp' claim"),
        ({"sub": None}, "the token has no 'sub' claim"),
        ({"role": "root"}, "names none of the roles"),
    ],
)
async def test_a_bad_token_is_a_401_that_says_why(
    jwt_gateway: Gateway, issuer: Issuer, changes: dict[str, Any], phrase: str
) -> None:
    now = int(time.time())  # not at collection: the suite may run longer than the offsets
    claims = {
        name: now + value if name in ("exp", "nbf") and value is not None else value for name, value in changes.items()
    }
    response = await jwt_gateway.get("/history", headers=bearer(issuer.token(**claims)))
    assert_error(response, 401, phrase)
    assert "invalid_token" in response.headers["www-authenticate"]


async def test_no_none_and_no_hmac_with_the_public_key(jwt_gateway: Gateway, issuer: Issuer) -> None:
    claims = issuer.claims()
    unsigned = forged({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims, None)
    assert_error(await jwt_gateway.get("/history", headers=bearer(unsigned)), 401, "'none' is not accepted")
    for kid in ("rsa-1", "ec-1"):
        confused = forged({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, issuer.public_pem(kid))
        assert_error(await jwt_gateway.get("/history", headers=bearer(confused)), 401, "'HS256' is not accepted")
    # an ES256 header on a token whose kid is the RSA key: the key's type decides
    mismatched = jwt.encode(claims, issuer.keys["ec-1"][1], algorithm="ES256", headers={"kid": "rsa-1"})
    assert_error(await jwt_gateway.get("/history", headers=bearer(mismatched)), 401, "does not sign ES256")
    # signed by a key the issuer never published, under a kid it does publish
    stranger = rsa.generate_private_key(65537, 2048)
    impostor = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    assert_error(await jwt_gateway.get("/history", headers=bearer(impostor)), 401, "signature does not verify")
    assert_error(await jwt_gateway.get("/history", headers=bearer("a.b.c")), 401, "not a well-formed JWT")


async def test_an_unknown_kid_refreshes_the_keys_once_then_is_refused(
    jwt_gateway: Gateway, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await jwt_gateway.get("/history", headers=bearer(issuer.token()))).status_code == 200
    assert issuer.fetches == 1
    verifier: tokens.Tokens = jwt_gateway.state["tokens"]
    verifier._tried_at -= tokens.REFRESH_INTERVAL  # the interval since the first fetch has passed
    stranger = rsa.generate_private_key(65537, 2048)
    unknown = jwt.encode(issuer.claims(), stranger, algorithm="RS256", headers={"kid": "who"})
    assert_error(await jwt_gateway.get("/history", headers=bearer(unknown)), 401, "a key the issuer does not publish")
    assert issuer.fetches == 2  # one refresh
    for _ in range(5):  # random kids do not make the gateway hammer the issuer
        assert_error(await jwt_gateway.get("/history", headers=bearer(unknown)), 401, "does not publish")
    assert issuer.fetches == 2


async def test_a_rotated_key_is_fetched_and_the_old_one_stops(jwt_gateway: Gateway, issuer: Issuer) -> None:
    old = issuer.token(kid="rsa-1")
    assert (await jwt_gateway.get("/history", headers=bearer(old))).status_code == 200
    issuer.keys.pop("rsa-1")
    issuer.add("rsa-2", "RS256")
    verifier: tokens.Tokens = jwt_gateway.state["tokens"]
    verifier._tried_at -= tokens.REFRESH_INTERVAL
    assert (await jwt_gateway.get("/history", headers=bearer(issuer.token(kid="rsa-2")))).status_code == 200
    assert issuer.fetches == 2
    assert_error(await jwt_gateway.get("/history", headers=bearer(old)), 401, "does not publish")


async def test_jwt_jwks_url_without_discovery(make_gateway: Any, issuer: Issuer) -> None:
    gateway: Gateway = await make_gateway(
        oidc_issuer="https://login.example/", jwt_jwks_url=issuer.server.url + "/realm/jwks", jwt_audience=AUDIENCE
    )
    token = issuer.token(iss="https://login.example/")
    assert (await gateway.get("/history", headers=bearer(token))).status_code == 200
    assert not any("openid-configuration" in path for _, path, _, _ in issuer.server.requests)
    # with an issuer configured the gateway is not open, even with no key at all
    assert_error(await gateway.get("/history"), 401, "API key is required")


async def test_an_issuer_that_cannot_be_reached_is_a_503(make_gateway: Any) -> None:
    gateway: Gateway = await make_gateway(oidc_issuer="http://127.0.0.1:9/realm", jwt_audience=AUDIENCE)
    token = forged({"alg": "RS256", "kid": "k"}, {"sub": "x"}, b"")
    assert_error(await gateway.get("/history", headers=bearer(token)), 503, "issuer's keys")


async def test_two_jwt_users_and_a_key_user_are_isolated_on_every_route(jwt_gateway: Gateway, issuer: Issuer) -> None:
    callers = {
        "alice": bearer(issuer.token("alice")),
        "bob": bearer(issuer.token("bob", kid="ec-1")),
        "key": {"x-api-key": await stored_key(jwt_gateway, "kim")},
    }
    records: dict[str, str] = {}
    for name, headers in callers.items():
        made = await jwt_gateway.post("/stream", json={"prompt": f"secret of {name}"}, headers=headers)
        assert made.status_code == 200, made.text
        records[name] = made.headers["x-record-id"]
        v1 = await jwt_gateway.post("/v1/chat/completions", json=V1, headers=headers)
        assert v1.status_code == 200, v1.text
    for name, headers in callers.items():
        listed = (await jwt_gateway.get("/history", headers=headers)).json()
        assert listed["total"] == 2, (name, listed)
        found = (await jwt_gateway.get("/search?query=secret", headers=headers)).json()
        assert [item["prompt"] for item in found["items"]] == [f"secret of {name}"]
        for other, record in records.items():
            fetched = await jwt_gateway.get(f"/history/{record}", headers=headers)
            resumed = await jwt_gateway.get("/stream", headers={**headers, "last-event-id": f"{record}:0"})
            if other == name:
                assert fetched.status_code == 200 and resumed.status_code == 200
            else:
                assert_error(fetched, 404)
                assert_error(resumed, 404)
                assert_error(await jwt_gateway.delete(f"/history/{record}", headers=headers), 404)
    assert (await jwt_gateway.delete(f"/history/{records['bob']}", headers=callers["bob"])).status_code == 204
    assert (await jwt_gateway.get("/history", headers={"x-api-key": OPERATOR_KEY})).json()["total"] == 5


async def test_the_role_comes_from_the_configured_claim(make_gateway: Any, issuer: Issuer) -> None:
    gateway: Gateway = await make_gateway(
        oidc_issuer=issuer.url, jwt_audience=AUDIENCE, jwt_role_claim="realm_access.roles"
    )
    viewer = bearer(issuer.token("vera", realm_access={"roles": ["offline_access", "viewer"]}))
    admin = bearer(issuer.token("adam", realm_access={"roles": ["viewer", "admin"]}))  # the most a list grants
    user = bearer(issuer.token("ursula"))  # no claim: user
    assert (await gateway.post("/stream", json={"prompt": "hi"}, headers=user)).status_code == 200
    assert_error(await gateway.post("/stream", json={"prompt": "hi"}, headers=viewer), 403, "'viewer'")
    assert_error(await gateway.post("/v1/chat/completions", json=V1, headers=viewer), 403, "'viewer'")
    assert (await gateway.get("/history", headers=viewer)).json()["total"] == 0
    assert_error(await gateway.get("/admin/keys", headers=user), 403, "'user'")
    assert (await gateway.get("/history", headers=admin)).json()["total"] == 1
    made = await gateway.post("/admin/keys", json={"name": "from-sso"}, headers=admin)
    assert made.status_code == 201, made.text
    audit = (await gateway.get("/admin/audit", headers=admin)).json()["items"]
    assert [(e["actor"], e["role"], e["action"]) for e in audit][:2] == [
        ("jwt:adam", "admin", "key.create"),
        ("jwt:ursula", "user", "admin.denied"),
    ]
    refused = await gateway.get("/admin/audit", headers=bearer(issuer.token(exp=int(time.time()) - 600)))
    assert_error(refused, 401, "expired")
    latest = (await gateway.get("/admin/audit?limit=1", headers=admin)).json()["items"][0]
    assert (latest["actor"], latest["action"], latest["outcome"]) == ("anonymous", "admin.denied", "denied")


def test_settings_name_what_a_jwt_setup_misses() -> None:
    with pytest.raises(ConfigError, match="JWT_JWKS_URL needs OIDC_ISSUER"):
        Settings.from_mapping({"JWT_JWKS_URL": "https://login.example/jwks"})
    with pytest.raises(ConfigError, match="OIDC_ISSUER needs JWT_AUDIENCE"):
        Settings.from_mapping({"OIDC_ISSUER": "https://login.example/"})
    settings = Settings.from_mapping({"OIDC_ISSUER": "https://login.example/", "JWT_AUDIENCE": "gw"})
    assert settings.oidc_issuer == "https://login.example/" and settings.jwt_enabled  # kept as its iss spells it
