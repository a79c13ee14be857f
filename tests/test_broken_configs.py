"""A corpus of broken configurations: each gives exit 2 and one line naming the key, never a traceback.

Each file's first line is `# expect: <fragment>`, a piece of the message the loader must give.
Files are read from their own directory, so a relative `web_config_file: web/...` resolves there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bench._workload import config_text
from syncd.cli.main import main
from syncd.config import load_config
from syncd.errors import ConfigError
from syncd.yaml_limits import MAX_FILE_BYTES, check_expanded_size

CORPUS = Path(__file__).parent / "fixtures" / "broken_configs"
FILES = sorted(CORPUS.glob("*.yaml"))
ENVIRON = {"PATH": "/usr/bin"}  # nothing from the machine running the tests leaks in


def expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("# expect: "), f"{path.name} has no `# expect:` line"
    return first.removeprefix("# expect: ")


def test_the_corpus_holds_at_least_sixty_broken_files() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_loader_names_the_problem(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    with pytest.raises(ConfigError) as caught:
        load_config(path.name, environ=ENVIRON)
    lines = [str(problem) for problem in caught.value.problems]
    assert any(expected(path) in line for line in lines), lines
    assert all("\n" not in line for line in lines)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_check_offline_exits_2_with_the_problem_and_no_traceback(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    result = CliRunner().invoke(main, ["check", "--offline", "--config", path.name])
    assert result.exit_code == 2, result.output
    assert expected(path) in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_file_over_the_size_limit_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=f"larger than {MAX_FILE_BYTES} bytes"):
        load_config(path, environ=ENVIRON)


def test_a_company_sized_configuration_is_within_the_limits() -> None:
    # Issue 10's deployment: 5,000 people with two goals each, as the benchmarks write it.
    text = config_text(5000, "sqlite:///:memory:")
    assert len(text.encode()) > 1024 * 1024  # past the old 1 MiB limit
    assert len(text.encode()) <= MAX_FILE_BYTES
    goal = {"kpi": "emails", "owner": "p1", "period": "month", "target": 400, "pacing": "linear", "checkins": "week"}
    person = {"team": "t1", "identities": {"lemlist": "p1@acme.io", "kit": "tag1"}}
    document = {
        "people": {f"p{i}": dict(person) for i in range(5000)},
        "goals": [dict(goal) for _ in range(20000)],
    }
    check_expanded_size(document)  # 20,000 goals expand to about 300,000 values
