"""Goals split across replica groups: a stable partition, the `shard` key, and history kept per shard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from syncd.errors import ConfigError
from syncd.sharding import Shard, goal_in_shard, parse_shard, shard_goals
from syncd.store import create_engine_for, upgrade
from syncd.store.goal_history import record_config_goals
from syncd.store.goal_repository import load_goal_versions
from tests.fakes import make_config

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def config_text(shard: str | None = None, owners: int = 40) -> str:
    people = "\n".join(f"  p{i}: {{team: growth}}" for i in range(owners))
    goals = "\n".join(f"  - {{kpi: optins, owner: p{i}, period: month, target: 10}}" for i in range(owners))
    head = f"shard: {shard}\n" if shard else ""
    return (
        f"{head}teams: {{growth: {{}}}}\npeople:\n{people}\n"
        'sources:\n  kit: {connector: kit, api_key: "${KIT_API_KEY}"}\n'
        f"kpis:\n  optins: {{source: kit, metric: new_subscribers}}\ngoals:\n{goals}\n"
    )


def test_parse_shard_by_index_and_by_statefulset_ordinal() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard("ordinal/4", {"POD_NAME": "syncd-6"}) == Shard(3, 4)
    assert parse_shard("ordinal/4", {"HOSTNAME": "syncd-shards-4"}) == Shard(1, 4)
    assert parse_shard("ordinal/3", {"SYNCD_SHARD_ORDINAL": "5", "HOSTNAME": "x-0"}) == Shard(3, 3)
    for bad in ("0/4", "5/4", "2", "a/b", "1/0"):
        with pytest.raises(ValueError, match=r"shard|INDEX"):
            parse_shard(bad, {})
    with pytest.raises(ValueError, match="ordinal"):
        parse_shard("ordinal/2", {"HOSTNAME": "laptop"})


def test_the_shards_partition_the_goals_stably() -> None:
    goals = make_config(config_text(owners=200)).goals
    shards = [shard_goals(goals, Shard(i, 4)) for i in range(1, 5)]
    keys = [{g.key for g in shard} for shard in shards]
    assert sum(len(k) for k in keys) == 200
    assert set().union(*keys) == {g.key for g in goals}
    # Roughly even: a hash, not a list cut, but none empty or double its share at 200 goals.
    assert all(25 <= len(k) <= 75 for k in keys), [len(k) for k in keys]
    # Stable: sha256 of the key, not Python's per-process hash(); pinned so a change of hash shows.
    assert [s for s in range(1, 5) if goal_in_shard("optins|p1|month", Shard(s, 4))] == [4]
    assert [s for s in range(1, 5) if goal_in_shard("optins|p2|month", Shard(s, 4))] == [3]


def test_the_shard_key_keeps_only_its_goals_and_a_bad_one_is_a_config_error() -> None:
    everyone = make_config(config_text()).goals
    second = make_config(config_text("2/3"))
    assert second.shard == Shard(2, 3)
    assert second.goals == shard_goals(everyone, Shard(2, 3))
    assert 0 < len(second.goals) < len(everyone)
    from_env = make_config(config_text(), SYNCD_SHARD="1/3")
    assert from_env.goals == shard_goals(everyone, Shard(1, 3))
    with pytest.raises(ConfigError) as info:
        make_config(config_text("4/3"))
    assert [p.path for p in info.value.problems] == ["shard"]


def test_a_shard_records_and_closes_only_its_own_goal_versions(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    try:
        first, second = make_config(config_text("1/2")), make_config(config_text("2/2"))
        record_config_goals(engine, first, T0)
        record_config_goals(engine, second, T0)
        # Shard 1 reloads: shard 2's goals are not "removed" from its point of view.
        record_config_goals(engine, first, T0.replace(hour=13))
        versions = load_goal_versions(engine)
        assert len(versions) == 40
        assert all(v.effective_to is None for v in versions)
    finally:
        engine.dispose()


def test_the_deploy_guide_snippets_load() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if re.match(r"(shard|database_url):", b)]
    assert len(blocks) == 2
    for block in blocks:
        config = make_config(block + config_text())
        assert config.lease_seconds == 20.0
    assert make_config(blocks[1] + config_text()).shard == Shard(2, 4)
    scrape = yaml.safe_load(
        next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if "shard: " in b and "scrape_configs" in b)
    )
    assert [c["labels"]["shard"] for c in scrape["scrape_configs"][0]["static_configs"]] == ["1/2", "2/2"]
