"""Print jobs that outlive the page: one at a time in a worker thread, their files in a folder of their own.

A tee takes an hour on a CPU; nobody keeps a tab open that long. A job is started by the page or the
API, paints on whether anyone watches or not, and is fetched later by its id (the page's link
`/?print=ID`). Each job's folder holds `job.json` (its state, message, settings and file names) beside
its files and a copy of its uploads (photo, paintings...), so that its link brings them back to the
page; it is removed `lifetime` seconds after the job ended. A print that was waiting or painting when
the server stopped starts again by itself at the next start, from its copies (its approved design and
settings), when the server gives a `resume` to make its work again; its message says that it
restarted, and why. Without one, or for a job that kept too little, its state says it was lost.
"""

from __future__ import annotations

import contextvars
import json
import queue
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from nst_core.stylize import Step

ENDED = ("done", "failed", "stopped", "lost")


@dataclass(eq=False)
class Job:
    """One print: where it stands, its newest frame, and its files once done."""

    id: str
    folder: Path
    title: str  # what it is, in words: "tee 4500×5400"
    estimate: float  # seconds it should take, before it starts
    state: str = "waiting"  # waiting, painting, then one of ENDED
    message: str = ""  # why it failed or was lost
    step: Step | None = None  # the newest frame while painting
    left: float | None = None  # seconds left while painting
    countdown: object | None = None  # the run's studio.costs.Countdown, for how far it is, while painting
    files: dict[str, str] = field(default_factory=dict)  # "design", "tee", "mug" -> file name in `folder`
    settings: dict = field(default_factory=dict)  # the print's own settings (size, fit...), as the page had them
    uploads: dict[str, list[str]] = field(default_factory=dict)  # "content", "styles"... -> copies in `folder`
    took: float | None = None  # seconds it painted, once done
    scales: list = field(default_factory=list)  # what it paints, as studio.costs.Scale fields, for later estimates
    slower: float = 1.0  # how much slower than the cost model alone it was expected to go (regions, live runs)
    cancelled: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)  # set on every update, for watchers

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def path(self, name: str) -> Path | None:
        return self.folder / self.files[name] if name in self.files else None

    def uploaded(self, name: str) -> list[Path]:
        """The job's copies of an upload ("content", "styles", "approved"...), none if it had none."""
        return [self.folder / copy for copy in self.uploads.get(name, [])]

    @classmethod
    def load(cls, folder: Path, saved: dict) -> Job:
        """A job as its record `saved` (job.json in `folder`) describes it."""
        return cls(folder.name, folder, saved.get("title", "print"), saved.get("estimate", 0),
                   saved.get("state", "waiting"), saved.get("message", ""), files=saved.get("files", {}),
                   settings=saved.get("settings", {}), uploads=saved.get("uploads", {}), took=saved.get("took"),
                   scales=saved.get("scales", []), slower=saved.get("slower", 1.0))

    def save(self) -> None:
        record = {"id": self.id, "title": self.title, "state": self.state, "message": self.message,
                  "files": self.files, "estimate": self.estimate, "settings": self.settings,
                  "uploads": self.uploads, "took": self.took, "scales": self.scales, "slower": self.slower,
                  "saved": time.time()}
        temporary = self.folder / "job.json.part"
        temporary.write_text(json.dumps(record))
        temporary.replace(self.folder / "job.json")  # atomic: a crash never leaves half a record


Work = Callable[[Job], Iterator[tuple[Step, float]]]  # yields (step, seconds left), writes files, sets job.files
Resume = Callable[[Job], "Work | None"]  # a stopped server's unfinished job's work, made again from its folder
RESTARTED = "the server stopped while this print was painting, so it started again from its approved design"


