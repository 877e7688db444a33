"""ZeroGPU, with a stand-in for `spaces` that does what its GPU wrapper does (tests/standin/spaces): the
visitor's request reaches the GPU call from the studio's worker threads, and the engine's errors cross the
call as themselves, so the visitor reads plain words, not "ZeroGPU worker error: ImageError"."""

from __future__ import annotations

import contextvars
import importlib
import math
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from nst_core import DivergenceError, ImageError, StyleConfig
from nst_core.memory import DoesNotFitError
from nst_core.stylize import stylize_batch
from studio.background import latest
from studio.jobs import PrintJobs
from studio.workshop import Workshop
from studio.zerogpu import OUT_OF_MEMORY, Carried, carried, on_gpu, restored
from tests.pictures import smooth_picture, stripes_picture
from tests.standin import spaces as standin

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
SMALL = {"size": 64, "steps": 10, "preview_every": 5}
VISITOR = contextvars.ContextVar("visitor", default=None)  # stands for Gradio's request variable


@pytest.mark.parametrize("error", [ImageError("the photo is 3000x20"), DivergenceError("lower the learning rate"),
                                   DoesNotFitError("needs 9 GB"), ValueError("style_blend has 3 weights")])
def test_the_engines_errors_cross_pickled_as_themselves(error):
    carrier = carried(error)
    assert isinstance(carrier, Carried) and not carrier.print_exception
    again = restored(pickle.loads(pickle.dumps(carrier)))  # what the wrapper's queue does to it
    assert type(again) is type(error) and str(again) == str(error)


def test_a_gpu_out_of_memory_becomes_advice_and_other_errors_stay_the_wrappers():
    again = restored(carried(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")))
    assert isinstance(again, DoesNotFitError) and str(again) == OUT_OF_MEMORY
    assert carried(KeyError("a bug")) is None  # not the visitor's to act on: the wrapper's own message


def test_a_run_in_the_background_sees_its_callers_context():
    def steps():
        yield VISITOR.get()

    VISITOR.set("ada")
    assert list(latest(steps())) == ["ada"]


def test_a_print_job_runs_in_the_context_it_was_started_in(tmp_path):
    seen = []

    def work(job):
        seen.append(VISITOR.get())
        yield from ()

    jobs = PrintJobs(tmp_path)
    context = contextvars.copy_context()
    context.run(VISITOR.set, "grace")
    job = context.run(jobs.start, "sticker", 1.0, work)
    VISITOR.set("somebody else")  # the thread that started it moves on to another request
    deadline = time.monotonic() + 30
    while not job.ended:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert seen == ["grace"] and job.state == "done"


def test_a_workshop_batch_paints_inside_one_gpu_call_and_its_errors_reach_everyone(tiny_net):
    def batch(contents, styles, config):
        yield from stylize_batch(contents, styles, config, backbone=tiny_net, device="cpu")

    workshop = Workshop(tiny_net, "cpu", gather=1.0, run=on_gpu(batch, standin.GPU, lambda *args: 60))
    config = StyleConfig(size=48, steps=4, preview_every=2, precision="float32")
    standin.CALLS.clear()
    results: dict = {}

    def person(name, photo, painting):
        try:
            results[name] = [step.iteration for step in workshop.stylize(photo, painting, config)]
        except Exception as error:
            results[name] = error

    tiny = np.zeros((4, 4, 3), np.uint8)  # a painting of 4x4 pixels: nothing to see
    for people in ([("ada", smooth_picture(1), stripes_picture(2)), ("grace", smooth_picture(3), smooth_picture(4))],
                   [("alan", smooth_picture(5), tiny), ("edsger", smooth_picture(6), tiny)]):
        threads = [threading.Thread(target=person, args=args) for args in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert results["ada"] == results["grace"] == [2, 4]
    assert all(isinstance(results[name], ImageError) and "too small to paint" in str(results[name])
               for name in ("alan", "edsger"))
    assert [(call.function, call.session) for call in standin.CALLS] == [("batch", None)] * 2  # a call a batch


def test_the_studio_runs_its_gpu_work_inside_spaces_gpu_when_it_is_there():
    """app.py with `spaces` importable, as on a Space: its runs and workshop batches go through spaces.GPU."""
    probe = ("import app, spaces; from studio import room; "
             "print(sorted(spaces.DECORATED), room.run_steps.__wrapped__.__module__)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "standin"), str(ROOT)]),
           "NST_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["['batch_steps',", "'run_steps']", "studio.room"]


@pytest.fixture
def zerogpu(app_server, monkeypatch):
    """The launched studio with its runs inside the stand-in's GPU call, as room.py wraps them on a Space."""
    from studio import room

    monkeypatch.setattr(room, "run_steps", on_gpu(room.run_steps, standin.GPU, room.gpu_seconds))
    standin.CALLS.clear()
    return Client(app_server, verbose=False)


def _paint(client: Client, content=ASSETS / "chelsea.png", **settings):
    return client.submit(content=handle_file(str(content)), style=handle_file(str(ASSETS / "starry_night.jpg")),
                         **{**SMALL, **settings}, api_name="/paint")


def test_the_visitors_request_reaches_every_gpu_call(zerogpu):
    for _ in range(2):
        *_, (picture, line, *_) = list(_paint(zerogpu))
        assert "done" in line
    calls = [call for call in standin.CALLS if call.function == "run_steps"]
    assert [call.session for call in calls] == [zerogpu.session_hash] * 2  # charged to this visitor
    assert all(0 < call.seconds <= 300 for call in calls)


def test_a_picture_too_thin_to_paint_is_said_in_plain_words(zerogpu, tmp_path):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (3000, 20), "teal").save(strip)
    with pytest.raises(Exception) as refused:
        _paint(zerogpu, content=strip).result()
    assert "crop it or choose a larger size" in str(refused.value) and "ZeroGPU" not in str(refused.value)
    assert standin.CALLS, "the picture was refused before the GPU call: this test no longer crosses it"


def test_a_divergence_is_said_in_plain_words(zerogpu, monkeypatch):
    stylize_module = importlib.import_module("nst_core.stylize")  # the module; the package exports the function
    real = stylize_module.objective_terms
    monkeypatch.setattr(stylize_module, "objective_terms", lambda *args: {
        name: value * math.nan for name, value in real(*args).items()})
    with pytest.raises(Exception, match="lower the learning rate") as refused:
        _paint(zerogpu, steps=30).result()
    assert "DivergenceError" not in str(refused.value)


def test_a_print_too_large_for_the_cards_memory_is_said_in_plain_words(zerogpu, monkeypatch):
    from nst_core.memory import Claims

    card = Claims(available=lambda device: 2**20)  # a card with 1 MB free
    monkeypatch.setattr(importlib.import_module("nst_core.stylize"), "CLAIMS", card)
    job = zerogpu.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                         style=handle_file(str(ASSETS / "the_scream.jpg")), steps=10, print_name="custom",
                         custom_size="96x80", final_steps=4, api_name="/print")
    *_, (_, status, *_) = list(job)
    assert "could not be made" in status and "choose a smaller size" in status and "DoesNotFitError" not in status
    assert [call.session for call in standin.CALLS] == [zerogpu.session_hash]  # the print's call is the visitor's
