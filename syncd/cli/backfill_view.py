"""What `syncd backfill` shows: live rows on a terminal, plain lines elsewhere, then a summary.

On a terminal each source has a row: a mark (spinner, green ✓, red ✗), its bar, weeks stored and
what it is doing, including a countdown while its connector waits on a rate limit (the ETA is
hidden then, and otherwise estimated from the wall time of the weeks read so far, waits
included). Log records and notes are printed above the rows, never into them. Anywhere else
(CI, a pipe) there are no bars: one line per stored week, long wait, note and finished source.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import IO, cast

from rich import box
from rich.console import Console, RenderableType
from rich.file_proxy import FileProxy
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID
from rich.spinner import Spinner
from rich.table import Column, Table
from rich.text import Text

from syncd.clock import Clock
from syncd.model import Source
from syncd.run.backfill import BackfillReport, Phase, SourceTally
from syncd.run.sync import SyncOutcome

__all__ = ["LiveView", "PlainView", "backfill_heading", "make_view", "render_summary", "rerun_command"]

# Plain output names a wait only when it is long enough to explain a pause; a rate limiter's
# fraction of a second between two pages is not news.
PLAIN_WAIT_WORTH_SAYING = 2.0


def make_view(console: Console, clock: Clock, sources: Sequence[str]) -> LiveView | PlainView:
    """Return live rows when the console is a terminal, plain lines otherwise."""
    if console.is_terminal:
        return LiveView(console, clock, sources)
    return PlainView(console, clock)


def backfill_heading(sources: Sequence[Source], since: date, concurrency: int) -> Text:
    """Say what is about to happen: how many sources, from when, how many at once."""
    at_once = min(concurrency, len(sources))
    plural = "source" if len(sources) == 1 else "sources"
    return Text(f"backfilling {len(sources)} {plural} from {since.isoformat()}, {at_once} at a time")


def rerun_command(since: date, source: str | None, config_path: str | None) -> str:
    """Return the command that resumes this backfill, as the user would type it."""
    words = ["syncd", "backfill", "--since", since.isoformat()]
    if source is not None:
        words += ["--source", source]
    if config_path is not None:
        words += ["--config", config_path]
    return shlex.join(words)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _finished_line(tally: SourceTally) -> Text:
    """One line for a source that ended: its mark, what it stored and how it ended."""
    mark = _mark(tally.phase)
    line = Text.assemble(mark, " ", (tally.source, "bold"), ": ")
    if tally.phase is Phase.FAILED:
        line.append(tally.describe(), "red")
    else:
        line.append(tally.describe())
    if tally.phase is not Phase.NOTHING_TO_FETCH:
        line.append(
            f" ({tally.weeks_done}/{tally.weeks_total} weeks, {tally.counts:,} counts read in "
            f"{_duration(tally.seconds)})"
        )
    return line


def _mark(phase: Phase) -> Text:
    if phase in (Phase.DONE, Phase.NOTHING_TO_FETCH):
        return Text("✓", "bold green")
    if phase is Phase.FAILED:
        return Text("✗", "bold red")
    if phase is Phase.INTERRUPTED:
        return Text("■", "yellow")
    return Text("·", "dim")


@dataclass
class _Row:
    """One source's row on the terminal; `waiting_until` is on the clock's monotonic scale."""

    tally: SourceTally
    waiting_until: float | None = None
    wait_reason: str = ""


class _MarkColumn(ProgressColumn):
    def __init__(self) -> None:
        super().__init__(table_column=Column(width=1, no_wrap=True))
        self._spinner = Spinner("dots", style="cyan")

    def render(self, task: Task) -> RenderableType:
        row = cast(_Row, task.fields["row"])
        if row.tally.phase is Phase.RUNNING:
            return self._spinner.render(task.get_time())
        return _mark(row.tally.phase)


class _NameColumn(ProgressColumn):
    def __init__(self, width: int) -> None:
        super().__init__(table_column=Column(width=width, no_wrap=True, overflow="ellipsis"))

    def render(self, task: Task) -> RenderableType:
        return Text(task.description, "bold")


class _WeeksColumn(ProgressColumn):
    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True, justify="right"))

    def render(self, task: Task) -> RenderableType:
        tally = cast(_Row, task.fields["row"]).tally
        if tally.phase is Phase.NOTHING_TO_FETCH or not tally.weeks_total:
            return Text("")
        return Text(f"{tally.weeks_done}/{tally.weeks_total} weeks")


class _StateColumn(ProgressColumn):
    """What the source is doing now; while it waits, how long it still waits."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"))
        self._clock = clock

    def render(self, task: Task) -> RenderableType:
        return state_text(cast(_Row, task.fields["row"]), self._clock.monotonic())


