"""What a third-party connector may import: the contract, the HTTP helpers and the error types.

Everything else in this package (and every module's private names) may change between releases;
these names are pinned by tests/test_exported_members.py.
"""

import syncd  # noqa: F401 - first: its __init__ keeps httpx's unused CLI out of the process
from connectors.base import (
    CollectResult,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    DailyCount,
    MetricSpec,
    SyncWindow,
    expect_settings,
    local_day,
)
from connectors.http import (
    HttpObserver,
    HttpPolicy,
    Page,
    RateLimit,
    SourceHttpClient,
    basic_auth_value,
    bearer_client,
    paginate_cursor,
    paginate_offset,
    parse_payload,
)
from connectors.redaction import redact
from connectors.settings_types import Duration
from syncd.errors import (
    SourceAuthError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceResponseError,
    SourceUnavailable,
)

__all__ = [
    "CollectResult",
    "Connector",
    "ConnectorContext",
    "ConnectorSettings",
    "DailyCount",
    "Duration",
    "HttpObserver",
    "HttpPolicy",
    "MetricSpec",
    "Page",
    "RateLimit",
    "SourceAuthError",
    "SourceError",
    "SourceHttpClient",
    "SourceRateLimited",
    "SourceRequestError",
    "SourceResponseError",
    "SourceUnavailable",
    "SyncWindow",
    "basic_auth_value",
    "bearer_client",
    "expect_settings",
    "local_day",
    "paginate_cursor",
    "paginate_offset",
    "parse_payload",
    "redact",
]
