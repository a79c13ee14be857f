"""A loopback count API for backfill tests: `GET /count?src=NAME&day=YYYY-MM-DD` answers `{"count": n}`.

It serves each request on its own thread, so a test can hold one source's request until another
source's arrives (concurrency without timing), answer 429 with a `Retry-After`, or fail a day.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

__all__ = ["Answer", "CountApi", "config_text", "count_api", "truth"]

# (status, headers, body): what a test's script answers instead of the count.
Answer = tuple[int, dict[str, str], object]


def truth(source: str, day: date) -> int:
    """The API's count of `source` on `day`."""
    return (sum(map(ord, source)) * 7 + day.toordinal()) % 13 + 1


@dataclass
class CountApi:
    """What the API saw, and the script that may answer instead of it (called on the request's thread)."""

    url: str = ""
    requests: list[tuple[str, date]] = field(default_factory=list)
    script: Callable[[str, date], Answer | None] = lambda source, day: None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def days_read(self, source: str) -> list[date]:
        with self.lock:
            return [day for name, day in self.requests if name == source]


@contextmanager
def count_api() -> Iterator[CountApi]:
    """Serve a CountApi on a free loopback port for the length of the block."""
    api = CountApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            source, day = query["src"][0], date.fromisoformat(query["day"][0])
            with api.lock:
                api.requests.append((source, day))
            answer = api.script(source, day) or (200, {}, {"count": truth(source, day)})
            status, headers, body = answer
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def config_text(api: CountApi, database: Path, sources: dict[str, str | None]) -> str:
    """A configuration of http_json sources reading `api` per day; a source's value is its API key, if any."""
    lines = ["timezone: Europe/London", f"database_url: sqlite:///{database}", "sources:"]
    for name, key in sources.items():
        lines += [
            f"  {name}:",
            "    connector: http_json",
            f"    url: {api.url}/count?src={name}&day={{day}}",
            "    count_path: count",
            "    metric: calls",
        ]
        lines += [f"    api_key: {key}"] if key else ["    auth_header: null"]
    return "\n".join(lines) + "\n"
