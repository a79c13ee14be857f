"""The `syncd` command line (CONTRACT §2): exit 0 success, 1 runtime failure, 2 configuration or usage."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from syncd.clock import MAX_SPEED, Clock, RealWaits
from syncd.config import load_config, resolve_config_path
from syncd.errors import ConfigError, StorageError
from syncd.model import Config

__all__ = ["main"]

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
log = logging.getLogger("syncd")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates every plugin and migration at INFO: noise before every command's output.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn syncd's errors into the contract's exit codes and one-line messages, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for line in (*map(str, exc.problems), *exc.hints):
                click.echo(line, err=True)
            sys.exit(EXIT_CONFIG)
        except StorageError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_RUNTIME)
        except (SystemExit, KeyboardInterrupt, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            # A bug or an unforeseen failure still gets one line and exit 1, never a traceback on
            # the console; --verbose logs the traceback for a bug report. Secrets are masked.
            from syncd.redaction import redact

            log.debug("unexpected failure", exc_info=True)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            click.echo(f"error: {type(exc).__name__}: {redact(first)[:300]} (run with --verbose for details)", err=True)
            sys.exit(EXIT_RUNTIME)

    return wrapper


def _read_config(config_path: str | None, unset_env: list[str] | None = None) -> Config:
    """Load the configuration the options name; a file that is not there comes with hints on where to look."""
    path = resolve_config_path(config_path)
    try:
        return load_config(path, unset_env=unset_env)
    except ConfigError as exc:
        from syncd.cli.config_hints import config_file_missing, missing_config_hints

        if not config_file_missing(path):
            raise
        raise ConfigError(exc.problems, missing_config_hints(config_path, os.environ, Path.cwd())) from None


def _load(config_path: str | None) -> Config:
    from syncd.redaction import install_log_redaction

    config = _read_config(config_path)
    install_log_redaction(config)
    return config


def _clock(config: Config) -> Clock:
    """Return the command's clock: real time, or the simulated time of a demo on this database."""
    from syncd.run.demo_clock import clock_for_database

    return clock_for_database(config.database_url)


def _run(coro: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(coro)


config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    default=None,
    help="Configuration file (default: $SYNCD_CONFIG, else config/syncd.yaml).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="syncd")
def main(verbose: bool) -> None:
    """syncd: owned KPIs with goals, paced and exposed to Prometheus."""
    _configure_logging(verbose)


@main.command()
@config_option
@handles_errors
def run(config_path: str | None) -> None:
    """Run the daemon: schedule every source, store snapshots, serve HTTP."""
    # Until the event loop installs its own handler, SIGTERM is a clean exit 0, not a traceback.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    from syncd.run.malloc_arenas import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread starts
    from syncd.run.daemon import Daemon
    from syncd.run.shutdown import run_until_stopped
    from syncd.serve.web_config import load_web_config
    from syncd.store import create_engine_for

    config = _load(config_path)
    web_config = load_web_config(config.web_config_file) if config.web_config_file else None
    # The schema is upgraded by the daemon, retried while the database is down (no CrashLoopBackOff).
    engine = create_engine_for(config.database_url)
    daemon = Daemon(config, engine, web_config=web_config, extra_routes=_push_routes)

    async def main_loop() -> None:
        stop, reload_requested = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload_requested.set)
        await run_until_stopped(
            daemon.run(
                stop, reload_requested=reload_requested, load_config=lambda: _load(config_path), upgrade_schema=True
            ),
            stop,
        )

    try:
        _run(main_loop())
    except OSError as exc:
        # Binding the port or loading TLS files: one line, no traceback (CONTRACT §2).
        from syncd.run.startup import describe_start_failure

        message, code = describe_start_failure(config.listen_host, config.listen_port, exc)
        click.echo(message, err=True)
        sys.exit(code)
    log.info("stopped")


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    sys.exit(EXIT_OK)


