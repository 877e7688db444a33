"""Workshop mode: a batched run paints what the separate runs paint, and jobs reach their own people."""

import threading
import time

import numpy as np
import pytest
import torch

from nst_core import StyleConfig, stylize
from nst_core.config import coarse_start
from nst_core.stylize import stylize_batch
from studio.workshop import Workshop
from tests.pictures import smooth_picture, stripes_picture

CPU = torch.device("cpu")


def _pairs():
    """Three different photo/painting pairs of one shape."""
    return [(smooth_picture(1), stripes_picture(2)), (smooth_picture(3), smooth_picture(4)),
            (smooth_picture(5), stripes_picture(6))]


def _alone(pair, config, net):
    return list(stylize(*pair, config, backbone=net, device=CPU))


def _batched(pairs, config, net):
    return list(stylize_batch([c for c, _ in pairs], [s for _, s in pairs], config, backbone=net, device=CPU))


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.05)])
def test_a_batched_iteration_is_each_separate_iteration(tiny_net, optimizer, lr):
    config = StyleConfig(size=48, steps=1, optimizer=optimizer, lr=lr)
    pairs = _pairs()
    batched = _batched(pairs, config, tiny_net)
    for index, pair in enumerate(pairs):
        for together, single in zip((reports[index] for reports in batched), _alone(pair, config, tiny_net)):
            assert together.iteration == single.iteration
            assert torch.allclose(together.image, single.image, atol=1e-5)
            assert together.losses.total == pytest.approx(single.losses.total, rel=1e-5)


@pytest.mark.parametrize("optimizer, lr, sketch", [("lbfgs", 1.0, False), ("adam", 0.05, False), ("lbfgs", 1.0, True)])
def test_a_batched_run_paints_each_persons_own_picture(tiny_net, optimizer, lr, sketch):
    # Over many iterations a batched convolution's other summation order grows from 1e-7 into visible
    # differences at a few pixels (both optimisers amplify rounding), so the runs are compared by
    # their losses and mean pixel difference, and against the other people's pictures.
    config = StyleConfig(size=48, steps=8, preview_every=4, optimizer=optimizer, lr=lr, precision="float32")
    if sketch:  # the quick first look: a half-size sketch first, for the batch as for one
        config = coarse_start(config.replace(size=96, steps=6, preview_every=2), previews=1)
    pairs = _pairs()
    batched = _batched(pairs, config, tiny_net)
    expected = [2, 4, 6, 8] if sketch else [4, 8]
    assert [[step.iteration for step in reports] for reports in batched] == [[i] * 3 for i in expected]
    assert all(step.image.shape == batched[-1][0].image.shape for reports in batched for step in reports)
    alone = [_alone(pair, config, tiny_net)[-1] for pair in pairs]
    for index, result in enumerate(batched[-1]):
        assert result.losses.total == pytest.approx(alone[index].losses.total, rel=1e-2)
        distances = [float((result.image - other.image).abs().mean()) for other in alone]
        assert distances[index] < 2e-2  # 0.008-0.016 measured: L-BFGS at lr 1 amplifies the rounding
        assert all(distance > 10 * distances[index] for other, distance in enumerate(distances) if other != index)


def test_photos_of_different_shapes_do_not_batch(tiny_net):
    wide = np.zeros((20, 60, 3), np.uint8)  # 48x16 at size 48, the other 48x34
    with pytest.raises(ValueError, match="one shape"):
        next(stylize_batch([smooth_picture(1), wide], [stripes_picture(2)] * 2, StyleConfig(size=48),
                           backbone=tiny_net, device=CPU))


def test_workshop_batches_jobs_that_arrive_together_and_hands_each_its_own(tiny_net):
    config = StyleConfig(size=48, steps=6, preview_every=3, precision="float32")
    workshop = Workshop(tiny_net, CPU, max_batch=8, gather=1.0)
    pairs = _pairs()
    results = [None] * len(pairs)

    def person(index):
        results[index] = list(workshop.stylize(*pairs[index], config))

    people = [threading.Thread(target=person, args=(index,)) for index in range(len(pairs))]
    for thread in people:
        thread.start()
    for thread in people:
        thread.join(timeout=120)
    assert workshop.batches == [3]
    for pair, steps in zip(pairs, results):
        assert [step.iteration for step in steps] == [3, 6]
        assert (steps[-1].image - _alone(pair, config, tiny_net)[-1].image).abs().mean() < 1e-2


def test_the_oldest_job_goes_first_and_other_settings_wait_their_turn(tiny_net):
    workshop = Workshop(tiny_net, CPU, gather=0.5)
    small, other = StyleConfig(size=48, steps=3, preview_every=3), StyleConfig(size=64, steps=3, preview_every=3)
    finished = []

    def person(config, name):
        list(workshop.stylize(smooth_picture(1), stripes_picture(2), config))
        finished.append(name)

    people = [threading.Thread(target=person, args=args) for args in ((small, "a"), (other, "b"), (small, "c"))]
    for thread in people:
        thread.start()
        time.sleep(0.1)  # in this order, all within the gathering half second
    for thread in people:
        thread.join(timeout=120)
    assert sorted(finished) == ["a", "b", "c"]
    assert workshop.batches == [2, 1]  # a and c shared the first batch, b came next
    assert finished[-1] == "b"


def test_a_bad_painting_fails_its_batch_with_a_message_and_the_workshop_goes_on(tiny_net, tmp_path):
    workshop = Workshop(tiny_net, CPU, gather=0.0)
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")
    config = StyleConfig(size=48, steps=3, preview_every=3)
    with pytest.raises(ValueError, match="broken.png"):
        list(workshop.stylize(smooth_picture(1), broken, config))
    assert len(list(workshop.stylize(smooth_picture(1), stripes_picture(2), config))) == 1


def test_leaving_a_batch_does_not_stop_the_others(tiny_net):
    config = StyleConfig(size=48, steps=40, preview_every=2)
    workshop = Workshop(tiny_net, CPU, gather=1.0)
    pairs = _pairs()[:2]
    kept = []

    def leaver():
        run = workshop.stylize(*pairs[0], config)
        next(run)
        run.close()

    def stayer():
        kept.extend(workshop.stylize(*pairs[1], config))

    people = [threading.Thread(target=leaver), threading.Thread(target=stayer)]
    for thread in people:
        thread.start()
    for thread in people:
        thread.join(timeout=120)
    assert kept[-1].iteration == 40 and kept[-1].done
