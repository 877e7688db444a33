"""Joining a Ray cluster, for the catalogue and the studio alike; Ray is imported only here, when asked for."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project: workers import nst_core and studio from here
# Ray's own switch: with it off, a cluster started here takes 127.0.0.1 as its address and every one of its
# servers listens on loopback only. Read when ray is first imported.
LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def connect(address: str):
    """Join the Ray cluster at `address`; with "auto", the one running on this machine (`ray start`), else a
    new one here that listens on loopback only. Returns the `ray` module: import it through here, since what
    it reads at import is set here first."""
    here = running_here()
    local = address == "auto" and not os.environ.get("RAY_ADDRESS") and not here
    loopback = local or (address == "auto" and here.startswith("127.0.0.1:"))
    if loopback:
        os.environ.update(LOOPBACK_ONLY)  # this process talks to the cluster over loopback too
    import ray

    if ray.is_initialized():
        return ray
    variables = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if loopback:
        variables.update(LOOPBACK_ONLY)  # and so do its workers
    options = {"runtime_env": {"env_vars": variables}, "logging_level": logging.WARNING}
    if local:
        ray.init(include_dashboard=False, **options)
    else:
        ray.init(address=address, **options)
    return ray


def running_here() -> str:
    """The address of the cluster `ray start` left running on this machine (where "auto" looks), or ""."""
    try:
        return (Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster").read_text().strip()
    except OSError:
        return ""
