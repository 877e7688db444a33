"""ZeroGPU: the engine's work inside a Hugging Face Space's GPU call, and what crosses the call's edge.

On a ZeroGPU Space, `spaces.GPU` runs a function in a forked worker that holds a GPU for the call. Its
wrapper (spaces 0.51.3, `spaces/zero/wrappers.py`) does three things the studio must meet:
- it schedules the call with the visitor's Gradio request, read from Gradio's context variable when the
  call starts, so the GPU time is counted against that visitor's quota: a thread of ours that starts
  the call must run in the visitor's context (`studio.background.in_context`), or the call is charged
  to the Space's own limit instead;
- it pickles what the call yields, so a step carries CPU tensors only (the engine's Steps do);
- it re-raises a `gr.Error` from the call whole, but any other exception as the bare name of its class
  ("ZeroGPU worker error: DivergenceError"). So the errors a visitor can act on cross as `Carried`, a
  gr.Error that keeps the error's kind, and are raised again as themselves on the server's side, where
  the page's handlers turn them into plain words as they do off a Space.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import gradio as gr
import torch

from nst_core import DivergenceError, ImageError
from nst_core.memory import DoesNotFitError

# The engine's errors that say what to change (a picture, a setting, the size), by the name that crosses.
PLAIN = {kind.__name__: kind for kind in (ImageError, DivergenceError, DoesNotFitError, ValueError)}
OUT_OF_MEMORY = ("the GPU ran out of memory painting this picture (other pictures share it): choose a smaller "
                 "size, or try again in a minute")


class Carried(gr.Error):
    """An error of the engine's on its way out of the GPU call: a gr.Error, which the wrapper lets through,
    that remembers its kind. Pickles as gr.Error does: (message,) and the attributes."""

    def __init__(self, message: str, kind: str = "ValueError"):
        super().__init__(message, print_exception=False)  # expected: the visitor is told, the log need not be
        self.kind = kind


def carried(error: BaseException) -> Carried | None:
    """`error` as it must leave the GPU call, or None for one that is not the visitor's to act on."""
    if isinstance(error, torch.OutOfMemoryError):
        return Carried(OUT_OF_MEMORY, DoesNotFitError.__name__)
    kind = next((cls.__name__ for cls in type(error).__mro__ if cls.__name__ in PLAIN), None)
    return None if kind is None else Carried(str(error), kind)


def restored(error: Carried) -> Exception:
    """A carried error as its own kind again, with its message."""
    return PLAIN.get(error.kind, ValueError)(error.message)


def on_gpu(steps: Callable[..., Iterator], gpu: Callable | None, duration: Callable) -> Callable[..., Iterator]:
    """The generator function `steps` run inside `gpu` (spaces.GPU), asking for `duration(*args)` seconds, with
    the engine's errors carried across; `steps` itself when there is no `gpu` (off a Space)."""
    if gpu is None:
        return steps

    @functools.wraps(steps)
    def inside(*args, **kwargs):  # in the GPU worker
        try:
            yield from steps(*args, **kwargs)
        except Exception as error:
            carrier = carried(error)
            if carrier is None:
                raise
            raise carrier from None

    called = gpu(duration=duration)(inside)

    @functools.wraps(steps)
    def outside(*args, **kwargs):  # on the server, in the visitor's request
        try:
            yield from called(*args, **kwargs)
        except Carried as error:
            raise restored(error) from None

    return outside

