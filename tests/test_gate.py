"""The fair line: a few runs at once, first come first served, one place per person, a clear 'full'."""

import threading
import time

import pytest

from studio.gate import Gate, GateError


def test_runs_start_in_the_order_people_joined():
    gate = Gate(slots=1, line=10)
    tickets = [gate.join(person) for person in "abcd"]
    started = []
    for _ in tickets:
        running = next(ticket for ticket in tickets if gate.wait(ticket, 0) and ticket not in started)
        started.append(running)
        gate.leave(running)
    assert [ticket.person for ticket in started] == list("abcd")


def test_one_place_per_person_so_nobody_pushes_the_room_back():
    gate = Gate(slots=1, line=10)
    first = gate.join("eager")
    with pytest.raises(GateError, match="already have a picture"):
        gate.join("eager")
    other = gate.join("patient")
    gate.leave(first)
    assert gate.wait(other, 0)  # the patient person is next, not the eager one's second job
    assert gate.join("eager")  # after their run, the eager person may join again, at the back


def test_a_full_line_says_so_and_a_place_frees_up_when_someone_leaves():
    gate = Gate(slots=1, line=2)
    tickets = [gate.join(person) for person in "abc"]  # one running, two waiting
    with pytest.raises(GateError, match="queue is full"):
        gate.join("d")
    gate.leave(tickets[2])  # someone waiting closes their tab
    assert gate.place(tickets[1]) == 0
    assert gate.join("d")


def test_place_and_estimate_follow_the_line():
    gate = Gate(slots=2, line=10, typical_seconds=30)
    tickets = [gate.join(person) for person in "abcde"]
    assert [gate.place(ticket) for ticket in tickets] == [-1, -1, 0, 1, 2]
    assert [gate.estimate(ticket) for ticket in tickets] == pytest.approx([0, 0, 30, 30, 60], abs=1)  # two at a time


def test_the_wait_is_the_time_the_runs_ahead_still_need():
    gate = Gate(slots=2, line=10)
    first, second = gate.join("a", seconds=600), gate.join("b", seconds=90)
    gate.report(first, 500)
    gate.report(second, 20)  # nearly done: the next in line goes on its slot
    third, fourth, fifth = gate.join("c", seconds=100), gate.join("d", seconds=60), gate.join("e", seconds=60)
    assert gate.estimate(third) == pytest.approx(20)
    assert gate.estimate(fourth) == pytest.approx(120)  # after the third, on the same slot
    assert gate.estimate(fifth) == pytest.approx(180)  # the long run still has 500 s to go


def test_waiting_wakes_when_a_slot_frees():
    gate = Gate(slots=1, line=10)
    running, waiting = gate.join("a"), gate.join("b")
    assert not gate.wait(waiting, 0.05)
    threading.Timer(0.1, gate.leave, args=(running,)).start()
    assert gate.wait(waiting, 5.0)


def test_the_waits_in_line_follow_how_long_the_runs_really_took():
    gate = Gate(slots=1, line=5)
    for index in range(3):  # runs estimated at 0.1 s that took about twice as long
        ticket = gate.join(f"person{index}", seconds=0.1)
        assert gate.wait(ticket, timeout=1)
        time.sleep(0.2)
        gate.leave(ticket)
    stopped = gate.join("stopped", seconds=0.1)  # a stopped run says nothing of how long runs take
    gate.wait(stopped, timeout=1)
    stopped.stopped.set()
    gate.leave(stopped)
    overrun = gate.overrun()
    assert 1.8 < overrun < 2.6
    gate.join("a", seconds=10.0)  # painting: not reported yet, so as estimated, corrected
    gate.join("b", seconds=10.0)
    last = gate.join("c", seconds=10.0)
    assert gate.estimate(last) == pytest.approx(2 * 10.0 * overrun, rel=0.05)
