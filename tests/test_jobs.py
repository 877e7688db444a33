"""Print jobs: they run without a watcher, in order, can be stopped, and a restart says which were lost."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch

from nst_core import Losses, Step
from studio.jobs import PrintJobs


def painting(seconds: float = 0.0, fail: bool = False):
    def work(job):
        for iteration in (1, 2):
            time.sleep(seconds)
            if fail:
                raise ValueError("the painting could not be read")
            yield Step(iteration, 2, 0.0, Losses(0, 0, 0, 0), torch.zeros(3, 2, 2)), 2.0 - iteration
        (job.folder / "design.png").write_bytes(b"png")
        job.files = {"design": "design.png"}
    return work


def wait_for(job, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not job.ended:
        assert time.monotonic() < deadline, job.state
        time.sleep(0.01)
    return job


def test_a_job_paints_without_anyone_watching_and_is_found_by_its_id(tmp_path):
    jobs = PrintJobs(tmp_path)
    job = wait_for(jobs.start("sticker 1200×1200", 5.0, painting()))
    assert job.state == "done" and job.path("design").read_bytes() == b"png"
    again = PrintJobs(tmp_path).get(job.id)  # another process, later: from the folder's record
    assert again.state == "done" and again.path("design") == job.path("design")
    assert jobs.get("../../etc") is None and jobs.get("nosuchjob") is None


def test_jobs_run_one_at_a_time_in_order_and_a_failure_is_told(tmp_path):
    jobs = PrintJobs(tmp_path)
    first, second = jobs.start("a", 1.0, painting(0.05, fail=True)), jobs.start("b", 1.0, painting())
    assert second.state == "waiting"
    wait_for(second)
    assert first.state == "failed" and "could not be read" in first.message and second.state == "done"


def test_a_stopped_job_ends_and_a_waiting_one_never_starts(tmp_path):
    jobs = PrintJobs(tmp_path)
    running, waiting = jobs.start("a", 1.0, painting(0.2)), jobs.start("b", 1.0, painting())
    jobs.cancel(waiting.id)
    jobs.cancel(running.id)
    assert wait_for(running).state == "stopped" and wait_for(waiting).state == "stopped"
    assert "design" not in running.files


def test_a_restart_marks_unfinished_prints_lost_and_old_ones_are_pruned(tmp_path):
    (tmp_path / "abc123").mkdir()
    (tmp_path / "abc123" / "job.json").write_text(json.dumps(
        {"id": "abc123", "title": "tee 4500×5400", "state": "painting", "message": "", "files": {},
         "estimate": 3600, "saved": time.time()}))
    jobs = PrintJobs(tmp_path, lifetime=60)
    lost = jobs.get("abc123")
    assert lost.state == "lost" and "restarted" in lost.message
    record = tmp_path / "abc123" / "job.json"
    saved = json.loads(record.read_text())
    record.write_text(json.dumps({**saved, "saved": time.time() - 120}))
    os.utime(record)
    jobs.prune()
    assert not (tmp_path / "abc123").exists() and PrintJobs(tmp_path).get("abc123") is None


def test_a_job_keeps_its_uploads_and_settings_and_a_restart_keeps_them_too(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in ("cat.png", "starry.jpg", "wave.jpg"):
        (uploads / name).write_bytes(name.encode())
    jobs = PrintJobs(tmp_path / "prints")
    job = jobs.start("sticker 1200×1200", 5.0, painting(0.5), settings={"print_name": "sticker", "fit": "fill"},
                     uploads={"content": str(uploads / "cat.png"),
                              "styles": [str(uploads / "starry.jpg"), str(uploads / "wave.jpg")],
                              "regions": None})
    assert [path.read_bytes() for path in job.uploaded("styles")] == [b"starry.jpg", b"wave.jpg"]
    assert job.uploaded("content")[0].name == "cat.png"  # its own name: the print's file is named after it
    assert job.uploaded("regions") == [] and job.uploaded("approved") == []
    time.sleep(0.1)  # painting: a restart now loses it, but not what it was asked for
    restarted = PrintJobs(tmp_path / "prints").get(job.id)
    assert restarted.state == "lost" and restarted.settings == {"print_name": "sticker", "fit": "fill"}
    assert restarted.uploaded("content")[0].read_bytes() == b"cat.png" and len(restarted.uploaded("styles")) == 2


def test_a_finished_print_says_how_long_it_took_beside_its_estimate(tmp_path):
    from PIL import Image

    from studio.costs import in_words
    from studio.printing import _progress

    def work(job):
        yield from painting(seconds=0.2)(job)
        Image.new("RGB", (8, 8)).save(job.folder / "design.png")

    jobs = PrintJobs(tmp_path)
    job = wait_for(jobs.start("sticker 1200×1200", 95.0, work))
    assert 0.35 < job.took < 5
    again = PrintJobs(tmp_path).get(job.id)  # after a restart too
    assert again.took == job.took
    line = next(_progress(again))[1]
    assert f"done** in {in_words(job.took, about=False)} (estimated about 1 min 40 s)" in line, line


def test_the_prints_that_ran_correct_the_next_prints_estimate_across_a_restart(tmp_path, monkeypatch):
    from nst_core import StyleConfig
    from studio import printing
    from studio.costs import CostModel
    from studio.server import engine

    monkeypatch.setattr(engine().costs, "overhead", 0.0)  # a model the test knows: 1 s per megapixel-iteration
    monkeypatch.setattr(engine().costs, "per_megapixel", 1.0)
    config = StyleConfig(size=64, steps=2, scales=(), scale_steps=())
    monkeypatch.setattr(printing, "PRINTS", PrintJobs(tmp_path))
    model, scales = printing.print_seconds(config, (64, 64))
    assert model == CostModel(0.0, 1.0).run([printing.Scale(*scale) for scale in scales])  # no print ran yet

    def ran(took: float, slower: float = 1.0):  # a print of these scales that took `took` seconds
        job = wait_for(printing.PRINTS.start("sticker", model, painting(), scales=scales, slower=slower))
        job.took = took
        job.save()

    ran(2 * model)
    ran(3 * model, slower=1.5)  # it went beside live runs, expected 1.5x slower: 2x the model alone
    assert printing.print_seconds(config, (64, 64))[0] == pytest.approx(2 * model)
    monkeypatch.setattr(printing, "PRINTS", PrintJobs(tmp_path))  # the server restarted
    assert printing.print_seconds(config, (64, 64))[0] == pytest.approx(2 * model)
    ran(100 * model)  # a print stalled by something else counts, within reason
    assert printing.print_seconds(config, (64, 64))[0] == pytest.approx(2 * model)  # the median of three
