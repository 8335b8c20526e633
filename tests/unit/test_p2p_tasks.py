"""p2p.tasks: a crashed loop is logged with its traceback and started again; stopping
waits for every task and logs what a task raised besides its cancellation."""

from __future__ import annotations

import asyncio
import logging

import pytest

from p2p.tasks import cancel_and_wait, log_crash, start_supervised

log = logging.getLogger("obol.test.tasks")


async def test_a_crashed_loop_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs = []

    async def loop() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"crash {len(runs)}")

    with caplog.at_level(logging.ERROR, logger="obol.test.tasks"):
        await asyncio.wait_for(start_supervised("keeper", loop, log, restart_delay=0), 5)
    assert runs == [0, 1, 2]  # ran until it returned of itself
    crashes = [r for r in caplog.records if "keeper crashed" in r.getMessage()]
    assert len(crashes) == 2
    assert all(r.exc_info and r.exc_info[0] is RuntimeError for r in crashes)


async def test_cancelling_a_supervised_loop_stops_it() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = start_supervised("forever", forever, log)
    await started.wait()
    await cancel_and_wait([task], log)
    assert task.cancelled()


async def test_cancel_and_wait_logs_what_is_not_a_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Closed(Exception):
        pass

    async def raises(exc: BaseException) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise exc

    tasks = [
        asyncio.create_task(raises(ValueError("broken")), name="bad"),
        asyncio.create_task(raises(Closed()), name="closed"),
        asyncio.create_task(asyncio.Event().wait(), name="quiet"),
    ]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="obol.test.tasks"):
        await cancel_and_wait(tasks, log, expected=(Closed,))
    assert [r.getMessage() for r in caplog.records] == ["bad failed while stopping"]
    assert caplog.records[0].exc_info[0] is ValueError
    assert all(t.done() for t in tasks)


async def test_log_crash_reports_a_one_shot_task(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise KeyError("lost")

    task = asyncio.create_task(fails(), name="dial")
    task.add_done_callback(log_crash(log))
    with caplog.at_level(logging.ERROR, logger="obol.test.tasks"):
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records] == ["dial crashed"]
