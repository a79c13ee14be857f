"""Loopback proxies that misbehave on demand: one for vendor HTTP APIs, one for a database's TCP.

`FaultProxy` sits between a connector and a sandbox fake and answers with the fault set in
`fault` (500, 429 with a short or long Retry-After, 401, a stall, malformed JSON, a truncated
body, a short or empty page, duplicated items, a looping cursor). `TcpProxy` forwards bytes to a
real database until frozen: it then still accepts and holds connections but forwards nothing,
which is what a network partition looks like to the client; `refuse` closes the port instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from typing import Any

import httpx
from aiohttp import web

__all__ = ["FAULTS", "FaultProxy", "TcpProxy"]

FAULTS = (
    "500",
    "429_short",
    "429_long",
    "401",
    "stall",
    "malformed",
    "truncated",
    "short_page",
    "empty_page",
    "duplicated_items",
    "looping_cursor",
)


def _items_of(payload: Any) -> tuple[Any, str | None]:
    """Return the list of items in a page (a bare array, or the first list at the top) and its key."""
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, dict):
        for key, value in payload.items():
            if isinstance(value, list):
                return value, key
    return None, None


def _with_items(payload: Any, key: str | None, items: list[Any]) -> Any:
    if key is None:
        return items
    return {**payload, key: items}


def _loop_cursors(payload: Any) -> Any:
    """Point every next-page cursor the vendors use at one fixed value, with more pages promised."""
    if isinstance(payload, dict):
        out = {}
        for key, value in payload.items():
            if key in ("end_cursor", "next_cursor", "after", "starting_after", "nextPageToken", "next"):
                out[key] = "loop" if not isinstance(value, dict) else _loop_cursors(value)
            elif key in ("has_next_page", "has_more"):
                out[key] = True
            else:
                out[key] = _loop_cursors(value)
        return out
    return payload


class FaultProxy:
    """An HTTP proxy to `upstream` (a base URL) that injects `fault` into every answer while set."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault: str | None = None
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self._client = httpx.AsyncClient(timeout=10)
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy's root, standing for the upstream root."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Serve on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and close the upstream client."""
        if self._runner is not None:
            await self._runner.cleanup()
        await self._client.aclose()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        fault = self.fault
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "429_short":
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        if fault == "429_long":
            return web.Response(status=429, headers={"Retry-After": "3600"}, text="slow down")
        if fault == "401":
            return web.Response(status=401, text="unauthorized")
        if fault == "stall":
            await asyncio.sleep(3600)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        target = request.rel_url
        if fault == "looping_cursor":
            # The vendor ignores where the client asked to resume: our own cursor ("loop") and any
            # offset are dropped, so every page is the first one again, with the same next cursor.
            kept = [(k, v) for k, v in target.query.items() if v != "loop" and k != "offset"]
            target = target.with_query(kept)
        upstream = await self._client.request(
            request.method,
            self.upstream + target.path_qs,
            headers=headers,
            content=await request.read(),
        )
        body = upstream.content
        content_type = upstream.headers.get("content-type", "application/json")
        if fault == "malformed":
            body = b'{"data": [1, 2,, "'
        elif fault == "truncated":
            response = web.StreamResponse(status=upstream.status_code, headers={"Content-Type": content_type})
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            if request.transport is not None:
                request.transport.close()
            return response
        elif fault in ("short_page", "empty_page", "duplicated_items", "looping_cursor") and upstream.is_success:
            body = self._rewrite(body, fault)
        return web.Response(status=upstream.status_code, body=body, headers={"Content-Type": content_type})

    @staticmethod
    def _rewrite(body: bytes, fault: str) -> bytes:
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        if fault == "looping_cursor":
            return json.dumps(_loop_cursors(payload)).encode()
        items, key = _items_of(payload)
        if items is None:
            return body
        if fault == "short_page":
            items = items[: len(items) // 2]
        elif fault == "empty_page":
            items = []
        else:
            items = [item for item in items for _ in range(2)]
        return json.dumps(_with_items(payload, key, items)).encode()


class TcpProxy:
    """A TCP forwarder to (host, port) in a thread: `freeze()` makes it silent, `refuse()` closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.frozen = threading.Event()
        self._refusing = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        """From now on accept and keep connections but forward nothing, either way."""
        self.frozen.set()

    def thaw(self) -> None:
        """Drop the frozen connections (as a healed partition's resets do) and forward again."""
        self.frozen.clear()
        with self._lock:
            for sock in self._sockets:
                # shutdown() first: close() alone neither wakes a pipe thread blocked in recv() on the
                # socket nor sends the FIN (Linux), so a client waiting for an answer would wait forever.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def refuse(self) -> None:
        """Close the listening port: connections are refused, as with the server down."""
        self._refusing = True
        # shutdown() first: a bare close() leaves a thread blocked in accept() listening (Linux).
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def open(self) -> None:
        """Listen again on the same port after `refuse`."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._refusing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        """Stop everything."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        self.thaw()

    def _accept(self) -> None:
        listener = self._listener
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._refusing or listener is not self._listener:
                client.close()  # accepted in the instant of refuse(): refused all the same
                return
            with self._lock:
                self._sockets.append(client)
            if self.frozen.is_set():
                continue  # held open, silent
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.append(server)
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                # Frozen: swallow the bytes, so the peer waits for an answer that never comes.
                if self.frozen.is_set():
                    continue
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
