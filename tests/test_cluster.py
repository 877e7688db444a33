"""Runs and catalogues on a real Ray cluster, started here on loopback with 2 CPUs and the tiny network."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import StyleConfig, catalogue, load_backbone, stylize
from nst_core.backbone import torchvision_layout
from tests.pictures import smooth_picture, stripes_picture

ray = pytest.importorskip("ray")

CONFIG = StyleConfig(size=48, steps=6, preview_every=2, precision="float32")


@pytest.fixture(scope="module")
def weights(tiny_net, tmp_path_factory) -> str:
    """The tiny network as a weights file, which the cluster's workers load like any VGG state dict."""
    path = tmp_path_factory.mktemp("weights") / "tiny_vgg19.pth"
    torch.save(torchvision_layout(tiny_net), path)
    return str(path)


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray cluster of 2 CPUs, listening on loopback only."""
    from nst_core.cluster import ROOT

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}  # loopback, never another address
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def cluster(ray_session, weights):
    """The studio's two painters on that cluster (they hold its two CPUs until the module ends)."""
    from studio.executors import RayCluster

    cluster = RayCluster("auto", workers=2, weights=weights, device="cpu")
    yield cluster
    cluster.close()


def _catalogue_folder(tmp_path):
    """Six pairs in a CSV, one of whose photos is not an image."""
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for seed in range(1, 7):
        Image.fromarray(smooth_picture(seed)).save(pictures / f"photo{seed}.png")
    Image.fromarray(stripes_picture(9)).save(pictures / "painting.png")
    (pictures / "photo4.png").write_bytes(b"not a picture at all")
    regions = np.full((40, 56, 4), 255, np.uint8)
    regions[:, 28:, 3] = 0  # the right half left out
    Image.fromarray(regions).save(pictures / "regions.png")
    rows = ["photo,painting,size,steps,regions"] + [
        f"pictures/photo{seed}.png,pictures/painting.png,40,3,{'pictures/regions.png' if seed == 2 else ''}"
        for seed in range(1, 7)]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "pairs.csv"


@pytest.mark.parametrize("where", ["here", "ray"])
def test_a_catalogue_writes_every_good_design_once_and_names_the_bad_row(where, ray_session, weights, tmp_path,
                                                                          capsys):
    pairs, out = _catalogue_folder(tmp_path), tmp_path / "designs"
    arguments = [str(pairs), "--out", str(out), "--weights", weights, "--sheet"] + (["--ray", "auto"] if where == "ray" else [])
    assert catalogue.main(arguments) == 1  # a row failed
    report = capsys.readouterr().out
    files = sorted(path.name for path in out.iterdir() if path.is_file())
    assert len(list((out / "sheets").iterdir())) == 5  # a design sheet each
    assert files == [f"00{row}-photo{row}-painting.png" for row in (1, 2, 3, 5, 6)]
    assert "5 written, 0 already there, 1 failed" in report and "row 5:" in report and "photo4.png" in report
    written = {path: path.stat().st_mtime_ns for path in out.iterdir() if path.is_file()}
    assert catalogue.main(arguments) == 1  # the bad row still fails
    assert "0 written, 5 already there, 1 failed" in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in out.iterdir() if path.is_file()} == written  # nothing again
    assert all(max(Image.open(path).size) == 40 for path in written)
    assert {path.name: Image.open(path).mode for path in written}["002-photo2-painting.png"] == "RGBA"  # its regions
    assert [Image.open(path).mode for path in written].count("RGB") == 4
    alpha = Image.open(out / "002-photo2-painting.png").getchannel("A")
    assert alpha.getpixel((2, 10)) == 255 and alpha.getpixel((38, 10)) == 0


def test_a_run_streams_its_frames_and_paints_what_this_process_paints(cluster, tiny_net):
    remote = list(cluster.stream(smooth_picture(1), [stripes_picture(2)], CONFIG))
    here = list(stylize(smooth_picture(1), [stripes_picture(2)], CONFIG, backbone=tiny_net, device="cpu"))
    assert [step.iteration for step in remote] == [step.iteration for step in here] == [2, 4, 6]
    assert remote[-1].done
    torch.testing.assert_close(remote[-1].image, here[-1].image, atol=1e-4, rtol=0)


def test_frames_painted_on_a_worker_make_the_film_as_frames_painted_here(cluster, tiny_net, tmp_path):
    import av

    from nst_core.film import Reel, write_film

    films = []
    for where, steps in (("ray", cluster.stream(smooth_picture(1), [stripes_picture(2)], CONFIG)),
                         ("here", stylize(smooth_picture(1), [stripes_picture(2)], CONFIG, backbone=tiny_net,
                                          device="cpu"))):
        reel = Reel(smooth_picture(1))
        for step in steps:  # as the page's handler keeps them
            reel.add(step.to_pil())
        with av.open(str(write_film(reel, tmp_path / f"{where}.mp4"))) as container:
            films.append(np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]))
    assert films[0].shape == films[1].shape and np.abs(films[0].astype(float) - films[1]).mean() < 1


