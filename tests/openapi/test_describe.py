"""The OpenAPI description: every route of the app is described, and served as OpenAPI 3.1."""

from __future__ import annotations

import re

from starlette.routing import Mount, Route

from gateway.app import create_app
from gateway.openapi import describe as openapi
from gateway.settings import Settings
from tests.conftest import Gateway


def test_every_route_is_described_in_openapi() -> None:
    app = create_app(Settings())
    described = openapi.spec(Settings(), "x")["paths"]
    for route in app.routes:
        if isinstance(route, Mount):  # the page's static files, served with "/"
            assert route.path == "/static" and "/" in described
            continue
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # Starlette's converters are not OpenAPI's
        assert path in described, f"{path} is not in the OpenAPI description"
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in described[path], f"{method} {path} is not described"


async def test_openapi_is_served_as_3_1(gateway: Gateway) -> None:
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"] == "3.1.0"
    prompt = body["paths"]["/stream"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert prompt["properties"]["prompt"]["maxLength"] == 1_000_000