class _EtaColumn(ProgressColumn):
    """Time left, from the wall time per week so far: hidden while waiting, so it never claims '1 s'."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(table_column=Column(no_wrap=True, justify="right"))
        self._clock = clock

    def render(self, task: Task) -> RenderableType:
        return eta_text(cast(_Row, task.fields["row"]), self._clock.monotonic())


def state_text(row: _Row, now: float) -> Text:
    """Return the state shown in a source's row at monotonic instant `now`."""
    tally = row.tally
    if tally.phase is Phase.RUNNING:
        if row.waiting_until is not None and row.waiting_until > now:
            left = row.waiting_until - now
            return Text(f"waiting {left:.0f}s for {row.wait_reason}", "yellow")
        if tally.current is not None:
            return Text(f"week of {tally.current.first_day.isoformat()}")
        return Text("starting")
    if tally.phase is Phase.QUEUED:
        return Text("waiting for a turn", "dim")
    if tally.phase is Phase.FAILED:
        return Text(tally.describe(), "red")
    if tally.phase is Phase.NOTHING_TO_FETCH:
        return Text(tally.describe(), "dim")
    if tally.phase is Phase.DONE:
        return Text(f"{tally.describe()}: {tally.counts:,} counts in {_duration(tally.seconds)}", "green")
    return Text(tally.describe(), "yellow")


def eta_text(row: _Row, now: float) -> Text:
    """Return the estimated time left, or nothing while waiting, before a first week or once ended."""
    tally = row.tally
    if tally.phase is not Phase.RUNNING or tally.started_at is None or tally.weeks_stored == 0:
        return Text("")
    if row.waiting_until is not None and row.waiting_until > now:
        return Text("")
    per_week = (now - tally.started_at) / tally.weeks_stored
    left = per_week * (tally.weeks_total - tally.weeks_done)
    return Text(f"~{_duration(left)} left", "cyan")


class LiveView:
    """Live rows on a terminal, with log records redirected above them while they are shown."""

    def __init__(self, console: Console, clock: Clock, sources: Sequence[str]) -> None:
        self.console = console
        self._clock = clock
        width = max((len(name) for name in sources), default=6)
        self._progress = Progress(
            _MarkColumn(),
            _NameColumn(width),
            BarColumn(bar_width=16),
            _WeeksColumn(),
            _StateColumn(clock),
            _EtaColumn(clock),
            console=console,
            expand=True,
        )
        self._rows: dict[str, tuple[TaskID, _Row]] = {}
        for name in sources:
            row = _Row(SourceTally(name))
            # A total of 1 until planned: an empty bar, not rich's pulse, which reads as a full one.
            self._rows[name] = (self._progress.add_task(name, total=1, row=row), row)
        self._redirected: list[tuple[logging.StreamHandler[IO[str]], IO[str]]] = []

    def __enter__(self) -> LiveView:
        # Before the rows start: they replace sys.stderr and sys.stdout with their own proxies.
        self._redirect_logging()
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self._progress.refresh()
        finally:
            self._progress.stop()
            self._restore_logging()

    def _redirect_logging(self) -> None:
        # A log handler keeps the stream it was made with: writing there would land in the middle
        # of the rows. Through the console, rich prints each line above them.
        terminals = {id(stream) for stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)}
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and id(handler.stream) in terminals:
                original = handler.stream
                handler.setStream(cast(IO[str], FileProxy(self.console, original)))
                self._redirected.append((handler, original))

    def _restore_logging(self) -> None:
        for handler, original in self._redirected:
            handler.flush()
            handler.stream.flush()
            handler.setStream(original)
        self._redirected.clear()

    def _row(self, tally: SourceTally) -> tuple[TaskID, _Row]:
        task, row = self._rows[tally.source]
        row.tally = tally
        return task, row

    def begin(self, tallies: Sequence[SourceTally]) -> None:
        # The rows read the backfill's own tallies, so a source that never got a turn still shows
        # how the run left it.
        for tally in tallies:
            self._row(tally)

    def planned(self, tally: SourceTally) -> None:
        task, _ = self._row(tally)
        self._progress.update(task, total=max(tally.weeks_total, 1), completed=tally.weeks_done)

    def note(self, tally: SourceTally, text: str) -> None:
        self.console.print(Text(f"note: {text}", "dim"))

    def chunk_started(self, tally: SourceTally) -> None:
        self._row(tally)

    def waiting(self, tally: SourceTally, seconds: float, reason: str) -> None:
        _, row = self._row(tally)
        row.waiting_until = self._clock.monotonic() + seconds
        row.wait_reason = reason

    def chunk_stored(self, tally: SourceTally, outcome: SyncOutcome) -> None:
        task, row = self._row(tally)
        row.waiting_until = None
        self._progress.update(task, completed=tally.weeks_done)

    def finished(self, tally: SourceTally) -> None:
        task, row = self._row(tally)
        row.waiting_until = None
        if tally.phase is Phase.FAILED:
            # The row has room for the start of the reason only: the whole of it goes above.
            self.console.print(_finished_line(tally))
        total = max(tally.weeks_total, 1)
        self._progress.update(task, total=total, completed=total if tally.ok else tally.weeks_done)


