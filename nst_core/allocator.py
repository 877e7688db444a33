"""Keeping freed memory in the process during a CPU run, and handing it back when the run ends.

glibc serves every allocation above 128 kB with a fresh mmap and unmaps it on free, so each forward
and backward pass of a large picture faults in and zeroes gigabytes of new pages: at 1024 px a third
of the CPU time went to the kernel (docs/performance.md). Raising the mmap and trim thresholds keeps
freed blocks in the heap for reuse; `malloc_trim` returns them to the system after the run, so the
server's memory goes back down between users. Elsewhere (no glibc: macOS, Windows, musl) this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
HOLD_MMAP_THRESHOLD = 1 << 30  # blocks below 1 GiB come from the heap, so freed ones are reused
HOLD_TRIM_THRESHOLD = 1 << 40  # never shrink the heap on free while runs are going on
# Between runs: where glibc's own adaptive thresholds settle on 64-bit once large blocks have been
# freed (an mmap threshold of 32 MiB and twice that for trimming). Setting a threshold ends glibc's
# adaptation for good, so releasing to its starting 128 kB would leave every later allocation above
# 128 kB faulting in fresh pages: the textbook loop ran 1.5x slower per iteration after one of our runs.
RELEASED_MMAP_THRESHOLD = 32 * 1024**2
RELEASED_TRIM_THRESHOLD = 2 * RELEASED_MMAP_THRESHOLD

_lock = threading.Lock()
_holders = 0  # runs in progress that asked to hold memory


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, or None where the C library is another one."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # both exist only in glibc
    except (OSError, TypeError, AttributeError):
        return None
    return libc


def available() -> bool:
    return _libc() is not None


def hold() -> None:
    """A run starts: keep freed blocks for reuse until every run that asked has called `release`."""
    global _holders
    libc = _libc()
    if libc is None:
        return
    with _lock:
        if _holders == 0:
            _thresholds(libc, HOLD_MMAP_THRESHOLD, HOLD_TRIM_THRESHOLD)
        _holders += 1


def release() -> None:
    """A run ends: when it was the last one, put glibc's thresholds where they settle and return free memory."""
    global _holders
    libc = _libc()
    if libc is None:
        return
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders == 0:
            _thresholds(libc, RELEASED_MMAP_THRESHOLD, RELEASED_TRIM_THRESHOLD)
            libc.malloc_trim(0)


def _thresholds(libc: ctypes.CDLL, mmap: int, trim: int) -> None:
    libc.mallopt(M_MMAP_THRESHOLD, mmap)
    libc.mallopt(M_TRIM_THRESHOLD, trim)
