"""push: counts that people or scripts send to syncd, for steps that have no API.

Nothing is pulled. Clients `POST /api/v1/sources/<name>/observations` with the source's bearer
`token` (served by `syncd.serve.push`), or an operator runs `syncd record` (`syncd.run.record`); both write
straight into storage. So the connector declares no metrics (any metric name is accepted, as
posted), tells the scheduler not to schedule it (`pull = False`), and its `collect` replaces
nothing, should anything call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from connectors.base import CollectResult, ConnectorContext, ConnectorSettings, MetricSpec, SyncWindow, expect_settings
from connectors.settings_types import Duration

__all__ = ["MIN_TOKEN_LENGTH", "PushConnector", "PushSettings"]

# A token guessable by brute force would let anyone move a team's gauges.
MIN_TOKEN_LENGTH = 16


class PushSettings(ConnectorSettings):
    """A push source: the bearer token its clients must send."""

    requires_api_key: ClassVar[bool] = False

    token: SecretStr = Field(
        description=f"the bearer token clients send (secret, at least {MIN_TOKEN_LENGTH} characters)",
    )
    # A push source has no interval of its own: without this, silence is not a fault.
    expect_every: Duration | None = Field(
        default=None,
        description="the source is stale (SyncdSourceStale) when no push is accepted for this long; default: never",
    )

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: SecretStr) -> SecretStr:
        # The message names the rule only: the value is a secret.
        if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
        return token


class PushConnector:
    """Accepts pushed counts; pulls nothing."""

    type_name: ClassVar[str] = "push"
    settings_model: ClassVar[type[ConnectorSettings]] = PushSettings
    # Empty: every metric name is accepted as posted, so config skips the metric check.
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    history_limit: ClassVar[timedelta | None] = None
    # The scheduler leaves sources whose connector does not pull alone.
    pull: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        settings = expect_settings(settings, PushSettings)
        self._settings = settings
        self._source = context.source

    async def check(self) -> None:
        """Do nothing: there is no vendor to call."""

    async def collect(self, window: SyncWindow, state: Mapping[str, str]) -> CollectResult:
        """Return no counts, complete from after the window, so no pushed day is replaced."""
        return CollectResult(counts=[], state=dict(state), complete_from=window.last_day + timedelta(days=1))

    async def aclose(self) -> None:
        """Release nothing: the connector holds no client."""
