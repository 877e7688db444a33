"""A fair line for a shared server: a few runs at a time, first come first served, one run per person.

A workshop is thirty people on one machine pressing Paint, often twice. Everyone joins one line;
the first `slots` people paint, the rest see their place and an estimate of the wait. A person who
already has a run waiting or painting is told so at once instead of taking a second place (so
nobody can push the room back by submitting many jobs), and a full line says so at once too.
"""

from __future__ import annotations

import heapq
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field


class GateError(RuntimeError):
    """A run that cannot join the line, with the reason in words for the person."""


OVERRUNS = 10  # the recent runs whose time over their estimate corrects the waits
MAX_OVERRUN = 3.0  # a correction of at most this factor, either way


@dataclass(eq=False)  # a ticket is itself: two of one person's are not equal
class Ticket:
    person: str
    seconds: float  # how long its run should take, estimated when it joined
    admitted: float | None = None  # time.monotonic() when its run may start
    left: float | None = None  # seconds its run still needs, reported by the run as it paints
    stopped: threading.Event = field(default_factory=threading.Event)  # its person pressed Stop


class Gate:
    """At most `slots` runs at once; up to `line` more wait in order; each person holds one place at most."""

    def __init__(self, slots: int = 1, line: int = 30, per_person: int = 1, typical_seconds: float = 60.0):
        self.slots, self.line, self.per_person = slots, line, per_person
        self._durations = deque([typical_seconds], maxlen=20)  # recent runs, for the wait estimate
        # Recent runs' time over their estimate: what a run costs beyond the model's iterations (its draft, its
        # frames sent, the page's own work), which small runs feel most; the waits in line are corrected by it.
        self._overruns: deque[float] = deque(maxlen=OVERRUNS)
        self._waiting: deque[Ticket] = deque()
        self._running: list[Ticket] = []
        self._changed = threading.Condition()
        self.paused = False  # the facilitator's pause: nobody new starts painting

    def configure(self, slots: int | None = None, line: int | None = None) -> None:
        with self._changed:
            self.slots = slots or self.slots
            self.line = line if line is not None else self.line
            self._changed.notify_all()

    def join(self, person: str, seconds: float | None = None) -> Ticket:
        """A place in line for `person`, whose run should take `seconds` (default: like recent runs), or a
        GateError saying why not (already in line, line full)."""
        with self._changed:
            held = sum(ticket.person == person for ticket in (*self._waiting, *self._running))
            if held >= self.per_person:
                raise GateError("You already have a picture painting or waiting in line: wait for it to "
                                "finish, or press Stop, before starting another.")
            if len(self._waiting) >= self.line and len(self._running) >= self.slots:
                raise GateError(f"The queue is full ({self.line} people waiting): please try again in a few "
                                "minutes.")
            ticket = Ticket(person, seconds if seconds is not None else statistics.median(self._durations))
            self._waiting.append(ticket)
            self._admit()
            return ticket

    def stop(self, person: str) -> bool:
        """Ask `person`'s run, waiting or painting, to stop; whether they had one."""
        with self._changed:
            tickets = [ticket for ticket in (*self._waiting, *self._running) if ticket.person == person]
            for ticket in tickets:
                ticket.stopped.set()
            self._changed.notify_all()  # a ticket waiting in line hears it at once
            return bool(tickets)

    def holds(self, person: str) -> bool:
        """Whether `person` has a run waiting or painting."""
        with self._changed:
            return any(ticket.person == person for ticket in (*self._waiting, *self._running))

    def wait(self, ticket: Ticket, timeout: float) -> bool:
        """True once `ticket` may run; False after `timeout` seconds still in line (to report the wait)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while ticket.admitted is None and not ticket.stopped.is_set() and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            return ticket.admitted is not None

    def leave(self, ticket: Ticket) -> None:
        """The run ended, was stopped, or its person left the line: the next in line may go."""
        with self._changed:
            if ticket in self._running:
                self._running.remove(ticket)
                took = time.monotonic() - ticket.admitted
                self._durations.append(took)
                if not ticket.stopped.is_set() and ticket.seconds > 0:
                    self._overruns.append(took / ticket.seconds)
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            self._admit()

    def place(self, ticket: Ticket) -> int:
        """How many people are ahead in line (0: next); -1 once running or gone."""
        with self._changed:
            return self._waiting.index(ticket) if ticket in self._waiting else -1

    def report(self, ticket: Ticket, seconds_left: float) -> None:
        """A running ticket's time left, as its run measures it: the wait of everyone behind it follows."""
        ticket.left = seconds_left

    def overrun(self) -> float:
        """How much longer than estimated the recent runs took (the median; 1 before any run ended)."""
        with self._changed:
            return min(MAX_OVERRUN, max(1 / MAX_OVERRUN, statistics.median(self._overruns))) if self._overruns else 1.0

    def estimate(self, ticket: Ticket) -> float:
        """Seconds until `ticket` should start: the time the running runs still need, then the runs
        ahead of it in line, each on the first slot to come free."""
        with self._changed:
            if ticket not in self._waiting:
                return 0.0
            now, overrun = time.monotonic(), self.overrun()
            free = sorted(self._left(running, now, overrun) for running in self._running)
            free += [0.0] * (self.slots - len(free))
            for ahead in self._waiting:
                if ahead is ticket:
                    return free[0]
                heapq.heapreplace(free, free[0] + ahead.seconds * overrun)
            return free[0]

    def pause(self, paused: bool) -> None:
        """Hold every run in line where it is (the facilitator's talk), or let the line move again; runs
        painting now finish."""
        with self._changed:
            self.paused = paused
            self._admit()

    def people(self) -> tuple[list[float], list[float]]:
        """The seconds left of each run painting, and the seconds each run waiting in line will take, in order."""
        with self._changed:
            now, overrun = time.monotonic(), self.overrun()
            return [self._left(ticket, now, overrun) for ticket in self._running], [t.seconds for t in self._waiting]

    def work(self) -> list[float]:
        """Seconds each run painting or waiting still needs (painting alone)."""
        painting, waiting = self.people()
        return painting + waiting

    @staticmethod
    def _left(ticket: Ticket, now: float, overrun: float) -> float:
        """A running ticket's seconds left: as its run reported, else as estimated (times the recent overrun)."""
        if ticket.left is not None:
            return ticket.left
        return max(0.0, ticket.seconds * overrun - (now - ticket.admitted))

    def _admit(self) -> None:
        while self._waiting and len(self._running) < self.slots and not self.paused:
            ticket = self._waiting.popleft()
            ticket.admitted = time.monotonic()
            self._running.append(ticket)
        self._changed.notify_all()
