"""Ending the commands of a deployment whose runner is gone.

Each command runs in a process group of its own (pipelines/runner/commands.py), recorded on
the deployment as it starts. A runner that is killed cannot stop them, so the reaper does:
TERM to every recorded group that still holds a process of this deployment, KILL after the
grace period. A process counts as the deployment's only when its environment carries the
deployment's SLIPWAY_DEPLOYMENT: a group id the system has since reused for something else
is left alone. Apps a restart command started in a session of their own (the app that
serves) are in another group and are not touched. Linux only (/proc); a group on another
host is named in the log, not signalled.
"""

import os
import signal
import socket
import time
from pathlib import Path

PROC = Path("/proc")


def members(pgid: int, deployment_id: int) -> list[int]:
    """The live processes of group `pgid` that belong to this deployment."""
    marker = f"SLIPWAY_DEPLOYMENT={deployment_id}".encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name (in parentheses) may hold spaces: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return found


def end_process_groups(deployment, grace: float, note) -> None:
    """TERM, then KILL after `grace` seconds, every recorded group of `deployment` on this
    host that still runs one of its processes; `note(text)` tells the log what was done."""
    here = socket.gethostname()
    alive = []
    for group in deployment.process_groups:
        if group.get("host") != here:
            note(f"Process group {group.get('pgid')} ran on {group.get('host')}: not ended here.")
        elif members(group["pgid"], deployment.pk):
            alive.append(group["pgid"])
    if not alive:
        return
    note(f"Ending what the deployment left running: TERM to process group(s) {_names(alive)}.")
    _signal(alive, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        alive = [pgid for pgid in alive if members(pgid, deployment.pk)]
        if not alive:
            note("They stopped.")
            return
        time.sleep(0.05)
    note(f"Still running {grace:g} s after TERM: KILL to {_names(alive)}.")
    _signal(alive, signal.SIGKILL)


def _signal(groups: list[int], sig: int) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _names(groups: list[int]) -> str:
    return ", ".join(str(g) for g in groups)
