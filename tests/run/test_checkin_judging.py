"""Heavy work off the event loop: judging check-ins (seconds of CPU at 10,000 goals) and funnels hold up
neither pushes, their figures nor /healthz; late counts have closed check-ins judged again."""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine

import syncd.run.daemon as daemon_module
from syncd.config import parse_config
from syncd.run.daemon import Daemon
from syncd.serve.push import push_routes
from syncd.serve.web import build_app
from syncd.store import create_engine_for, upgrade
from tests.test_push import CONFIG, NOW, TOKEN, URL, FixedClock, bearer, item


def _unstarted_daemon(tmp_path: Path) -> tuple[Daemon, Engine]:
    config = parse_config(
        CONFIG.replace("target: 40", "target: 40\n    checkins: week"),
        file="syncd.yaml",
        environ={"CALLS_TOKEN": TOKEN},
    )
    engine = create_engine_for(f"sqlite:///{tmp_path / 'syncd.db'}")
    upgrade(engine)
    return Daemon(config, engine, clock=FixedClock(NOW), extra_routes=push_routes), engine


async def _daemon_with_weekly_checkins(tmp_path: Path, *, judged: bool = True) -> tuple[Daemon, Engine]:
    daemon, engine = _unstarted_daemon(tmp_path)
    await daemon.start()
    if judged:
        await daemon.record_checkins()
    return daemon, engine


async def test_a_push_is_stored_and_on_metrics_while_checkins_are_being_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    daemon, engine = await _daemon_with_weekly_checkins(tmp_path, judged=False)
    judging, release = threading.Event(), threading.Event()
    judge_all = daemon_module.judge_all

    def held_judge(*args: object) -> object:
        judging.set()
        release.wait(60)  # until the push below is through (a bound, so a failure cannot hang the suite)
        return judge_all(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_module, "judge_all", held_judge)
    recording = asyncio.create_task(daemon.record_checkins())
    try:
        assert await asyncio.to_thread(judging.wait, 60)
        async with TestClient(TestServer(build_app(daemon.web_state))) as client:
            response = await asyncio.wait_for(
                client.post(URL, json={"observations": [item(day="2026-03-23", value=7)]}, headers=bearer()), 30
            )
            assert response.status == 200, await response.text()
            await asyncio.wait_for(daemon.refresher.settle(), 30)
            body = await (await client.get("/metrics")).text()
        assert (
            'syncd_goal_value{kpi="calls_held",owner="alice",period="2026-03",source="calls",team="recruiting"} 7.0'
            in body
        )
        assert not recording.done()  # still judging: the push did not wait for it
    finally:
        release.set()
        await recording
    # Judged and published after all: at Sunday noon the week of 23 March is still open, 16 March closed.
    assert [r.checkpoint for r in daemon.checkin_results if r.level == "week"][-1] == "2026-W12"
    assert daemon.holder.current.checkins == daemon.checkin_results
    assert daemon.holder.current.goals[0].value == 7.0
    engine.dispose()


@pytest.mark.parametrize(
    ("day", "stale"),
    [
        ("2026-03-17", True),  # a late count for the closed week of 16 March moves its result
        ("2026-03-29", False),  # today's count: no closed check-in holds it
    ],
)
async def test_a_push_for_a_closed_checkin_has_it_judged_again(tmp_path: Path, day: str, stale: bool):
    daemon, engine = await _daemon_with_weekly_checkins(tmp_path)
    assert not daemon.checkins_stale
    async with TestClient(TestServer(build_app(daemon.web_state))) as client:
        response = await client.post(URL, json={"observations": [item(day=day, value=9)]}, headers=bearer())
        assert response.status == 200, await response.text()
        await asyncio.wait_for(daemon.refresher.settle(), 30)
    assert daemon.checkins_stale is stale
    if stale:
        await daemon.record_checkins()
        week = next(r for r in daemon.checkin_results if r.checkpoint == "2026-W12")
        assert week.value == 9.0
    engine.dispose()


async def test_a_count_another_process_stored_for_a_closed_checkin_has_it_judged_again(tmp_path: Path):
    from syncd.store.push_repository import PushedCount, apply_pushed_counts

    daemon, engine = await _daemon_with_weekly_checkins(tmp_path)
    # `syncd record` in another process: the daemon learns of it from the change feed at its tick.
    apply_pushed_counts(
        engine,
        source="calls",
        counts=[PushedCount("calls_held", "alice", date(2026, 3, 18), 4.0)],
        at=NOW,
    )
    await daemon.tick()
    assert daemon.checkins_stale
    await daemon.record_checkins()
    week = next(r for r in daemon.checkin_results if r.checkpoint == "2026-W12")
    assert week.value == 4.0
    engine.dispose()