class PlainView:
    """Plain lines for logs and CI: one per stored week, long wait, note and finished source."""

    def __init__(self, console: Console, clock: Clock) -> None:
        self.console = console
        self._clock = clock

    def __enter__(self) -> PlainView:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        return None

    def _say(self, text: Text | str) -> None:
        self.console.print(text if isinstance(text, Text) else Text(text), soft_wrap=True)

    def begin(self, tallies: Sequence[SourceTally]) -> None:
        return None

    def planned(self, tally: SourceTally) -> None:
        kept = f" ({tally.weeks_kept} stored by an earlier run)" if tally.weeks_kept else ""
        self._say(f"{tally.source}: {tally.weeks_total - tally.weeks_kept} of {tally.weeks_total} weeks to read{kept}")

    def note(self, tally: SourceTally, text: str) -> None:
        self._say(f"note: {text}")

    def chunk_started(self, tally: SourceTally) -> None:
        return None

    def waiting(self, tally: SourceTally, seconds: float, reason: str) -> None:
        if seconds >= PLAIN_WAIT_WORTH_SAYING:
            self._say(f"{tally.source}: waiting {seconds:.0f}s for {reason}")

    def chunk_stored(self, tally: SourceTally, outcome: SyncOutcome) -> None:
        window = tally.current
        if window is None:
            return
        self._say(
            f"{tally.source}: stored {window.first_day.isoformat()} to {window.last_day.isoformat()} "
            f"({outcome.counts:,} counts) [{tally.weeks_done}/{tally.weeks_total}]"
        )

    def finished(self, tally: SourceTally) -> None:
        self._say(_finished_line(tally))


def render_summary(console: Console, report: BackfillReport, rerun: str) -> None:
    """Print a table of every source's result and, when something is left, how to resume."""
    # Rows without rules: each reads as one line, in a terminal and in a CI log alike.
    table = Table(title="backfill summary", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("weeks", justify="right", no_wrap=True)
    table.add_column("counts", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("result", overflow="fold")
    for tally in report.tallies:
        style = "red" if tally.phase is Phase.FAILED else "yellow" if tally.phase is Phase.INTERRUPTED else ""
        figures = (
            ("", "", "")
            if tally.phase is Phase.NOTHING_TO_FETCH or tally.started_at is None
            else (f"{tally.weeks_done}/{tally.weeks_total}", f"{tally.counts:,}", _duration(tally.seconds))
        )
        table.add_row(_mark(tally.phase), tally.source, *figures, Text(tally.describe(), style))
    console.print()
    console.print(table)
    complete = sum(1 for tally in report.tallies if tally.ok)
    console.print(f"{complete} of {len(report.tallies)} source(s) complete in {_duration(report.seconds)}")
    failed = sum(1 for tally in report.tallies if tally.phase is Phase.FAILED)
    if report.interrupted:
        console.print(Text("interrupted: the weeks stored so far are kept", "yellow"))
    if failed:
        console.print(Text(f"{failed} of {len(report.tallies)} source(s) failed", "red"))
    if report.interrupted or failed:
        # Never folded: the command is there to be copied.
        console.print(
            Text.assemble("rerun ", (f"`{rerun}`", "bold"), " to resume: finished weeks are kept"), soft_wrap=True
        )
