"""The errors syncd raises, and what each one means for the program.

    SyncdError
    ├── ConfigError            a user's configuration is wrong: exit 2, one line per problem
    ├── StorageError           the database is unreachable or refused a write: exit 1
    │   ├── LeaseLost              this replica's lease on a source expired or was taken over
    │   ├── StorageDataError       it refused the values themselves (overflow, NUL): 422, not retried
    │   └── StorageTimeout         it did not answer a call within the call's bound (silent, hung)
    └── SourceError            a sync of one source failed; `reason` labels
        │                      syncd_source_sync_failures_total
        ├── SourceAuthError        401/403: a bad or under-scoped credential, never retried
        ├── SourceRateLimited      429 with a wait longer than we accept: try at the next interval
        ├── SourceUnavailable      408, 5xx, connection errors, timeouts: retried, then given up
        ├── SourceRequestError     another 4xx: our request is wrong (bad id, bad parameter)
        └── SourceResponseError    the vendor answered something we cannot read

Errors carry structured facts (`source`, `retryable`, `reason`) so the one place that maps them
to outcomes (syncd.run.sync) needs no string matching. No error message ever holds a credential.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "LeaseLost",
    "SourceAuthError",
    "SourceError",
    "SourceRateLimited",
    "SourceRequestError",
    "SourceResponseError",
    "SourceUnavailable",
    "StorageDataError",
    "StorageError",
    "StorageTimeout",
    "SyncdError",
]


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: where it is and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        # One line always: a key or value with a newline or other control character is shown escaped.
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", f"{where}: {self.message}")


class ConfigError(SyncdError):
    """The configuration cannot be used; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem], hints: tuple[str, ...] = ()) -> None:
        self.problems = problems
        self.hints = hints  # lines the CLI prints after the problems: what to do, not what is wrong
        super().__init__("\n".join(str(p) for p in problems))


class StorageError(SyncdError):
    """The database could not be reached or refused an operation."""


class LeaseLost(StorageError):
    """A write was refused: this replica no longer holds the source's lease (its fencing token is stale)."""


class StorageDataError(StorageError):
    """The database refused the values themselves (out of range, invalid text): retrying will not help."""


class StorageTimeout(StorageError):
    """The database did not answer a call within its bound: silent (a partition, a hung server), not refusing."""


class SourceError(SyncdError):
    """A sync of one source failed."""

    reason = "error"
    retryable = False

    def __init__(self, message: str, *, source: str = "", status_code: int | None = None) -> None:
        self.source = source
        self.status_code = status_code
        super().__init__(message)


class SourceAuthError(SourceError):
    """The vendor rejected the credential (401) or its scope (403); retrying would burn quota."""

    reason = "auth"


class SourceRateLimited(SourceError):
    """The vendor asked us to wait longer than one sync may wait."""

    reason = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        status_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, source=source, status_code=status_code)
        self.retry_after = retry_after


class SourceUnavailable(SourceError):
    """The vendor or the network failed in a way that may pass: timeouts, 408, 5xx."""

    reason = "unavailable"
    retryable = True


class SourceRequestError(SourceError):
    """The vendor refused the request as malformed (a 4xx other than 401, 403, 408 and 429)."""

    reason = "bad_request"


class SourceResponseError(SourceError):
    """The vendor's answer was not what its API documents (malformed JSON, missing fields)."""

    reason = "bad_response"
