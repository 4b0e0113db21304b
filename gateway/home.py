"""The service's own routes: `/health` (the database and every upstream's state), `/metrics`, the
page at `/` and its static files, and `/openapi.json`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway import __version__
from gateway.access.endpoint import Endpoint
from gateway.history.store import Store
from gateway.observability import metrics
from gateway.openapi import describe

STATIC = Path(__file__).resolve().parent / "static"
HEALTH_TIMEOUT = 2.0


async def health(request: Request) -> Response:
    store: Store = request.state.store
    body: dict[str, object] = {
        "status": "ok",
        "database": "ok",
        "llm": request.state.llm.routing.llm_name,
        "version": __version__,
        "upstreams": request.state.llm.describe(),  # their names and states, never a key
    }
    try:
        await asyncio.wait_for(store.ping(), timeout=HEALTH_TIMEOUT)
    except Exception:
        body.update(status="unavailable", database="error")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


async def metrics_endpoint(request: Request) -> Response:
    body, media_type = metrics.render()
    return Response(body, media_type=media_type)


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(describe.spec(request.state.settings, __version__))


ROUTES: list[BaseRoute] = [
    Route("/health", Endpoint(health), methods=["GET"]),
    Route("/metrics", Endpoint(metrics_endpoint), methods=["GET"]),
    Route("/", Endpoint(page), methods=["GET"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
    Route("/openapi.json", Endpoint(openapi_endpoint), methods=["GET"]),
]
