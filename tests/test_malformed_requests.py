"""A malformed HTTP request is the client's fault: one warning line in the log, never a traceback.

schemathesis's probe (a NUL byte in a header) left a 15-line aiohttp traceback in the demo's log
for each request; any scanner on the port would do the same.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.live_daemon import live_daemon


async def test_a_malformed_request_is_one_line_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_daemon(tmp_path) as url:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        with caplog.at_level(logging.INFO):
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n")
            await writer.drain()
            answer = await reader.read(200)
            writer.close()
            await writer.wait_closed()
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert records, "the bad request was not logged at all"
    assert all(r.exc_info is None and r.exc_text is None for r in records), [r.getMessage() for r in records]
    assert all(r.levelno <= logging.WARNING for r in records)
    (line,) = (r.getMessage() for r in records)
    assert "malformed request refused with 400" in line
    assert "Invalid header value char" in line
    assert "\n" not in line
