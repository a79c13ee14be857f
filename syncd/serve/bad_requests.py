"""Malformed HTTP requests logged as the client's fault: one warning line, no traceback.

aiohttp logs a request it cannot parse (a NUL in a header, a broken request line) with
`log.exception`, so a scanner or a fuzzing client fills the daemon's log with tracebacks that look
like syncd failing. The answer (400) is right; only the log line changes.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["install_malformed_request_filter"]


class _MalformedRequestFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            reason = " ".join(str(error.message).split())  # aiohttp's message spans lines
            sender = record.args[:1] if isinstance(record.args, tuple) else ()  # aiohttp's request.remote
            record.msg = "malformed request refused with %s: %s" + (" (from %s)" if sender else "")
            record.args = (error.code, reason, *sender)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


_FILTER = _MalformedRequestFilter()


def install_malformed_request_filter() -> None:
    """Rewrite aiohttp's parse-error records (idempotent: one filter however many apps are built)."""
    logging.getLogger("aiohttp.server").addFilter(_FILTER)
