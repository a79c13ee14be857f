"""Keep the configuration's credentials out of every text syncd writes: logs, errors, pages, the database.

The masking itself lives in `connectors.redaction`, shared with the HTTP layer; this module
knows where a configuration keeps its secrets.
"""

from __future__ import annotations

from pydantic import SecretStr

from connectors.redaction import install_log_redaction as install_record_masking
from connectors.redaction import redact as mask
from connectors.redaction import register_secrets
from syncd.model import Config, Source

__all__ = ["install_log_redaction", "redact", "secrets_of"]


def secrets_of(source: Source) -> list[str]:
    """Return every secret value a source's settings hold."""
    values: list[str] = []
    for name in type(source.settings).model_fields:
        value = getattr(source.settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            values.append(value.get_secret_value())
    return values


def redact(text: str, source: Source | None = None) -> str:
    """Replace any secret of `source` (and any registered one) found in `text` with ***."""
    return mask(text, secrets_of(source) if source is not None else ())


def install_log_redaction(config: Config) -> None:
    """Mask every configured secret in all log output for the life of the process; quiet httpx."""
    register_secrets(value for source in config.sources.values() for value in secrets_of(source))
    install_record_masking()
