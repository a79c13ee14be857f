"""`POST /api/v1/sources/<name>/observations`: counts pushed by clients into a `push` source.

The request carries the source's bearer token, compared in constant time. The batch is
validated whole before anything is stored: one bad item answers 422 naming it, and nothing is
written. Then every item is applied in one transaction (`syncd.store.push_repository`), the answer
goes out, and the gauges are re-evaluated in the background (`syncd.run.refresh`), so a dashboard
shows the push within one evaluation.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, NotRequired, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
    with_config,
)
from sqlalchemy import Engine
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from connectors.base import local_day
from connectors.push import PushSettings
from syncd.clock import Clock
from syncd.engine.evaluate import CountKey
from syncd.errors import StorageDataError, StorageError
from syncd.model import Config, Source
from syncd.serve.json_limits import JsonLimitError, loads_limited
from syncd.store.changes import DaySpan
from syncd.store.executor import run_db_write
from syncd.store.push_repository import PushedCount, apply_pushed_counts

__all__ = [
    "MAX_BATCH_ITEMS",
    "MAX_BODY_BYTES",
    "MAX_NAME_CHARS",
    "MAX_PROBLEMS",
    "MAX_SUBJECT_CHARS",
    "MAX_VALUE",
    "MAX_YEARS",
    "Observation",
    "ObservationBatch",
    "PushTarget",
    "describe_errors",
    "parse_observations",
    "push_routes",
    "push_source",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # 10,000 items of ~100 bytes fit; anything larger is a mistake
MAX_BATCH_ITEMS = 10_000
MAX_PROBLEMS = 20  # a batch broken throughout needs its first problems, not ten thousand lines
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

# No control characters: PostgreSQL refuses NUL in text, and the others corrupt logs and label values.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
MAX_NAME_CHARS = 200
MAX_SUBJECT_CHARS = 500
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS, pattern=_PRINTABLE)
]
Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUBJECT_CHARS, pattern=_PRINTABLE)
]
MAX_VALUE = 1e15  # a count beyond a quadrillion is a client bug; sums of such stay finite in storage
MAX_YEARS = 10  # days and instants further than this from now are refused
_MAX_OFFSET = timedelta(hours=14)  # the widest UTC offset in use (Kiribati, +14:00)


class Observation(BaseModel):
    """One pushed count: a metric's value for a subject on a day (or at an instant)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Name
    subject: Subject = "all"
    day: date | None = None
    at: AwareDatetime | None = None
    # strict: "3" or true are client bugs, not counts; ints are accepted as floats.
    value: float = Field(ge=0, le=MAX_VALUE, strict=True, allow_inf_nan=False)
    mode: Literal["set", "add"] = "set"
    key: Name | None = None

    @field_validator("day", mode="before")
    @classmethod
    def _day_is_iso(cls, value: object) -> object:
        # pydantic would also take a number of seconds as a date; a push means a calendar day.
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
            return value
        if isinstance(value, str) and _ISO_DAY.fullmatch(value):
            return value
        raise ValueError("must be a day as YYYY-MM-DD")

    @field_validator("at", mode="before")
    @classmethod
    def _at_is_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str | datetime):
            raise ValueError("must be an ISO-8601 instant with its offset, e.g. 2026-03-29T09:30:00+01:00")
        return value

    @field_validator("at")
    @classmethod
    def _real_offset(cls, value: datetime | None) -> datetime | None:
        offset = value.utcoffset() if value is not None else None
        if offset is not None and abs(offset) > _MAX_OFFSET:
            raise ValueError("the UTC offset must be within -14:00..+14:00")
        return value

    @model_validator(mode="after")
    def _one_day_and_a_key_for_add(self, info: ValidationInfo) -> Observation:
        if (self.day is None) == (self.at is None):
            raise ValueError("give exactly one of day (YYYY-MM-DD) or at (an ISO-8601 instant)")
        earliest, latest = _day_bounds(_context_now(info))
        when = self.day if self.day is not None else self.at.date() if self.at is not None else None
        if when is not None and not earliest <= when <= latest:
            field = "day" if self.day is not None else "at"
            raise ValueError(f"{field} must be within {MAX_YEARS} years of today")
        if self.mode == "add" and self.key is None:
            raise ValueError("mode add needs a key: the client's idempotency key, so a retry is not added twice")
        return self

    def resolve(self, timezone: ZoneInfo) -> PushedCount:
        """Return the count to store, an `at` instant bucketed into its local day in `timezone`."""
        if self.day is not None:
            day = self.day
        else:
            assert self.at is not None  # the model validator guarantees one of them
            day = local_day(self.at, timezone)
        return PushedCount(
            metric=self.metric, subject=self.subject, day=day, value=self.value, mode=self.mode, key=self.key
        )


