"""The refresher: syncs and pushes finishing together share evaluations, and each sees its own figures."""

from __future__ import annotations

import asyncio

from syncd.engine.evaluate import CountKey
from syncd.run.refresh import Refresher


class GatedEvaluations:
    """Records each evaluation's keys; an evaluation finishes only when the test opens the gate."""

    def __init__(self) -> None:
        self.batches: list[tuple[CountKey, ...]] = []
        self.finished: list[tuple[CountKey, ...]] = []
        self.gate = asyncio.Event()

    async def __call__(self, keys: tuple[CountKey, ...]) -> None:
        self.batches.append(keys)
        await self.gate.wait()
        self.finished.append(keys)


async def test_a_burst_of_requests_costs_two_evaluations_and_each_waits_for_its_own() -> None:
    evaluations = GatedEvaluations()
    refresher = Refresher(evaluations)
    keys = [(f"s{i}", "events") for i in range(20)]

    first = asyncio.ensure_future(refresher.request([keys[0]]))
    await asyncio.sleep(0)  # the first evaluation starts with s0 alone
    rest = [asyncio.ensure_future(refresher.request([key])) for key in keys[1:]]
    await asyncio.sleep(0)
    assert evaluations.batches == [(keys[0],)]
    assert not first.done()
    assert not any(waiting.done() for waiting in rest)

    evaluations.gate.set()
    await first
    # s0 is answered by the first evaluation; the other 19 wait for the second, which takes them all.
    assert evaluations.finished[0] == (keys[0],)
    await asyncio.gather(*rest)
    assert evaluations.batches == [(keys[0],), tuple(sorted(keys[1:]))]
    assert len(evaluations.finished) == 2
    await refresher.aclose()


async def test_a_failed_evaluation_still_answers_the_waiting_requests() -> None:
    async def failing(keys: tuple[CountKey, ...]) -> None:
        raise RuntimeError("evaluation bug")

    refresher = Refresher(failing)
    await asyncio.wait_for(refresher.request([("s", "m")]), timeout=5)  # logged, not raised, not hung
    await refresher.aclose()


async def test_back_to_back_evaluations_are_spaced_by_the_pause_and_gather_what_arrives_in_it() -> None:
    evaluations = GatedEvaluations()
    pauses: list[float] = []
    in_pause = asyncio.Event()
    pause_over = asyncio.Event()

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        in_pause.set()
        await pause_over.wait()

    refresher = Refresher(evaluations, pause=1.5, sleep=sleep)
    first = refresher.request([("push", "a")])
    await asyncio.sleep(0)
    assert (evaluations.batches, pauses) == ([(("push", "a"),)], [])  # the first evaluation starts at once

    during_evaluation = refresher.request([("push", "b")])
    evaluations.gate.set()
    await first
    await in_pause.wait()
    during_pause = refresher.request([("push", "c")])
    assert len(evaluations.batches) == 1  # nothing evaluated while paused
    pause_over.set()
    await asyncio.gather(during_evaluation, during_pause)
    # In steps of half a second: a request came in during the first, none during the second.
    assert pauses == [0.5, 0.5]
    assert evaluations.batches == [(("push", "a"),), (("push", "b"), ("push", "c"))]
    await refresher.aclose()


async def test_the_pause_grows_with_a_long_evaluation_up_to_its_cap_and_ends_when_requests_stop() -> None:
    # Refreshes take at most a third of the time while pushes stream in: a pause of twice the last
    # evaluation's length (never below `pause`, never above `max_pause`), in half-second steps,
    # ended by a step without a request.
    took = iter([0.2, 1.1, 4.0, 0.1, 3.0])
    now = [0.0]
    gaps: list[float] = []
    streaming = [True]

    async def evaluate(keys: tuple[CountKey, ...]) -> None:
        now[0] += next(took)
        gaps.append(0.0)
        if len(gaps) < 4 or len(gaps) == 5:
            refresher.request([("push", f"more{len(gaps)}")])  # a push arrived meanwhile

    async def sleep(seconds: float) -> None:
        gaps[-1] += seconds
        if streaming[0]:
            refresher.request([("push", "streaming")])  # pushes keep coming during the pause

    refresher = Refresher(evaluate, pause=1.0, max_pause=5.0, sleep=sleep, monotonic=lambda: now[0])
    await refresher.request([("push", "a")])
    await refresher.settle()
    # 2 x 0.2 is under the floor; 2 x 4.0 is over the cap; the stream kept every pause to its length.
    assert gaps[:3] == [1.0, 2.2, 5.0]

    streaming[0] = False  # the stream stops: after a 3 s evaluation, one quiet step, not 5 s
    now[0] = 0.0
    took = iter([3.0, 0.1])
    await refresher.request([("push", "last")])  # the fifth evaluation; one more push during it
    await refresher.settle()
    assert gaps[-2:] == [0.5, 0.0]
    await refresher.aclose()
