"""Child processes that never outlive their job: each in its own process group (so the whole tree
is killed at once), killed with its parent (PR_SET_PDEATHSIG), at a wall-clock limit, or when
the caller is interrupted."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
from typing import IO, Optional, Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # runs in the child between fork and exec: SIGKILL when the thread that spawned it dies
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_group(cmd: Sequence[str], env: Optional[dict[str, str]] = None, timeout_s: Optional[float] = None,
              stdout: Optional[IO[bytes]] = None, grace_s: float = 10.0) -> tuple[int, bool]:
    """Runs cmd in a new process group and waits. At timeout_s, or when the caller is interrupted
    (KeyboardInterrupt, or SIGTERM forwarded where this is the main thread), the group gets
    SIGTERM, then SIGKILL after grace_s; whatever is left of the group is killed on return.
    Returns (exit status, timed out)."""
    proc = subprocess.Popen(list(cmd), env=env, start_new_session=True, preexec_fn=_die_with_parent,
                            stdout=stdout, stderr=subprocess.STDOUT if stdout is not None else None)
    timed_out = threading.Event()

    def stop() -> None:
        kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)

    def expire() -> None:
        timed_out.set()
        stop()

    timer = threading.Timer(timeout_s, expire) if timeout_s else None
    if timer:
        timer.daemon = True
        timer.start()
    forwarded = {}
    if threading.current_thread() is threading.main_thread():
        forwarded = {s: signal.signal(s, lambda n, _f: kill_group(proc.pid, n)) for s in (signal.SIGTERM,)}
    try:
        code = proc.wait()
    except BaseException:
        stop()
        raise
    finally:
        for s, h in forwarded.items():
            signal.signal(s, h)
        if timer:
            timer.cancel()
        kill_group(proc.pid)
    return code, timed_out.is_set()
