"""What the web server tells a load balancer and Prometheus: ``/healthz`` (the process
answers), ``/readyz`` (it can do its work: :mod:`bot.health`) and ``/metrics``
(:mod:`bot.metrics`, answered only when ``[web] metrics`` is on, to its clients).

None of them writes a person's data, an address or a token; none is a personal page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.health import Health
from bot.metrics import CONTENT_TYPE, Metrics
from storage import queries
from storage.uow import reading

if TYPE_CHECKING:
    from handlers.web.app import WebSetup

# Headers a reverse proxy adds: a request carrying one came through it, from the world.
PROXIED = ("x-forwarded-for", "forwarded", "x-real-ip")


class Probes:
    """The three endpoints, on the process's instruments and readiness."""

    def __init__(
        self, setup: WebSetup, not_found: Callable[[Request], Awaitable[Response]]
    ) -> None:
        self.settings = setup.settings
        self.not_found = not_found
        self.sessions = setup.services.ctx.sessions
        self.instruments = setup.metrics or Metrics()
        self.health = setup.health or Health(self.sessions.kw["bind"])

    async def alive(self, request: Request) -> Response:
        """200 while the process serves: nothing else is looked at."""
        return PlainTextResponse("ok")

    async def ready(self, request: Request) -> Response:
        """200 when every check passes, else 503 naming the ones that failed."""
        readiness = await self.health.readiness()
        body: dict[str, object] = {
            "status": "ready" if readiness.ready else "not ready",
            "checks": {name: "ok" if ok else "failing" for name, ok in readiness.checks.items()},
        }
        if not readiness.ready:
            body["failing"] = readiness.failing
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    async def metrics(self, request: Request) -> Response:
        """The Prometheus text format; the 404 of any address that is nobody's page when
        metrics are off, to a client not in ``[web] metrics_from``, or through the reverse
        proxy."""
        address = request.client.host if request.client is not None else ""
        proxied = any(name in request.headers for name in PROXIED)
        if proxied or not self.settings.may_scrape(address):
            return await self.not_found(request)
        counts = await reading(self.sessions, queries.delivery_counts)
        return Response(self.instruments.exposition(counts), media_type=CONTENT_TYPE)
