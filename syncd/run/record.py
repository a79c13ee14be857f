"""`syncd record`: write one count into a push source from the command line, without HTTP.

For steps with no API (calls held, interviews) and for corrections by hand. It goes through the
same validation and repository function as the push endpoint, so both behave alike.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import Engine

from syncd.clock import Clock, SystemClock
from syncd.errors import ConfigError, ConfigProblem
from syncd.model import Config
from syncd.serve.push import Observation, push_source
from syncd.store import create_engine_for, upgrade
from syncd.store.push_repository import PushedCount, PushOutcome, apply_pushed_counts, load_pushed_value

__all__ = ["record_observation"]


def record_observation(
    config: Config,
    source_name: str,
    *,
    metric: str,
    value: str | float,
    subject: str = "all",
    day: str | None = None,
    at: str | None = None,
    mode: str = "set",
    key: str | None = None,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> str:
    """Store one observation in push source `source_name` and return a one-line summary.

    Without `day` or `at` the count goes to today in the configured time zone. Raises
    ConfigError when the source is unknown or not a push source, ValueError (one line) for bad
    input, StorageError when the database fails. Without `engine`, one is made from the
    configuration and the schema upgraded first, as `syncd sync` does.
    """
    _require_push_source(config, source_name)
    now = (clock or SystemClock()).now()
    if day is None and at is None:
        day = now.astimezone(config.timezone).date().isoformat()
    observation = _parse(metric=metric, value=value, subject=subject, day=day, at=at, mode=mode, key=key)
    count = observation.resolve(config.timezone)
    own_engine = engine is None
    active = engine if engine is not None else create_engine_for(config.database_url)
    try:
        if own_engine:
            upgrade(active)
        outcome = apply_pushed_counts(active, source=source_name, counts=[count], at=now)
        total = load_pushed_value(active, source=source_name, metric=count.metric, subject=count.subject, day=count.day)
    finally:
        if own_engine:
            active.dispose()
    return _summary(source_name, count, outcome, total)


def _require_push_source(config: Config, name: str) -> None:
    if push_source(config, name) is not None:
        return
    pushes = sorted(n for n in config.sources if push_source(config, n) is not None)
    known = f"push sources: {', '.join(pushes)}" if pushes else "no push source is configured"
    source = config.sources.get(name)
    if source is None:
        message = f"no source named {name!r} ({known})"
    else:
        message = f"is a {source.connector} source; syncd record writes only to push sources ({known})"
    raise ConfigError([ConfigProblem(config.file, f"sources.{name}", message)])


def _parse(
    *, metric: str, value: str | float, subject: str, day: str | None, at: str | None, mode: str, key: str | None
) -> Observation:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--value must be a number >= 0, got {value!r}") from None
    else:
        number = value
    fields: dict[str, object] = {"metric": metric, "subject": subject, "value": number, "mode": mode}
    # Only the options given, so the model's "exactly one of day or at" rule sees what the user typed.
    fields.update({name: given for name, given in (("day", day), ("at", at), ("key", key)) if given is not None})
    try:
        return Observation.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    """Name each problem by its command-line option: `--value: ...`."""
    problems: list[str] = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        field = next((str(part) for part in error["loc"] if isinstance(part, str)), None)
        problems.append(f"--{field}: {message}" if field else message)
    return "; ".join(problems)


def _summary(source: str, count: PushedCount, outcome: PushOutcome, total: float | None) -> str:
    where = f"{count.metric} for {count.subject} on {count.day.isoformat()} in source {source}"
    now = f"{total:g}" if total is not None else "nothing"
    if outcome.duplicates:
        return f"key {count.key!r} was applied before: nothing added ({where} is {now})"
    if count.mode == "add":
        return f"added {count.value:g} to {where} (day total {now})"
    return f"set {where} to {count.value:g}"