def _push_routes(daemon: Any) -> list[Any]:
    from syncd.serve.push import push_routes

    routes: list[Any] = push_routes(daemon)
    return routes


@main.command()
@click.option("--source", "source_name", required=True, metavar="NAME", help="A push source.")
@click.option("--metric", required=True, help="The metric the count is for.")
@click.option("--subject", default="all", show_default=True, help="Whose count it is (an identity).")
@click.option("--day", metavar="YYYY-MM-DD", help="The local day (default: today).")
@click.option("--at", "at", metavar="ISO-8601", help="An instant; its local day is used.")
@click.option("--value", required=True, help="The count (>= 0).")
@click.option("--mode", type=click.Choice(["set", "add"]), default="set", show_default=True)
@click.option("--key", help="With --mode add: an idempotency key, so a retry does not add twice.")
@config_option
@handles_errors
def record(
    source_name: str,
    metric: str,
    subject: str,
    day: str | None,
    at: str | None,
    value: str,
    mode: str,
    key: str | None,
    config_path: str | None,
) -> None:
    """Record a count for a step with no API (calls held, interviews) into a push source."""
    from syncd.run.record import record_observation

    config = _load(config_path)
    try:
        message = record_observation(
            config,
            source_name,
            metric=metric,
            value=value,
            subject=subject,
            day=day,
            at=at,
            mode=mode,
            key=key,
            clock=_clock(config),
        )
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(message)


@main.command()
@click.option("--once", is_flag=True, required=True, help="Sync once and exit (the only mode).")
@click.option("--source", "source_name", metavar="NAME", help="Sync only this source.")
@config_option
@handles_errors
def sync(once: bool, source_name: str | None, config_path: str | None) -> None:
    """Sync every source (or one) once, store the counts, print a summary."""
    from syncd.run.source_stats import SourceStats
    from syncd.run.sync import sync_source
    from syncd.store import create_engine_for, upgrade
    from syncd.store.goal_history import record_config_goals

    config = _load(config_path)
    sources = _select_sources(config, source_name)
    engine = create_engine_for(config.database_url)
    upgrade(engine)
    # Windows end at the demo's simulated now, but retries wait and durations read in real seconds.
    clock = RealWaits(_clock(config))
    record_config_goals(engine, config, clock.now())

    async def sync_all() -> list[Any]:
        return await asyncio.gather(
            *(
                sync_source(config, s, engine, clock, SourceStats(s.name, s.connector, s.interval_seconds))
                for s in sources
            )
        )

    outcomes = _run(sync_all())
    failed = 0
    for outcome in outcomes:
        if outcome.ok:
            window = outcome.window
            span = f"{window.first_day}..{window.last_day}" if window else ""
            click.echo(
                f"{outcome.source}: ok, {outcome.counts} daily counts for {span}, "
                f"{outcome.changed} changed, {outcome.duration:.1f}s"
            )
        else:
            failed += 1
            click.echo(f"{outcome.source}: FAILED ({outcome.reason}): {outcome.error}", err=True)
        for note in outcome.notes:
            click.echo(f"  note: {note}")
    sys.exit(EXIT_RUNTIME if failed else EXIT_OK)


def _select_sources(config: Config, name: str | None) -> list[Any]:
    if name is None:
        return list(config.sources.values())
    if name not in config.sources:
        known = ", ".join(config.sources) or "none"
        click.echo(f"error: unknown source {name!r} (configured: {known})", err=True)
        sys.exit(EXIT_CONFIG)
    return [config.sources[name]]


