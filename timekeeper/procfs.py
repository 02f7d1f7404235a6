"""What the kernel says about the participants' threads: the /proc reads of the jump check (each file
read once per scan with os.open/os.read, nothing parsed that the check does not use) and the kernel
side of failure messages."""
from __future__ import annotations

import os
from typing import NamedTuple

# x86-64 numbers of the syscalls a blocked thread usually sits in: for failure messages only
_SYSCALLS = {
    0: "read", 1: "write", 7: "poll", 23: "select", 34: "pause", 35: "nanosleep", 43: "accept",
    44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 61: "wait4", 128: "rt_sigtimedwait",
    130: "rt_sigsuspend", 202: "futex", 230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid",
    270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4", 441: "epoll_pwait2", 449: "futex_waitv",
}


class KernelState(NamedTuple):
    """A thread's scheduler facts: state letter (R, S, D, ...), run time and timeslices. Equal values
    over two scans of a sleeping thread mean it did not run between them."""

    state: str
    run_ns: int
    timeslices: int


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:   # ESRCH: the thread exited between open and read
        return None
    finally:
        os.close(fd)


def _state_letter(stat: bytes) -> str:
    # the command name (field 2) may hold spaces and parentheses: the state follows the last ')'
    return chr(stat[stat.rindex(b")") + 2])


def process_alive(pid: int) -> bool:
    """False once the process is gone or a zombie (it ended; its parent has not reaped it yet)."""
    stat = _read(f"/proc/{pid}/stat")
    return stat is not None and _state_letter(stat) not in "ZX"


def tids(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def thread_state(pid: int, tid: int) -> KernelState | None:
    """None if the thread is gone. Run time and timeslices are read only for sleeping threads: any
    other state already means the thread is not blocked."""
    base = f"/proc/{pid}/task/{tid}/"
    stat = _read(base + "stat")
    if stat is None:
        return None
    state = _state_letter(stat)
    if state != "S":
        return KernelState(state, 0, 0)
    sched = _read(base + "schedstat")
    if sched is None:
        return None
    run_ns, _wait_ns, slices = sched.split()
    return KernelState(state, int(run_ns), int(slices))


class ThreadStates:
    """thread_state() over descriptors kept open between scans (one pread per file instead of
    open/read/close: about 3x faster, and a jump check scans every thread twice). A descriptor of a
    thread that exited reads as an error (or a zombie) and is dropped; prune() closes those of
    threads no scan saw lately. Not thread-safe: the monitor alone uses it."""

    MAX_OPEN = 4096   # descriptors kept at most (two per thread); beyond that all are closed

    def __init__(self) -> None:
        self._fds: dict[tuple[int, int], list[int]] = {}   # (pid, tid) -> [stat fd, schedstat fd or -1]

    def _pread(self, key: tuple[int, int], i: int, name: str) -> bytes | None:
        fds = self._fds.get(key)
        if fds is None:
            if len(self._fds) * 2 >= self.MAX_OPEN:
                self.close()
            fds = self._fds[key] = [-1, -1]
        if fds[i] < 0:
            try:
                fds[i] = os.open(f"/proc/{key[0]}/task/{key[1]}/{name}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._drop(key)
                return None
        try:
            data = os.pread(fds[i], 4096, 0)
        except OSError:   # ESRCH: the thread is gone
            self._drop(key)
            return None
        if not data:
            self._drop(key)
            return None
        return data

    def _drop(self, key: tuple[int, int]) -> None:
        for fd in self._fds.pop(key, ()):
            if fd >= 0:
                os.close(fd)

    def state(self, pid: int, tid: int) -> KernelState | None:
        """As thread_state()."""
        key = (pid, tid)
        stat = self._pread(key, 0, "stat")
        if stat is None:
            return None
        state = _state_letter(stat)
        if state in "ZX":
            self._drop(key)
        if state != "S":
            return KernelState(state, 0, 0)
        sched = self._pread(key, 1, "schedstat")
        if sched is None:
            return None
        run_ns, _wait_ns, slices = sched.split()
        return KernelState(state, int(run_ns), int(slices))

    def prune(self, keep: set[tuple[int, int]]) -> None:
        """Closes the descriptors of every thread not in keep."""
        for key in [k for k in self._fds if k not in keep]:
            self._drop(key)

    def close(self) -> None:
        for key in list(self._fds):
            self._drop(key)


def kernel_wait(pid: int, tid: int) -> str:
    """Where the kernel has a thread, in words: its state and the syscall (or kernel function) it
    sleeps in, as far as /proc lets this process see."""
    base = f"/proc/{pid}/task/{tid}/"
    stat = _read(base + "stat")
    if stat is None:
        return "gone"
    state = _state_letter(stat)
    words = {"R": "running", "S": "asleep", "D": "in uninterruptible sleep", "T": "stopped", "t": "traced"}
    where = ""
    syscall = _read(base + "syscall")   # needs ptrace access: ours, as the run's ancestor
    if syscall and syscall.split()[0].lstrip(b"-").isdigit():
        nr = int(syscall.split()[0])
        if nr >= 0:
            where = _SYSCALLS.get(nr, f"syscall {nr}")
    if not where:
        wchan = _read(base + "wchan")
        if wchan and wchan not in (b"0", b""):
            where = wchan.decode(errors="replace")
    return words.get(state, f"state {state}") + (f" in {where}" if where else "")
