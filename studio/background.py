"""Run a stream of steps in a worker thread so a slow consumer gets the newest frame and never stalls the run."""

from __future__ import annotations

import contextvars
import threading
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


def latest(steps: Iterator[T], heartbeat: float | None = None) -> Iterator[T | None]:
    """Yield the newest item of `steps` each time the consumer asks, skipping those it was too slow for.

    `steps` runs in a worker thread, in the consumer's context (`in_context`). The last item is always
    delivered, an exception from `steps` is re-raised here, and closing this generator stops the worker at
    its next item and closes `steps`.
    With `heartbeat`, None comes whenever that many seconds pass without a new item, so a consumer
    that can only be stopped between items (a web request) is never stuck waiting for a slow one.
    """
    lock = threading.Condition()
    state = {"item": None, "fresh": False, "finished": False, "error": None}
    stop = threading.Event()

    def work() -> None:
        try:
            for item in steps:
                with lock:
                    state["item"], state["fresh"] = item, True
                    lock.notify()
                if stop.is_set():
                    break
        except BaseException as error:  # handed to the consumer's thread
            state["error"] = error
        finally:
            close = getattr(steps, "close", None)
            if close is not None:
                close()
            with lock:
                state["finished"] = True
                lock.notify()

    worker = in_context(work, "nst-run")
    worker.start()
    try:
        while True:
            with lock:
                while not state["fresh"] and not state["finished"]:
                    if not lock.wait(heartbeat) and heartbeat is not None:
                        break
                item, fresh = state["item"], state["fresh"]
                state["fresh"] = False
                finished = state["finished"]
            if fresh:
                yield item
            elif finished:
                break
            else:  # the heartbeat: nothing new yet
                yield None
        if state["error"] is not None:
            raise state["error"]
    finally:
        stop.set()
        worker.join()


def in_context(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread that runs `target` in a copy of the caller's context variables. A plain thread starts
    with an empty context; this one sees what the caller's request set, the visitor's Gradio request among
    it, which a ZeroGPU call started from the thread is scheduled with (studio/zerogpu.py)."""
    return threading.Thread(target=contextvars.copy_context().run, args=(target,), name=name, daemon=True)