def test_regions_and_a_transparent_photo_travel_to_the_workers(cluster, tiny_net, tmp_path):
    photo = np.dstack([smooth_picture(1), np.full((40, 56), 255, np.uint8)])
    photo[:, :10, 3] = 0  # the photo's own cut-out: left out too
    Image.fromarray(photo).save(tmp_path / "cut-out.png")
    regions = np.full((40, 56, 4), 255, np.uint8)
    regions[:, 40:, :3] = 0  # the right: the photo kept
    Image.fromarray(regions).save(tmp_path / "regions.png")
    remote = list(cluster.stream(tmp_path / "cut-out.png", [stripes_picture(2)], CONFIG, regions=tmp_path / "regions.png"))
    here = list(stylize(tmp_path / "cut-out.png", [stripes_picture(2)], CONFIG, backbone=tiny_net, device="cpu",
                        regions=tmp_path / "regions.png"))
    assert remote[-1].alpha is not None and remote[-1].alpha[0, 20, 2] < 0.01 and remote[-1].alpha[0, 20, 30] > 0.99
    torch.testing.assert_close(remote[-1].alpha, here[-1].alpha)
    torch.testing.assert_close(remote[-1].image, here[-1].image, atol=1e-4, rtol=0)


def test_stop_ends_the_remote_run_within_seconds(cluster):
    steps = cluster.stream(smooth_picture(1), [stripes_picture(2)], CONFIG.replace(steps=5000, preview_every=1))
    next(steps)
    ((run, actor),) = cluster.running.items()
    stopped = time.monotonic()
    steps.close()
    assert ray.get(actor.finished.remote(run, 10.0))  # returns once the run has ended there
    assert time.monotonic() - stopped < 2.0
    assert not cluster.running


def test_two_people_paint_at_once_on_two_workers(cluster):
    runs = [cluster.stream(smooth_picture(seed), [stripes_picture(seed + 1)], CONFIG.replace(steps=8))
            for seed in (1, 3)]
    firsts = [next(run) for run in runs]  # both have started
    assert len(set(cluster.running.values())) == 2  # on different actors
    pids = set(ray.get([actor.pid.remote() for actor in cluster.running.values()]))
    assert len(pids) == 2  # in different processes
    lasts = [list(run)[-1] for run in runs]
    assert all(first.iteration == 2 for first in firsts) and all(last.done for last in lasts)
    assert not torch.equal(lasts[0].image, lasts[1].image)


def test_a_killed_worker_costs_a_restart_not_the_picture(cluster):
    config = CONFIG.replace(steps=30, preview_every=1)
    steps = cluster.stream(smooth_picture(1), [stripes_picture(2)], config)
    first = next(steps)
    (actor,) = cluster.running.values()
    os.kill(ray.get(actor.pid.remote()), signal.SIGKILL)
    rest = list(steps)
    assert first.iteration == 1 and rest[-1].done and rest[-1].iteration == 30
    assert any("starts again on another worker" in step.note for step in rest)
    alone = list(stylize(smooth_picture(1), [stripes_picture(2)], config, backbone=load_backbone(cluster.weights),
                         device="cpu"))[-1]
    # Nothing lost: the whole picture, as this process paints it (up to the rounding of another thread count).
    assert rest[-1].losses.total == pytest.approx(alone.losses.total, rel=1e-2)
    assert (rest[-1].image - alone.image).abs().mean() < 5e-2  # L-BFGS amplifies the rounding over 30 steps
    deadline = time.monotonic() + 60
    while len(set(cluster.pids())) < 2:  # Ray brings the dead actor back
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_the_in_process_default_never_imports_ray():
    import subprocess
    import sys

    from nst_core.cluster import ROOT

    code = "import sys, app, nst_core.catalogue, studio.executors; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "NST_OFFLINE": "1"})
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr[-2000:]


def test_in_workshop_mode_runs_that_start_together_share_a_workers_batch(cluster, weights):
    from studio.executors import RayCluster

    cluster.close()  # its painters hold both CPUs
    room = RayCluster("auto", workers=1, weights=weights, device="cpu", workshop=3)
    try:
        runs = [room.stream(smooth_picture(seed), [stripes_picture(seed + 1)], CONFIG) for seed in (1, 3, 5)]
        results = [[] for _ in runs]
        threads = [threading.Thread(target=lambda run=run, into=into: into.extend(run)) for run, into in
                   zip(runs, results)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all([step.iteration for step in steps] == [2, 4, 6] for steps in results)
        batches = ray.get(room.actors[0].batches.remote())
        assert batches and max(batches) >= 2  # at least two of them painted as one batch
    finally:
        room.close()