@main.command()
@click.option("--offline", is_flag=True, help="Only validate the file; make no calls to vendors.")
@config_option
@handles_errors
def check(offline: bool, config_path: str | None) -> None:
    """Validate the configuration; without --offline, make one cheap authenticated call per source."""
    unset: list[str] = []
    config = _read_config(config_path, unset_env=unset) if offline else _load(config_path)
    counted = (
        (len(config.sources), "source"),
        (len(config.kpis), "KPI"),
        (len(config.goals), "goal"),
        (len(config.funnels), "funnel"),
    )
    click.echo(f"{config.file}: ok ({', '.join(f'{n} {word}' + ('' if n == 1 else 's') for n, word in counted)})")
    if offline:
        for name in unset:
            click.echo(f"note: environment variable {name} is not set; `syncd run` will need it")
        return
    from syncd.cli.checks import check_sources

    results = _run(check_sources(config))
    failed = [r for r in results if not r.ok]
    for result in results:
        click.echo(f"{result.source}: {'ok' if result.ok else 'FAILED'}: {result.message}")
    sys.exit(EXIT_RUNTIME if failed else EXIT_OK)


@main.command()
@click.option("--as-of", "as_of", metavar="ISO-8601", help="Compute pace as of this instant (default: now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@config_option
@handles_errors
def status(as_of: str | None, fmt: str, config_path: str | None) -> None:
    """Print every goal's pace, computed from stored data as of an instant."""
    from syncd.cli.console import wide_console
    from syncd.cli.status_formats import COMPACT_BELOW, render_compact, render_csv, render_json
    from syncd.cli.status_report import compute_status, render_table, source_states

    config = _load(config_path)
    instant = _parse_instant(as_of, config) if as_of else _clock(config).now()
    goals = compute_status(config, instant, as_of=as_of is not None)
    states = source_states(config)
    if fmt == "json":
        click.echo(render_json(goals, instant, states))
    elif fmt == "csv":
        click.echo(render_csv(goals, instant, states), nl=False)
    else:
        console = wide_console()
        if console.width < COMPACT_BELOW:
            render_compact(console, goals, instant, config, states)
        else:
            render_table(goals, instant, config)


@main.command()
@click.option("--owner", metavar="P", help="Only this person's goals, or a team's (its own and its members').")
@click.option("--as-of", "as_of", metavar="ISO-8601", help="Judge as of this instant (default: now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@config_option
@handles_errors
def checkins(owner: str | None, as_of: str | None, fmt: str, config_path: str | None) -> None:
    """Print every goal's check-ins per level: hit, missed or incomplete, and the current one."""
    from syncd.cli.checkins_report import compute_checkins, render_checkins
    from syncd.serve.checkin_view import checkins_json

    config = _load(config_path)
    if owner is not None and owner not in config.people and owner not in config.teams:
        raise click.BadParameter(f"{owner!r} is neither a person nor a team of the configuration", param_hint="--owner")
    instant = _parse_instant(as_of, config) if as_of else _clock(config).now()
    snapshot = compute_checkins(config, instant)
    if fmt == "json":
        click.echo(json.dumps(checkins_json(snapshot, owner, previous_period=False), indent=2))
    else:
        render_checkins(snapshot, owner)


def _parse_instant(text: str, config: Config) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 instant (e.g. 2026-11-23T12:00:00+00:00)", param_hint="--as-of"
        ) from None
    if instant.tzinfo is None:
        # A bare local time means the configured zone, where the day buckets live.
        instant = instant.replace(tzinfo=config.timezone)
    offset = instant.utcoffset()
    # Far years overflow period arithmetic (year 9999 + a day), and offsets past ±14:00 exist nowhere.
    if not 1971 <= instant.year <= 2999 or (offset is not None and abs(offset) > timedelta(hours=14)):
        raise click.BadParameter(
            f"{text!r} is out of range (years 1971-2999, UTC offset within ±14:00)", param_hint="--as-of"
        )
    return instant


@main.command()
@click.argument("name")
@click.option("--as-of", "as_of", metavar="ISO-8601", help="As of this instant (default: now).")
@click.option("--uplift", metavar="PERCENT", help="What-if: every stage converts this much better, e.g. 10%.")
@config_option
@handles_errors
def funnel(name: str, as_of: str | None, uplift: str | None, config_path: str | None) -> None:
    """Print a funnel's stage conversions per owner, the benchmark per stage and a what-if."""
    from syncd.cli.funnel_report import compute_funnel, render_funnel

    config = _load(config_path)
    if name not in config.funnels:
        known = ", ".join(config.funnels) or "none"
        raise click.BadParameter(f"unknown funnel {name!r} (configured: {known})", param_hint="NAME")
    instant = _parse_instant(as_of, config) if as_of else _clock(config).now()
    rate = _parse_percent(uplift) if uplift is not None else None
    render_funnel(config, name, compute_funnel(config, name, instant), instant, rate)


@main.command()
@click.argument("name")
@click.option("--next-period", "next_one", is_flag=True, help="Plan the period after the current one.")
@click.option("--uplift", default="10%", show_default=True, metavar="PERCENT", help="Growth asked of the domino step.")
@click.option("--as-of", "as_of", metavar="ISO-8601", help="Plan from the figures as of this instant (default: now).")
@config_option
@handles_errors
def plan(name: str, next_one: bool, uplift: str, as_of: str | None, config_path: str | None) -> None:
    """Propose targets per person and funnel step from this period's volumes and conversions."""
    from syncd.cli.funnel_plan import compute_plan, render_plan

    config = _load(config_path)
    if name not in config.funnels:
        known = ", ".join(config.funnels) or "none"
        raise click.BadParameter(f"unknown funnel {name!r} (configured: {known})", param_hint="NAME")
    instant = _parse_instant(as_of, config) if as_of else _clock(config).now()
    current, planned, plans = compute_plan(config, name, instant, next_one=next_one, uplift=_parse_percent(uplift))
    render_plan(config, name, current, planned, plans)


@main.command()
@click.option("--kpi", "kpi_name", required=True, help="The KPI.")
@click.option("--owner", required=True, help="A person or a team.")
@click.option("--period", "which", type=click.Choice(["current", "next"]), default="next", show_default=True)
@click.option("--stretch", default="30%", show_default=True, metavar="PERCENT", help="Target above the committed.")
@click.option("--as-of", "as_of", metavar="ISO-8601", help="As of this instant (default: now).")
@config_option
@handles_errors
def suggest(kpi_name: str, owner: str, which: str, stretch: str, as_of: str | None, config_path: str | None) -> None:
    """Show an owner's last periods on a KPI and propose a goal (committed + stretch) from them."""
    from syncd.cli.suggest_report import compute_suggestion, render_suggestion

    config = _load(config_path)
    if kpi_name not in config.kpis:
        known = ", ".join(config.kpis) or "none"
        raise click.BadParameter(f"unknown KPI {kpi_name!r} (configured: {known})", param_hint="--kpi")
    if owner not in config.people and owner not in config.teams:
        raise click.BadParameter(f"unknown person or team {owner!r}", param_hint="--owner")
    instant = _parse_instant(as_of, config) if as_of else _clock(config).now()
    rate = _parse_percent(stretch, param="--stretch")
    suggestion = compute_suggestion(config, kpi_name, owner, instant, next_one=which == "next", stretch=rate)
    render_suggestion(config, kpi_name, owner, suggestion, fixed=False)


def _parse_percent(text: str, *, param: str = "--uplift") -> float:
    try:
        value = float(text.strip().removesuffix("%")) / 100
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a percentage such as 10%", param_hint=param) from None
    if not -1 < value <= 100:
        raise click.BadParameter("must be above -100% and at most 10000%", param_hint=param)
    return value


@main.command()
@click.option("--since", required=True, metavar="YYYY-MM-DD", help="First day to fetch.")
@click.option("--source", "source_name", metavar="NAME", help="Backfill only this source.")
@click.option(
    "--concurrency",
    # syncd.run.backfill.DEFAULT_CONCURRENCY (a test keeps them equal): importing it here would
    # load the sync machinery for every command.
    default=4,
    show_default=True,
    type=click.IntRange(1, 32),
    metavar="N",
    help="Sources read at once, each within its own rate limit.",
)
@config_option
@handles_errors
def backfill(since: str, source_name: str | None, concurrency: int, config_path: str | None) -> None:
    """Fetch history from a day on into storage: live progress per source, then a summary.

    Finished weeks are kept: after a failure or Ctrl-C the same command resumes after them.
    """
    from syncd.cli.backfill_view import backfill_heading, make_view, render_summary, rerun_command
    from syncd.cli.console import wide_console
    from syncd.run.backfill import run_backfill

    try:
        first_day = date.fromisoformat(since)
    except ValueError:
        raise click.BadParameter(f"{since!r} is not a date (YYYY-MM-DD)", param_hint="--since") from None
    config = _load(config_path)
    # Windows end at the demo's simulated now, but waits and times read in real seconds.
    clock = RealWaits(_clock(config))
    if not date(1971, 1, 1) <= first_day <= clock.now().astimezone(config.timezone).date():
        raise click.BadParameter(f"{since!r} must be a day between 1971-01-01 and today", param_hint="--since")
    sources = _select_sources(config, source_name)
    console = wide_console()
    console.print(backfill_heading(sources, first_day, concurrency), highlight=False)
    view = make_view(console, clock, [source.name for source in sources])
    with view:
        report = run_backfill(config, sources, first_day, clock=clock, observer=view, concurrency=concurrency)
    render_summary(console, report, rerun_command(first_day, source_name, config_path))
    sys.exit(EXIT_OK if report.ok else EXIT_RUNTIME)


@main.command()
@click.option("--seed", default=42, show_default=True, help="Seed of the demo team's activity.")
@click.option(
    "--speed",
    type=click.FloatRange(1, MAX_SPEED),
    default=60,
    show_default=True,
    help="Simulated seconds per real second: 60 brings a simulated hour of activity every real minute; "
    "1 is real time. Intervals and ticks run on the simulated clock too.",
)
@config_option
@handles_errors
def demo(seed: int, speed: float, config_path: str | None) -> None:
    """Start the sandbox (fake SaaS APIs) and the daemon against it, on SQLite, on a simulated clock.

    The demo team's activity arrives as simulated time passes, one source fails for two simulated
    hours a day, and every command run beside the demo (status, record, ...) shares its clock.
    """
    from syncd.run.demo import demo_config_path, run_demo
    from syncd.run.malloc_arenas import limit_malloc_arenas

    limit_malloc_arenas()
    run_demo(demo_config_path(config_path), seed=seed, speed=speed)


@main.command("alertmanager-routes")
@click.option(
    "--webhook",
    default="http://alert-bridge:9095/notify/{receiver}",
    show_default=True,
    help="Each receiver's webhook URL; {receiver} is the person's name.",
)
@config_option
@handles_errors
def alertmanager_routes(webhook: str, config_path: str | None) -> None:
    """Print an Alertmanager configuration that routes each goal alert to its owner and team head."""
    from syncd.cli.alertmanager_routes import render_alertmanager_config

    if "{receiver}" not in webhook:
        raise click.BadParameter("must contain {receiver}", param_hint="--webhook")
    # Routing needs the people, not the secrets: unset ${VAR}s are fine here.
    config = _read_config(config_path, unset_env=[])
    click.echo(render_alertmanager_config(config, webhook), nl=False)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@config_option
@handles_errors
def upgrade(config_path: str | None) -> None:
    """Apply schema migrations."""
    from syncd.store import create_engine_for
    from syncd.store import upgrade as apply_migrations

    config = _load(config_path)
    apply_migrations(create_engine_for(config.database_url))
    click.echo("database is up to date")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def connectors(fmt: str) -> None:
    """List connector types, their settings and the metrics they emit."""
    from syncd.cli.connector_catalog import describe_connectors, render_catalog

    catalog = describe_connectors()
    if fmt == "json":
        click.echo(json.dumps(catalog, indent=2))
    else:
        render_catalog(catalog)
