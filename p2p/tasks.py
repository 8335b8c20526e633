"""Background tasks that never fail in silence.

A loop that must keep running (the block planner, the tx trickle, a peer keeper, the
wallet's rebroadcast) runs under ``supervised``: if it raises, the crash is logged with its
traceback and the loop starts again after a pause, instead of the task dying unseen. A
one-shot task gets ``log_crash`` as its done callback. Stopping goes through
``cancel_and_wait``, which waits for every task and logs whatever a task raised other than
its cancellation (or an exception the caller names as the normal way to end), where a
``suppress(Exception)`` would have hidden it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

RESTART_DELAY = 1.0


async def supervised(
    name: str,
    run: Callable[[], Awaitable[None]],
    log: logging.Logger,
    restart_delay: float = RESTART_DELAY,
) -> None:
    """Run ``run()`` until it returns or the task is cancelled; after a crash, log it and
    run it again ``restart_delay`` seconds later."""
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting it in %g s", name, restart_delay)
        await asyncio.sleep(restart_delay)


def start_supervised(
    name: str,
    run: Callable[[], Awaitable[None]],
    log: logging.Logger,
    restart_delay: float = RESTART_DELAY,
) -> asyncio.Task[None]:
    return asyncio.create_task(supervised(name, run, log, restart_delay), name=name)


def log_crash(log: logging.Logger) -> Callable[[asyncio.Future[Any]], None]:
    """A done callback that logs the task's exception, if it ended with one."""

    def callback(task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            name = task.get_name() if isinstance(task, asyncio.Task) else "task"
            log.error("%s crashed", name, exc_info=exc)

    return callback


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]],
    log: logging.Logger,
    expected: tuple[type[BaseException], ...] = (),
) -> None:
    """Cancel ``tasks`` and wait for all of them; log any exception a task ended with
    but its cancellation and the ``expected`` kinds. Raises CancelledError only if the
    caller itself is cancelled."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(
            result, (asyncio.CancelledError, *expected)
        ):
            name = task.get_name() if isinstance(task, asyncio.Task) else "task"
            log.error("%s failed while stopping", name, exc_info=result)