async def test_funnels_are_evaluated_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    daemon, engine = await _daemon_with_weekly_checkins(tmp_path)
    evaluating, release = threading.Event(), threading.Event()
    evaluate_funnels = daemon_module.evaluate_funnels

    def held_funnels(*args: object) -> object:
        evaluating.set()
        release.wait(30)  # on the event loop this would hold /healthz below for the whole bound
        return evaluate_funnels(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_module, "evaluate_funnels", held_funnels)
    evaluation = asyncio.create_task(daemon.evaluate())
    try:
        assert await asyncio.to_thread(evaluating.wait, 30)
        async with TestClient(TestServer(build_app(daemon.web_state))) as client:
            health = await asyncio.wait_for(client.get("/healthz"), 10)
            assert health.status == 200
        assert not evaluation.done()
    finally:
        release.set()
        await evaluation
    engine.dispose()


async def test_stale_checkins_wait_for_the_counts_to_settle_then_are_judged(tmp_path: Path):
    # While pushes stream in, judging every goal at every tick is wasted: the next push moves the
    # result again. Judged at the first tick without new counts, or after 4 ticks of them.
    daemon, engine = await _daemon_with_weekly_checkins(tmp_path)
    async with TestClient(TestServer(build_app(daemon.web_state))) as client:

        async def push(value: int) -> None:
            response = await client.post(
                URL, json={"observations": [item(day="2026-03-17", value=value)]}, headers=bearer()
            )
            assert response.status == 200, await response.text()

        await push(5)
        assert daemon.checkins_stale
        assert not daemon.checkins_due(2)  # pushed during the tick: wait
        assert daemon.checkins_due(3)  # a tick with nothing new: judge now
        daemon._checkins_stale, daemon._stale_ticks = False, 0

        await push(6)
        due = []
        for tick in range(4, 12):
            due.append(daemon.checkins_due(tick))
            if due[-1]:
                break
            await push(7 + tick)  # still streaming
        assert due == [False] * 3 + [True]  # judged after 4 ticks all the same
        await daemon.refresher.settle()
    engine.dispose()


async def test_judging_again_writes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Most check-ins are judged the same every time: a re-judging writes the ones that moved only.
    import syncd.run.daemon as daemon_module

    daemon, engine = await _daemon_with_weekly_checkins(tmp_path)
    before = daemon.checkin_results
    assert len(before) >= 2
    written: list[int] = []
    save = daemon_module.save_checkin_results

    def counting_save(engine: Engine, results: object, at: object) -> None:
        written.append(len(results))  # type: ignore[arg-type]
        save(engine, results, at)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_module, "save_checkin_results", counting_save)
    await daemon.record_checkins()
    assert written == []  # nothing moved: nothing written, the published results stand
    assert daemon.checkin_results is before

    async with TestClient(TestServer(build_app(daemon.web_state))) as client:
        response = await client.post(URL, json={"observations": [item(day="2026-03-17", value=9)]}, headers=bearer())
        assert response.status == 200, await response.text()
        await daemon.refresher.settle()
    await daemon.record_checkins()
    assert written == [1]  # the week of 16 March only
    week = next(r for r in daemon.checkin_results if r.checkpoint == "2026-W12")
    assert week.value == 9.0
    assert len(daemon.checkin_results) == len(before)
    engine.dispose()


async def test_the_first_tick_after_start_does_not_judge_again(tmp_path: Path):
    # Start judged every check-in; the first tick's judging again fell among the first pushes.
    daemon, engine = await _daemon_with_weekly_checkins(tmp_path)
    assert not daemon.checkins_stale
    assert [tick for tick in range(1, 41) if daemon.checkins_due(tick)] == [20, 40]
    engine.dispose()


async def test_run_is_ready_once_the_first_judging_is_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A scrape before it would show no check-in history; pushes sent at once would wait on its work.
    daemon, engine = _unstarted_daemon(tmp_path)
    judging, release = threading.Event(), threading.Event()
    judge_all = daemon_module.judge_all

    def held_judge(*args: object) -> object:
        judging.set()
        release.wait(60)
        return judge_all(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_module, "judge_all", held_judge)
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop, serve=False))
    try:
        assert await asyncio.to_thread(judging.wait, 60)
        assert daemon.holder.current.goals  # evaluated...
        assert not daemon.holder.current.ready  # ...but not ready while the check-ins are judged
        release.set()
        for _ in range(600):
            if daemon.holder.current.ready:
                break
            await asyncio.sleep(0.05)
        assert daemon.holder.current.ready
        assert daemon.holder.current.checkins  # published with the readiness
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(running, 60)
    engine.dispose()