class PrintJobs:
    """The server's print jobs, run one at a time in the order they were started."""

    def __init__(self, root: Path, lifetime: float = 24 * 3600, resume: Resume | None = None):
        self.lifetime = lifetime
        self._jobs: dict[str, Job] = {}
        # Each job with the context it was started in: its GPU call (on ZeroGPU) is the visitor's, who asked for it.
        self._queue: queue.SimpleQueue[tuple[Job, Work, contextvars.Context]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.open(root, resume)
        threading.Thread(target=self._serve, name="nst-prints", daemon=True).start()

    def open(self, root: Path, resume: Resume | None = None) -> None:
        """Keep the jobs in `root` from now on (the server's data folder, set at start-up, before any print),
        and take up the jobs an earlier start left there."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._jobs.clear()
        self._recover(resume)

    def start(self, title: str, estimate: float, work: Work, countdown=None, settings: dict | None = None,
              uploads: dict[str, str | list[str] | None] | None = None, scales: list | None = None,
              slower: float = 1.0) -> Job:
        """A new job, queued behind the prints before it; `countdown` (studio.costs.Countdown) says how far it
        is. Its `settings` (JSON values) are recorded and its `uploads` (name -> file path or paths) copied into
        its folder, before it can start, so that it can be shown again as it was asked for."""
        self.prune()
        job_id = uuid.uuid4().hex[:10]
        job = Job(job_id, self.root / job_id, title, estimate, countdown=countdown, settings=dict(settings or {}),
                  scales=list(scales or []), slower=slower)
        job.folder.mkdir(parents=True)
        for name, paths in (uploads or {}).items():
            paths = [paths] if isinstance(paths, (str, Path)) else [path for path in paths or () if path]
            job.uploads[name] = [_copy(Path(path), job.folder / f"{name}{index}") for index, path in enumerate(paths)]
        job.save()
        with self._lock:
            self._jobs[job_id] = job
        self._queue.put((job, work, contextvars.copy_context()))
        return job

    def painting(self) -> Job | None:
        """The job painting now, if any."""
        with self._lock:
            return next((job for job in self._jobs.values() if job.state == "painting"), None)

    def finished(self, count: int) -> list[Job]:
        """The newest `count` prints that were painted to the end, with how long they took and what they painted."""
        with self._lock:
            done = [job for job in self._jobs.values() if job.state == "done" and job.took and job.scales]
        return done[-count:]

    def get(self, job_id: str) -> Job | None:
        """The job with this id, from memory or, after a restart, from its folder; None if unknown or pruned."""
        job_id = (job_id or "").strip()
        if not job_id.isalnum():  # ids are hex: nothing else may reach the file system
            return None
        with self._lock:
            if job_id in self._jobs:
                return self._jobs[job_id]
        record = self.root / job_id / "job.json"
        if not record.is_file():
            return None
        job = Job.load(record.parent, json.loads(record.read_text()))
        with self._lock:
            return self._jobs.setdefault(job_id, job)

    def cancel(self, job_id: str | None) -> None:
        job = self.get(job_id) if job_id else None
        if job is not None and not job.ended:
            job.cancelled.set()
            if job.state == "waiting":
                self._end(job, "stopped")

    def prune(self) -> None:
        """Remove the folders of jobs that ended more than `lifetime` seconds ago."""
        cutoff = time.time() - self.lifetime
        for record in self.root.glob("*/job.json"):
            try:
                saved = json.loads(record.read_text())
                if saved["state"] in ENDED and saved["saved"] < cutoff:
                    shutil.rmtree(record.parent, ignore_errors=True)
                    with self._lock:
                        self._jobs.pop(record.parent.name, None)
            except (OSError, ValueError, KeyError):  # another prune got there first, or a half-removed folder
                continue

    def _recover(self, resume: Resume | None) -> None:
        """The jobs of an earlier start, oldest first (their times teach the estimates); those that were waiting
        or painting when the server stopped are queued again in their order (`resume`), else lost, and their
        records say which."""
        records = []
        for record in self.root.glob("*/job.json"):
            try:
                records.append((record, json.loads(record.read_text())))
            except (OSError, ValueError):
                continue
        for record, saved in sorted(records, key=lambda pair: pair[1].get("saved", 0)):
            job = self._jobs[record.parent.name] = Job.load(record.parent, saved)
            if saved.get("state") in ENDED:
                continue
            try:
                work = resume(job) if resume else None
            except Exception as error:  # its copies no longer paint (a setting this version refuses): lost, said why
                work, job.message = None, str(error)
            if work is None:  # its settings and uploads stay, for the page to show again
                self._end(job, "lost", "the server restarted while this print was painting: please render it again")
                continue
            job.state, job.message = "waiting", RESTARTED
            job.save()
            self._queue.put((job, work, contextvars.Context()))  # nobody's request: the server started it

    def _serve(self) -> None:
        while True:
            job, work, context = self._queue.get()
            if not job.ended:  # else stopped while waiting
                context.run(self._paint, job, work)

    def _paint(self, job: Job, work: Work) -> None:
        job.state = "painting"
        job.save()
        began = time.monotonic()
        run = work(job)
        try:
            for job.step, job.left in run:
                job.changed.set()
                if job.cancelled.is_set():
                    break
        except Exception as error:  # a bad picture or setting: the job says so, the server goes on
            self._end(job, "failed", str(error))
            return
        finally:
            run.close()
        job.took = time.monotonic() - began
        self._end(job, "stopped" if job.cancelled.is_set() else "done")

    def _end(self, job: Job, state: str, message: str | None = None) -> None:
        """The job ended in `state`; `message` says why (None: what it said before stays, a restart's note)."""
        job.state, job.left = state, 0.0
        job.message = job.message if message is None else message
        job.save()
        job.changed.set()


def _copy(source: Path, folder: Path) -> str:
    """A copy of `source` in `folder`, under its own name (a print's file is named after its photo and
    painting), as a path relative to the job's folder."""
    folder.mkdir()
    shutil.copyfile(source, folder / source.name)
    return f"{folder.name}/{source.name}"
