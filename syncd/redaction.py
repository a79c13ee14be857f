"""Keep credentials out of every text syncd writes: logs, errors, pages and the database."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import SecretStr

from syncd.model import Config, Source

__all__ = ["RedactingFilter", "install_log_redaction", "redact", "secrets_of"]

MASK = "***"


def secrets_of(source: Source) -> list[str]:
    """Return every secret value a source's settings hold."""
    values: list[str] = []
    for name in type(source.settings).model_fields:
        value = getattr(source.settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            values.append(value.get_secret_value())
    return values


def redact(text: str, source: Source | None = None, *, secrets: Iterable[str] = ()) -> str:
    """Replace any secret of `source` (and any of `secrets`) found in `text` with ***."""
    values = [*secrets_of(source)] if source is not None else []
    values.extend(secrets)
    # Longest first, so a secret that contains another is masked whole.
    for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks known secrets in every record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message, secrets=self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_redaction(config: Config) -> None:
    """Mask every configured secret in all log output, and quiet httpx's URL logging."""
    secrets = [value for source in config.sources.values() for value in secrets_of(source)]
    log_filter = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
    # httpx logs each request's full URL at INFO, query string and all (encode/httpx#2760).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