def _day_bounds(now: datetime) -> tuple[date, date]:
    """Return the first and last day a push may name: within MAX_YEARS of `now`."""
    today = now.date()
    return today - timedelta(days=366 * MAX_YEARS), today + timedelta(days=366 * MAX_YEARS)


def _context_now(info: ValidationInfo) -> datetime:
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now")
    return now if isinstance(now, datetime) else datetime.now(UTC)


class ObservationBatch(BaseModel):
    """The request body: the observations to apply, all or none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observations: list[Observation] = Field(max_length=MAX_BATCH_ITEMS)


# The common batch, checked in pydantic-core without a Python validator per item: plain days, no
# `at`. It is never more lenient than ObservationBatch (the same field types, days as YYYY-MM-DD
# text); whatever it refuses, or the checks after it find wrong, goes through ObservationBatch,
# whose errors name the item. A 1,000-item push spent ~16 ms in model validation and resolving.
_IsoDay = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


@with_config(ConfigDict(extra="forbid"))
class _DayItem(TypedDict):
    metric: Name
    subject: NotRequired[Subject]
    day: _IsoDay
    value: Annotated[float, Field(ge=0, le=MAX_VALUE, strict=True, allow_inf_nan=False)]
    mode: NotRequired[Literal["set", "add"]]
    key: NotRequired[Name | None]


@with_config(ConfigDict(extra="forbid"))
class _DayBatch(TypedDict):
    observations: Annotated[list[_DayItem], Field(max_length=MAX_BATCH_ITEMS)]


_DAY_BATCH: TypeAdapter[_DayBatch] = TypeAdapter(_DayBatch)


def parse_observations(document: object, now: datetime, timezone: ZoneInfo) -> list[PushedCount]:
    """Return the counts a push body asks to store; raise ValidationError naming each bad item.

    Days are checked against `now` (within MAX_YEARS), `at` instants bucketed into `timezone`.
    """
    try:
        plain = _DAY_BATCH.validate_python(document)
    except ValidationError:
        plain = None
    if plain is not None:
        counts = _plain_counts(plain["observations"], now)
        if counts is not None:
            return counts
    batch = ObservationBatch.model_validate(document, context={"now": now})
    return [observation.resolve(timezone) for observation in batch.observations]


def _plain_counts(items: list[_DayItem], now: datetime) -> list[PushedCount] | None:
    """Return the counts of plain-day items, or None when one needs the full model's checks (and message)."""
    earliest, latest = _day_bounds(now)
    days: dict[str, date] = {}
    out: list[PushedCount] = []
    for item in items:
        text = item["day"]
        day = days.get(text)
        if day is None:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                return None
            if not earliest <= day <= latest:
                return None
            days[text] = day
        mode = item.get("mode", "set")
        key = item.get("key")
        if mode == "add" and key is None:
            return None
        out.append(PushedCount(item["metric"], item.get("subject", "all"), day, item["value"], mode, key))
    return out


