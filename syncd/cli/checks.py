"""`syncd check` without --offline: one cheap authenticated call per source, explained in one line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from connectors.base import ConnectorContext
from syncd.errors import SourceAuthError, SourceError, SourceRateLimited, SourceRequestError
from syncd.model import Config, Source
from syncd.redaction import redact
from syncd.registry import load_registry
from syncd.run.sync import shared_ssl_context

__all__ = ["CheckResult", "check_sources"]

CHECK_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class CheckResult:
    source: str
    ok: bool
    message: str


def _explain(exc: SourceError) -> str:
    if isinstance(exc, SourceAuthError):
        if exc.status_code == 403:
            return f"the credential lacks a permission or scope this connector needs ({exc})"
        return f"the vendor rejected the credential: check api_key ({exc})"
    if isinstance(exc, SourceRateLimited):
        return f"rate limited by the vendor; try again later ({exc})"
    if isinstance(exc, SourceRequestError) and exc.status_code == 404:
        return f"not found: check base_url and the ids in the settings ({exc})"
    return str(exc)


async def check_source(config: Config, source: Source) -> CheckResult:
    """Make the connector's cheap authenticated call and explain the outcome."""
    cls = load_registry().get(source.connector)
    if cls is None:
        return CheckResult(source.name, False, f"connector {source.connector!r} is not installed")
    context = ConnectorContext(source=source.name, timezone=config.timezone, ssl_context=shared_ssl_context())
    connector = cls(source.settings, context)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await connector.check()
    except SourceError as exc:
        return CheckResult(source.name, False, redact(_explain(exc), source))
    except TimeoutError:
        return CheckResult(source.name, False, f"no answer within {CHECK_TIMEOUT_SECONDS:.0f}s")
    finally:
        await connector.aclose()
    return CheckResult(source.name, True, "credential accepted")


async def check_sources(config: Config) -> list[CheckResult]:
    """Check every source concurrently."""
    return list(await asyncio.gather(*(check_source(config, s) for s in config.sources.values())))
