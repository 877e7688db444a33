"""A stand-in for the `spaces` package on a ZeroGPU Space (0.51.3), for tests off a Space: `spaces.GPU` does here
what its wrapper does there (spaces/zero/wrappers.py), short of the GPU.

- It reads the visitor's Gradio request from Gradio's context variable when the call starts (for a
  generator, at its first step), and records it with the duration asked for: `CALLS`.
- The call runs in a worker of its own that sees none of the caller's context (a forked process there, a
  fresh thread here); its arguments and everything it yields or raises cross pickled.
- A gr.Error raised in the call is raised again whole; any other exception as
  gr.Error("<its class name>") under the title "ZeroGPU worker error", as the package does.

Put its folder (tests/standin) first on PYTHONPATH and `import spaces` finds it, as app.py imports the real one.
"""

from __future__ import annotations

import functools
import inspect
import pickle
import queue
import threading
from dataclasses import dataclass

import gradio as gr
from gradio.context import LocalContext


@dataclass(frozen=True)
class Call:
    """One GPU call: the function, the session of the request it was scheduled with (None: no request), and
    the seconds asked for."""

    function: str
    session: str | None
    seconds: float | None


CALLS: list[Call] = []  # every call, in order
DECORATED: list[str] = []  # the functions wrapped with GPU, by name


def GPU(task=None, *, duration=None, size=None):
    """As spaces.GPU: a decorator, with or without its arguments."""
    if task is None:
        return functools.partial(GPU, duration=duration, size=size)
    if not inspect.isgeneratorfunction(task):
        raise TypeError("this stand-in wraps generator functions, the only kind the studio runs on the GPU")
    DECORATED.append(task.__name__)
    return functools.wraps(task)(_generator(task, duration))


def _scheduled(task, duration, args, kwargs) -> None:
    request = LocalContext.request.get(None)  # what the wrapper schedules the call with
    seconds = duration(*args, **kwargs) if callable(duration) else duration
    CALLS.append(Call(task.__name__, getattr(request, "session_hash", None), seconds))


def _crossing(error: Exception) -> gr.Error:
    """What the server side raises for an exception of the call, after it crossed pickled."""
    if isinstance(error, gr.Error):
        return pickle.loads(pickle.dumps(error))
    return gr.Error(type(error).__name__, title="ZeroGPU worker error", print_exception=False)


def _generator(task, duration):
    def handler(*args, **kwargs):
        _scheduled(task, duration, args, kwargs)
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        results: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def worker():  # a plain thread: an empty context, as a fresh worker process has
            steps = task(*args, **kwargs)
            try:
                for value in steps:
                    if stop.is_set():
                        break
                    results.put(("value", pickle.dumps(value)))
            except Exception as error:
                results.put(("error", _crossing(error)))
            finally:
                steps.close()
                results.put(("end", None))

        threading.Thread(target=worker, name="zerogpu-standin", daemon=True).start()
        try:
            while True:
                kind, payload = results.get()
                if kind == "value":
                    yield pickle.loads(payload)
                elif kind == "error":
                    raise payload
                else:
                    return
        finally:
            stop.set()

    return handler