class PushTarget(Protocol):
    """What the endpoint needs of the daemon (`syncd.run.daemon.Daemon` provides it)."""

    config: Config
    engine: Engine
    clock: Clock

    async def evaluate(self, refreshed: tuple[CountKey, ...] | None = None) -> object:
        """Re-read the refreshed (source, metric) counts and swap a new snapshot in."""
        ...

    def note_push(self, name: str, at: datetime) -> None:
        """Mark the push source up, its last success `at`."""
        ...

    def note_push_refused(self, name: str, message: str) -> None:
        """Mark the push source down: a push could not be stored."""
        ...

    def request_refresh(self, keys: tuple[CountKey, ...], spans: Mapping[CountKey, DaySpan] | None = None) -> None:
        """Schedule `evaluate(refreshed=keys)` (re-reading the days of `spans`) in the background; return at once."""
        ...


def push_source(config: Config, name: str) -> Source | None:
    """Return the source called `name` when it is a push source, else None."""
    source = config.sources.get(name)
    if source is None or not isinstance(source.settings, PushSettings):
        return None
    return source


def describe_errors(exc: ValidationError, *, prefix: Sequence[str] = ()) -> list[str]:
    """Return one line per problem, each naming its item: `observations[3].value: ...`."""
    lines: list[str] = []
    for error in exc.errors():
        where = ""
        for part in (*prefix, *error["loc"]):
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        if error["type"] == "missing":
            message = "missing required key"
        elif error["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return lines


def push_routes(daemon: PushTarget) -> list[web.RouteDef]:
    """Return the route serving pushed observations for `daemon`'s push sources."""

    async def observations(request: web.Request) -> web.Response:
        return await _handle(daemon, request)

    return [web.post("/api/v1/sources/{name}/observations", observations)]


async def _handle(daemon: PushTarget, request: web.Request) -> web.Response:
    name = request.match_info["name"]
    source = push_source(daemon.config, name)
    if source is None:
        return _error(404, f"no push source named {name!r}")
    assert isinstance(source.settings, PushSettings)  # push_source checked it
    if not _authorised(request.headers.get("Authorization", ""), source.settings.token.get_secret_value()):
        # Whatever the client sent stays out of the answer and the log: it may be a near-miss token.
        return _error(401, "a valid bearer token is required", headers={"WWW-Authenticate": 'Bearer realm="syncd"'})
    body = await _read_limited(request, MAX_BODY_BYTES)
    if body is None:
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes: send smaller batches")
    try:
        document: object = loads_limited(body)
    except JsonLimitError as exc:
        return _error(400, str(exc))
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return _error(400, "the body is not valid JSON")
    try:
        counts = parse_observations(document, daemon.clock.now(), daemon.config.timezone)
    except ValidationError as exc:
        problems = describe_errors(exc)
        return _error(422, problems[0], problems=problems[:MAX_PROBLEMS])
    at = daemon.clock.now()
    try:
        outcome = await run_db_write(apply_pushed_counts, daemon.engine, source=name, counts=counts, at=at)
    except StorageDataError as exc:
        # The database refused the values themselves: a retry would fail the same way.
        log.warning("push to %s refused by storage: %s", name, exc)
        return _error(422, "storage refused a value in the batch: nothing was stored, do not retry as is")
    except StorageError as exc:
        log.warning("push to %s not stored: %s", name, exc)
        daemon.note_push_refused(name, "the last push could not be stored")
        return _error(503, "storage unavailable: nothing was stored, retry later")
    daemon.note_push(name, at)
    log.info("push to %s: %d stored, %d duplicates", name, outcome.stored, outcome.duplicates)
    # Answer now: the figures (and, even for duplicates only, the source's health) follow in the
    # background, coalesced with other pushes, so a client never waits for thousands of goals.
    daemon.request_refresh(outcome.refreshed, outcome.spans)
    return web.json_response({"stored": outcome.stored, "duplicates": outcome.duplicates})


def _authorised(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Bytes, because compare_digest refuses non-ASCII str; constant time so the token cannot be
    # guessed a character at a time.
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """Read the body, or return None as soon as it exceeds `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(
    status: int, message: str, *, problems: list[str] | None = None, headers: Mapping[str, str] | None = None
) -> web.Response:
    payload: dict[str, object] = {"error": message}
    if problems is not None:
        payload["problems"] = problems
    return web.json_response(payload, status=status, headers=headers)
