"""Command-line values out of range are usage errors (exit 2, one line), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli.main import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path / 'syncd.db'}\n")
    return path


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["status", "--as-of", "9999-12-31T23:59:59-23:59"], "is out of range (years 1971-2999"),
        (["status", "--as-of", "0001-01-01T00:00:00+00:00"], "is out of range (years 1971-2999"),
        (["status", "--as-of", "2026-11-23T12:00:00+15:00"], "UTC offset within ±14:00"),
        (["backfill", "--since", "0001-01-01"], "must be a day between 1971-01-01 and today"),
        (["backfill", "--since", "9999-12-31"], "must be a day between 1971-01-01 and today"),
    ],
)
def test_out_of_range_values_exit_2(config: Path, args: list[str], fragment: str) -> None:
    result = CliRunner().invoke(main, [*args, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unexpected_failure_is_one_masked_line_and_exit_1(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import syncd.cli.status_report as status_report

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(status_report, "compute_status", explode)
    result = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert result.exit_code == 1
    assert "error: RuntimeError: boom (run with --verbose for details)" in result.output
    assert "second line" not in result.output
    assert "Traceback" not in result.output
