"""`Endpoint`: a route's handler as a plain ASGI app, with the permission its caller's role must
grant checked before the handler runs, so that no handler can forget it.

Starlette wraps a function in a second exception layer of its own (a Request and a send wrapper,
so one more call on every chunk of a stream); the app's ExceptionMiddleware already turns what a
handler raises into its JSON error, so a plain ASGI app is all a route needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.access.auth import audit_refusal, principal
from gateway.access.roles import Permission


class Endpoint:
    def __init__(self, handler: Callable[[Request], Awaitable[Response]], permission: Permission | None = None) -> None:
        self.handler = handler
        self.permission = permission  # what the caller's role must grant (None: open to all)
        self.__name__ = handler.__name__  # the route's name, as Starlette names a function's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.permission is not None:
            who = principal(scope)
            if self.permission is Permission.MANAGE and not who.may(self.permission):
                await audit_refusal(scope)
            who.require(self.permission)
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)
