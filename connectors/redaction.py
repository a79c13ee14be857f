"""Keep credentials out of every text: one registry of live secrets, a masking function, a log filter.

Every open HTTP client registers its credentials here; syncd registers every configured secret
at start-up. Masking runs in the log record factory, so it covers every logger and handler.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable

__all__ = ["MASK", "RedactingFilter", "forget_secrets", "install_log_redaction", "redact", "register_secrets"]

MASK = "***"
# Shorter "secrets" would mask ordinary words in every log line; no vendor issues keys that short.
_MIN_SECRET_LENGTH = 4


class _SecretRegistry:
    """The secrets of every open client, counted so two sources sharing a key both stay masked."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._longest_first: tuple[str, ...] = ()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._counts.update(s for s in secrets if len(s) >= _MIN_SECRET_LENGTH)
            self._refresh()

    def remove(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._counts.subtract(s for s in secrets if len(s) >= _MIN_SECRET_LENGTH)
            self._counts = +self._counts
            self._refresh()

    def current(self) -> tuple[str, ...]:
        return self._longest_first

    def _refresh(self) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._longest_first = tuple(sorted(self._counts, key=len, reverse=True))


_SECRETS = _SecretRegistry()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every registered secret (and any in `secrets`) found in `text` with `***`."""
    extra = tuple(s for s in secrets if len(s) >= _MIN_SECRET_LENGTH)
    for secret in sorted(extra, key=len, reverse=True) + list(_SECRETS.current()):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    if not _SECRETS.current():
        return
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    masked = redact(message)
    if masked != message:
        record.msg = masked
        record.args = None


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets; attach it to a handler to cover its records."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


_install_lock = threading.Lock()
_installed = False


def install_log_redaction() -> None:
    """Quiet httpx/httpcore (they log full URLs at INFO) and mask secrets in every log record.

    Masking happens in the record factory, so it covers records of every logger whatever
    handlers are configured later; it is installed once per process.
    """
    global _installed
    with _install_lock:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("httpcore").setLevel(logging.WARNING)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(redacting_factory)
        _installed = True


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask `secrets` in every log record and every `redact` call until forgotten."""
    _SECRETS.add(secrets)


def forget_secrets(secrets: Iterable[str]) -> None:
    """Stop masking `secrets` (once every registration of them is forgotten)."""
    _SECRETS.remove(secrets)
