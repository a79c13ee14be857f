"""The daemon's HTTP side: /metrics, /healthz, /readyz, the status page and the JSON API."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from syncd.engine.snapshot import Snapshot, SnapshotHolder
from syncd.serve.api import api_routes
from syncd.serve.bad_requests import install_malformed_request_filter
from syncd.serve.basic_auth import BasicAuthenticator
from syncd.serve.render import SnapshotRenderer, gzipped
from syncd.serve.status_page import render_status_page
from syncd.serve.web_config import WebConfig

__all__ = ["WebState", "build_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ReadinessCheck = Callable[[], Awaitable[bool]]


@dataclass
class WebState:
    """What the HTTP handlers read: the snapshot holder and how to tell readiness."""

    holder: SnapshotHolder
    readiness: ReadinessCheck
    web_config: WebConfig = field(default_factory=WebConfig)
    extra_routes: list[web.RouteDef] = field(default_factory=list)
    registry: CollectorRegistry | None = None  # set: render it with generate_latest instead
    grafana_url: str | None = None  # where the status page links each goal's panel
    timezone: tzinfo = UTC  # the configuration's: the status page says its times in it
    _rendered: tuple[Snapshot, bytes] | None = None
    auth: BasicAuthenticator | None = None  # made for web_config on first use; tests pass their own
    _gzipped: tuple[Snapshot, bytes] | None = None
    _renderer: SnapshotRenderer = field(default_factory=SnapshotRenderer)
    _render_lock: threading.Lock = field(default_factory=threading.Lock)

    def metrics_bytes(self) -> bytes:
        """Render the exposition once per snapshot and serve the cached bytes to every scrape."""
        return self._once_per_snapshot("_rendered", self._plain_body)

    def prerender(self) -> None:
        """Render (and compress) the current snapshot now, so the next scrape finds it ready."""
        self.metrics_gzip()

    def metrics_gzip(self) -> bytes:
        """Return the exposition gzip-compressed, rendered and compressed once per snapshot.

        Only the compressed body is kept (Prometheus asks for gzip): the text, ten times its size,
        is made again from it when a scraper asks for plain text.
        """
        return self._once_per_snapshot("_gzipped", self._gzip_body)

    def _once_per_snapshot(self, slot: str, make: Callable[[Snapshot], bytes]) -> bytes:
        snapshot = self.holder.current
        cached: tuple[Snapshot, bytes] | None = getattr(self, slot)
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        # Scrapes arriving together wait for one render instead of each doing it.
        with self._render_lock:
            cached = getattr(self, slot)
            if cached is not None and cached[0] is snapshot:
                return cached[1]
            body = make(snapshot)
            setattr(self, slot, (snapshot, body))
            return body

    def _plain_body(self, snapshot: Snapshot) -> bytes:
        zipped = self._gzipped
        if zipped is not None and zipped[0] is snapshot:
            return gzip.decompress(zipped[1])  # rendered already: a tenth of a render's cost
        if self.registry is None:
            return self._renderer.render(snapshot)
        return generate_latest(self.registry)

    def _gzip_body(self, snapshot: Snapshot) -> bytes:
        rendered = self._rendered
        if rendered is not None and rendered[0] is not snapshot:
            self._rendered = None  # an older snapshot's text: let it go
        elif rendered is not None:
            return gzipped(rendered[1])
        if self.registry is None:
            return self._renderer.render_gzip(snapshot)
        return gzipped(generate_latest(self.registry))


def build_app(state: WebState) -> web.Application:
    """Return the aiohttp application serving syncd's endpoints."""
    install_malformed_request_filter()
    # Always installed: it reads state.web_config per request, so a reload can add or drop users.
    app = web.Application(middlewares=[_basic_auth(state)])

    async def metrics(request: web.Request) -> web.Response:
        headers = {"Content-Type": CONTENT_TYPE_LATEST, "Vary": "Accept-Encoding"}
        if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
            body = await asyncio.to_thread(state.metrics_gzip)
            # Already compressed: aiohttp must not compress again.
            return web.Response(body=body, headers={**headers, "Content-Encoding": "gzip"})
        body = await asyncio.to_thread(state.metrics_bytes)
        return web.Response(body=body, headers=headers)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if not state.holder.current.ready:
            return web.Response(status=503, text="not ready: first evaluation pending\n")
        try:
            ok = await asyncio.wait_for(state.readiness(), timeout=5)
        except TimeoutError:
            ok = False
        if not ok:
            return web.Response(status=503, text="not ready: storage unreachable\n")
        return web.Response(text="ready\n")

    async def index(request: web.Request) -> web.Response:
        refresh = request.query.get("refresh", "")
        page = render_status_page(
            state.holder.current,
            refresh=int(refresh) if refresh.isdigit() else None,
            grafana_url=state.grafana_url,
            timezone=state.timezone,
        )
        return web.Response(text=page, content_type="text/html")

    app.add_routes(
        [
            web.get("/metrics", metrics),
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            *api_routes(state.holder),
            web.get("/", index),
            *state.extra_routes,
        ]
    )
    return app


def _accepts_gzip(header: str) -> bool:
    """Say whether an Accept-Encoding header allows gzip (and does not refuse it with q=0)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return True
    return False


def _basic_auth(state: WebState) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        config = state.web_config
        if not config.users:
            return await handler(request)
        # Probes answer without credentials (by default): the kubelet and HEALTHCHECK have none.
        if request.path in config.open_paths:
            return await handler(request)
        if request.path.startswith("/api/v1/sources/"):
            return await handler(request)  # push sources carry their own bearer token
        # bcrypt runs on the authenticator's own threads, never on the loop: see syncd.serve.basic_auth.
        if await _authenticator(state).authorised(request.headers.get("Authorization", "")):
            return await handler(request)
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="syncd"'})

    return middleware


def _authenticator(state: WebState) -> BasicAuthenticator:
    """Return the authenticator of the current web config; a reload's new users get a new one."""
    current = state.auth
    if current is None or current.config is not state.web_config:
        # The auth threads carry over, so checks queued under the old users finish normally.
        current = BasicAuthenticator(state.web_config, executor=current.executor if current else None)
        state.auth = current
    return current
