"""The public surface third-party connector authors build on: every name exported and importable."""

from __future__ import annotations

import connectors

PUBLIC = {
    "CollectResult", "Connector", "ConnectorContext", "ConnectorSettings", "DailyCount", "Duration",
    "HttpObserver", "HttpPolicy", "MetricSpec", "Page", "RateLimit", "SourceAuthError", "SourceError",
    "SourceHttpClient", "SourceRateLimited", "SourceRequestError", "SourceResponseError", "SourceUnavailable",
    "SyncWindow", "basic_auth_value", "bearer_client", "expect_settings", "local_day", "paginate_cursor", "paginate_offset", "parse_payload", "redact",
}  # fmt: skip


def test_all_exports_are_the_pinned_public_surface():
    assert set(connectors.__all__) == PUBLIC


def test_every_export_is_importable_and_documented():
    for name in connectors.__all__:
        member = getattr(connectors, name)
        assert member.__doc__, name
