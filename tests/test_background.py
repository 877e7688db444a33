"""The latest-frame runner: a slow consumer skips frames, never stalls the producer, and can stop it."""

import threading
import time

import pytest

from studio.background import latest


def counting(n, delay, log):
    try:
        for i in range(1, n + 1):
            time.sleep(delay)
            log.append(i)
            yield i
    finally:
        log.append("closed")


def test_a_fast_consumer_sees_every_item_in_order():
    log = []
    assert list(latest(counting(5, 0.01, log))) == [1, 2, 3, 4, 5]
    assert log[-1] == "closed"


def test_a_slow_consumer_gets_the_newest_item_and_always_the_last():
    log = []
    seen = []
    started = time.perf_counter()
    for item in latest(counting(20, 0.01, log)):
        seen.append(item)
        time.sleep(0.06)  # a slow browser
    assert seen[-1] == 20
    assert len(seen) < 20  # stale frames were dropped
    assert seen == sorted(seen)
    assert time.perf_counter() - started < 20 * 0.06  # the producer ran ahead at its own pace


def test_closing_stops_the_producer_within_one_item():
    log = []
    stream = latest(counting(1000, 0.02, log))
    assert next(stream) >= 1
    stream.close()
    produced = [x for x in log if x != "closed"]
    assert log[-1] == "closed" and len(produced) < 10
    assert not any(t.name == "nst-run" and t.is_alive() for t in threading.enumerate())


def test_an_error_in_the_producer_reaches_the_consumer_after_the_items_before_it():
    def failing():
        yield 1
        raise ValueError("diverged")

    seen = []
    with pytest.raises(ValueError, match="diverged"):
        for item in latest(failing()):
            seen.append(item)
    assert seen == [1]
