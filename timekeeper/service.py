"""The timekeeper of one emulation run: owns the clock page, jumps virtual time when every participant
is blocked, and fails the run loudly when a participant dies or the run hangs.

    with Timekeeper(cpu_scale=1.0, run_dir=run_dir, on_failure=kill_the_run) as tk:
        subprocess.run(cmd, env={**os.environ, **tk.env(), "LD_PRELOAD": core})

The protocols (page and control endpoint) are described in timekeeper/protocol.py.
"""
from __future__ import annotations

import atexit
import ctypes
import mmap
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Literal, NamedTuple

from . import procfs
from .page import (BUSY, MAGIC, NO_TARGET, PROC_EXITED, PROC_FREE, PROC_LIVE, RUNNING, VERSION, WAIT_APP,
                   WAIT_VIRTUAL, Page, Thread, cpu_clock_id)
from .procfs import KernelState
from .protocol import STOP_REASON, ControlServer, ParticipantStatus, Status, ThreadStatus
from .sync import SharedMutex, futex_wait, futex_wake

SHM_DIR = Path("/dev/shm")
POLL_S = 0.005          # a thread that blocks in the kernel (no virtual wait, no notify) is seen this soon
STALLED_POLL_S = 0.1    # all blocked with no deadline: any new deadline comes with a notify anyway
# a check that failed on a thread about to sleep (in an APP wait but not asleep yet; threads that
# woke and slept again between the scans) looks again this soon, then twice as late each time up to
# POLL_S: an APP wait's notify comes before the thread sleeps in the kernel
SOON_S = 0.0001
_VIRTUAL = KernelState("virtual", 0, 0)   # scan entry of a thread in a VIRTUAL wait (kernel state moot)
# exit codes a participant sets on another it stops with one of these signals (native kill()): an
# orderly end (a pool shutting its workers down), not a failure
STOPPED_CODES = {128 + s for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)}
_WAIT_NAMES: dict[int, Literal["running", "app", "virtual", "busy"]] = {
    RUNNING: "running", WAIT_APP: "app", WAIT_VIRTUAL: "virtual", BUSY: "busy"}


class _Proc(NamedTuple):
    slot: int
    pid: int
    parent_slot: int
    name: str


class _Wait(NamedTuple):
    in_wait: int
    target: int
    what: str
    waits: int = 0        # bumped as each wait of the thread begins
    self_wakes: int = 0   # APP waits: real sub-waits that timed out, re-checked G and slept again


class Timekeeper:
    """One run's virtual clock. Start it (or enter it), give participants env(), close it at the end."""

    def __init__(self, cpu_scale: float = 1.0, *, run_dir: Path | None = None, endpoint: str | None = None,
                 hang_timeout_s: float = 60.0, on_failure: Callable[[str], None] | None = None) -> None:
        if not cpu_scale > 0:
            raise ValueError(f"cpu_scale must be positive, got {cpu_scale}")
        self.cpu_scale = cpu_scale
        self.hang_timeout_s = hang_timeout_s
        self.path = SHM_DIR / f"revati-{uuid.uuid4().hex}"
        self._own_dir = run_dir is None
        self.run_dir = Path(tempfile.mkdtemp(prefix="revati-tk-")) if run_dir is None else Path(run_dir)
        self.endpoint = endpoint or f"ipc://{self.run_dir / 'timekeeper.sock'}"
        self._on_failure = on_failure
        self._failure: str | None = None
        self._failed = threading.Event()
        self._closing = threading.Event()
        self._writer = threading.Lock()          # the monitor's jumps vs fail() from other threads
        self._monitor: threading.Thread | None = None
        self._control: ControlServer | None = None
        self._mm: mmap.mmap | None = None
        self._page: Page | None = None
        self._stalled_since: float | None = None    # wall time since when all are blocked with no deadline
        self._exits_seen: set[tuple[int, int]] = set()
        # processes marked EXITED that still run (their exit, or a handler of the signal that stopped
        # them): scanned like live ones, since what they do may wake a participant
        self._exiting: dict[int, _Proc] = {}
        self._unseen_exits: dict[int, tuple[int, str]] = {}   # pid -> (parent slot, what): for its parent
        self._hot: tuple[int, int] | None = None    # (pid, tid) last found running: looked at first
        self._soon = False   # the last check failed on a thread that is likely about to sleep
        self._states = procfs.ThreadStates()   # the monitor's /proc descriptors

    # ---------------- life cycle ----------------
    def start(self) -> Timekeeper:
        atexit.register(self.close)   # an interpreter that exits without close() still unlinks the page
        try:
            self._create_page()
            self._control = ControlServer(self.endpoint, self.status, lambda: self.fail(STOP_REASON))
            self._monitor = threading.Thread(target=self._monitor_loop, name="timekeeper-monitor", daemon=True)
            self._monitor.start()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Timekeeper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create_page(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, ctypes.sizeof(Page))
            self._mm = mmap.mmap(fd, ctypes.sizeof(Page), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        page = self._page = Page.from_buffer(self._mm)
        self._lock = SharedMutex(ctypes.addressof(page.lock))
        self._lock.initialise()
        page.cpu_scale = self.cpu_scale
        page.anchor_virtual_ns = 0
        # virtual clocks start where the real ones are now
        page.realtime_offset_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
        page.monotonic_offset_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        page.version = VERSION
        page.magic = MAGIC   # last: a reader that sees the magic sees an initialised page
        self._notify_addr = ctypes.addressof(page) + Page.notify.offset
        self._generation_addr = ctypes.addressof(page) + Page.generation.offset

    def close(self) -> None:
        """Stops the monitor and the control endpoint and unlinks the page and its companions
        (``<page>.<suffix>``, e.g. the native side's collective table); processes still running keep
        their mappings. Safe to call twice, and from atexit."""
        if self._closing.is_set():
            return
        self._closing.set()
        atexit.unregister(self.close)
        try:
            if self._monitor:
                futex_wake(self._notify_addr)
                self._monitor.join()
            self._states.close()
            if self._control:
                self._control.close()
        finally:
            for companion in self.path.parent.glob(f"{self.path.name}.*"):   # e.g. the collective table
                companion.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)
            with self._writer:   # fail() from another thread must not write into a closed mapping
                self._page = None
                if self._mm:
                    try:
                        self._mm.close()
                    except BufferError:   # a ctypes view still referenced somewhere: freed with it
                        pass
            if self._own_dir:
                shutil.rmtree(self.run_dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """What a participant's environment needs (beside LD_PRELOAD of the interposer core)."""
        return {"REVATI_TIMEKEEPER": str(self.path)}

    # ---------------- reading ----------------
    @property
    def page(self) -> Page:
        if self._page is None:
            raise RuntimeError("the timekeeper is not running")
        return self._page

    def now_ns(self) -> int:
        """The run's virtual time G: the latest of the processes' own times."""
        page = self.page
        while True:
            seq = page.seq
            if seq & 1:
                os.sched_yield()   # a writer is mid-update
                continue
            base: int = page.anchor_virtual_ns
            scale: float = page.cpu_scale
            anchors = [(p.pid, p.cpu_anchor_ns, p.offset_ns, p.seen_ns) for p in page.procs[:page.nprocs] if p.state == PROC_LIVE]
            if page.seq == seq:
                break
        most = base
        for pid, anchor, offset, seen in anchors:
            most = max(most, seen)   # the latest time the process's threads read
            try:
                most = max(most, base + offset + int(scale * (time.clock_gettime_ns(cpu_clock_id(pid)) - anchor)))
            except OSError:   # gone: the monitor fails the run
                continue
        return most

    @property
    def failure(self) -> str | None:
        """Why the run failed, or None."""
        return self._failure

    def wait_failed(self, timeout: float | None = None) -> str | None:
        """Blocks until the run fails (returning why) or timeout seconds pass (returning None)."""
        self._failed.wait(timeout)
        return self._failure

    def status(self) -> Status:
        page = self.page
        waits: dict[int, list[ThreadStatus]] = {}
        for t in page.threads[:page.nthreads]:
            if t.tid:
                waits.setdefault(t.proc, []).append(ThreadStatus(
                    tid=t.tid, in_wait=_WAIT_NAMES.get(t.in_wait, "running"),
                    target=None if t.in_wait == RUNNING or t.target == NO_TARGET else t.target,
                    what=t.what.decode(errors="replace") if t.in_wait != RUNNING else ""))
        participants = [
            ParticipantStatus(slot=i, pid=p.pid, name=p.name.decode(errors="replace"),
                              state="live" if p.state == PROC_LIVE else "exited", exit_code=p.exit_code,
                              threads=waits.get(i, []))
            for i, p in enumerate(page.procs[:page.nprocs]) if p.state != PROC_FREE]
        return Status(now_ns=self.now_ns(), generation=page.generation, participants=participants,
                      failed=bool(page.failed), reason=self._failure)

    # ---------------- failing ----------------
    def fail(self, reason: str) -> None:
        """Ends the run: every wait returns, participants exit, on_failure runs (once)."""
        with self._writer:
            if self._failure is not None or self._page is None:
                return
            self._failure = reason
            page = self._page
            page.fail_reason = reason.encode()[:511].decode(errors="ignore").encode()
            page.failed = 1
            page.generation = (page.generation + 1) & 0xFFFFFFFF
            futex_wake(self._generation_addr)
            futex_wake(self._notify_addr)
        self._failed.set()
        if self._on_failure:
            self._on_failure(reason)

    # ---------------- the monitor ----------------
    def _monitor_loop(self) -> None:
        page = self.page
        timeout = POLL_S
        soon = SOON_S
        seen = page.notify
        while not self._closing.is_set() and self._failure is None:
            futex_wait(self._notify_addr, seen, timeout)
            if self._closing.is_set():
                break
            seen = page.notify   # read before the check: a wait that begins during it ends the next futex_wait at once
            try:
                self._check()
            except Exception as e:   # a dead monitor would freeze the clock silently
                self.fail(f"timekeeper monitor error: {e!r}")
                raise
            if self._stalled_since is not None:
                timeout = STALLED_POLL_S
            elif self._soon:
                timeout, soon = min(soon, POLL_S), soon * 2
            else:
                timeout, soon = POLL_S, SOON_S

    def _live(self) -> list[_Proc]:
        return [_Proc(i, p.pid, p.parent_slot, p.name.decode(errors="replace"))
                for i, p in enumerate(self.page.procs[:self.page.nprocs]) if p.state == PROC_LIVE]

    def _waits(self, procs: list[_Proc]) -> dict[int, _Wait]:
        """tid -> its slot's wait, for the thread slots of these processes (a slot left behind by a
        process that is gone must not speak for a new thread that got its tid)."""
        slots = {p.slot for p in procs}
        return {t.tid: _Wait(t.in_wait, t.target, t.what.decode(errors="replace"), t.waits, t.self_wakes)
                for t in self.page.threads[:self.page.nthreads] if t.tid and t.proc in slots}

    def _check(self) -> None:
        self._soon = False
        live = self._live()
        for p in live:
            slot = self.page.procs[p.slot]
            # re-read the slot after /proc: a process that exits normally sets EXITED first
            if not procfs.process_alive(p.pid) and slot.state == PROC_LIVE and slot.pid == p.pid:
                self._close_dead_writers_window()
                return self.fail(f"participant pid {p.pid} ({p.name}) died without exiting (killed by a signal "
                                 f"or crashed). {self._describe(live, skip=p.pid)}")
        failed = self._check_exits(live)
        self._exiting = {pid: p for pid, p in self._exiting.items() if procfs.process_alive(pid)}
        procs = live + list(self._exiting.values())
        if failed or not procs:
            self._stalled_since = None
            return
        targets = self._blocked_targets(procs)
        if targets is None:
            self._stalled_since = None
        elif targets:
            self._stalled_since = None
            self._jump(min(targets))
        elif self._unseen_exits:
            self.fail(f"{'; '.join(what for _, what in self._unseen_exits.values())}, and every participant still "
                      f"live is now blocked with no deadline. {self._describe(procs)}")
        elif self._stalled_since is None:
            self._stalled_since = time.monotonic()
        elif time.monotonic() - self._stalled_since >= self.hang_timeout_s:
            self.fail(f"every participant has been blocked with no deadline for {self.hang_timeout_s:g} s "
                      f"(a deadlock, or a wait for something outside the run). {self._describe(procs)}")

    def _check_exits(self, live: list[_Proc]) -> bool:
        """Looks at new exits; True if one failed the run. A non-zero exit whose parent participant
        is still live is left to it (a probe that fails on purpose, a shell's `||`): it fails the run
        only if the participants stall before that parent leaves (see _check)."""
        live_slots = {p.slot for p in live}
        self._unseen_exits = {pid: e for pid, e in self._unseen_exits.items() if e[0] in live_slots}
        for i, p in enumerate(self.page.procs[:self.page.nprocs]):
            if p.state != PROC_EXITED or (i, p.pid) in self._exits_seen:
                continue
            self._exits_seen.add((i, p.pid))
            self._exiting[p.pid] = _Proc(i, p.pid, p.parent_slot, p.name.decode(errors="replace"))
            if not p.exit_code or p.exit_code in STOPPED_CODES or not live:
                continue
            what = f"participant pid {p.pid} ({p.name.decode(errors='replace')}) exited with code {p.exit_code}"
            if p.parent_slot in live_slots:
                self._unseen_exits[p.pid] = (p.parent_slot, what)
            else:
                self.fail(f"{what} while other participants are live. {self._describe(live)}")
                return True
        return False

    def _scan(self, procs: list[_Proc]) -> tuple[dict[int, KernelState], dict[int, _Wait]] | None:
        """Every thread of these processes: tid -> _VIRTUAL or its kernel state, plus the waits (the
        same before and after the /proc reads, so each kernel state goes with its thread's
        self-wake count); None as soon as a thread is not blocked."""
        before = self._thread_bytes()
        waits = self._waits(procs)
        if self._hot and self._hot[0] in {p.pid for p in procs}:
            # the thread that ran last time most likely still runs: one read decides
            pid, tid = self._hot
            w = waits.get(tid)
            if w and w.in_wait == BUSY:
                return None
            k = self._states.state(pid, tid)
            if k is not None and k.state != "S" and not (w and w.in_wait == WAIT_VIRTUAL):
                self._soon = bool(w and w.in_wait == WAIT_APP)
                return None
            self._hot = None
        seen: dict[int, KernelState] = {}
        keys: set[tuple[int, int]] = set()
        for p in procs:
            for tid in procfs.tids(p.pid):
                keys.add((p.pid, tid))
                w = waits.get(tid)
                # a virtual wait for a deadline ends only by the clock; one without (a collective's
                # rendezvous) ends when a peer wakes it, and the woken thread is runnable before it
                # marks its wait over: its kernel state tells
                if w and w.in_wait == WAIT_VIRTUAL and w.target != NO_TARGET:
                    seen[tid] = _VIRTUAL
                    continue
                if w and w.in_wait == BUSY:   # waiting for real on something outside the run
                    self._hot = (p.pid, tid)
                    return None
                k = self._states.state(p.pid, tid)
                if k is None or k.state in "ZX":   # exited meanwhile
                    continue
                if k.state != "S":
                    self._hot = (p.pid, tid)
                    self._soon = bool(w and w.in_wait == WAIT_APP)
                    return None
                seen[tid] = k
        self._states.prune(keys)
        if self._thread_bytes() != before:   # a wait began, ended or self-woke meanwhile
            self._soon = True
            return None
        return seen, waits

    def _thread_bytes(self) -> bytes:
        """The page's thread slots as they are now, raw (a cheap comparison of two moments)."""
        page = self.page
        return ctypes.string_at(ctypes.addressof(page.threads), page.nthreads * ctypes.sizeof(Thread))

    def _blocked_targets(self, procs: list[_Proc]) -> list[int] | None:
        """None unless every thread is blocked over two back-to-back scans (a thread woken between
        them shows up as runnable or with changed run time/timeslices); then the finite deadlines."""
        notify = self.page.notify
        first = self._scan(procs)
        if first is None:
            return None
        second = self._scan(procs)
        if second is None:
            return None
        if not _quiet(first, second) or self.page.notify != notify:
            self._soon = True
            return None   # something moved, or a wait began meanwhile: the next check looks again
        seen, waits = second
        return [w.target for tid, w in waits.items()
                if tid in seen and w.in_wait != RUNNING and w.target != NO_TARGET]

    def _jump(self, target: int) -> None:
        """anchor = max(target, G): the CPU readings that define G now become the new origins, so
        virtual time stays continuous through the re-anchoring, and every process starts again at G."""
        with self._writer, self._lock:
            page = self.page
            self._close_dead_writers_window_locked()
            page.seq += 1
            most, readings = 0, []
            for p in page.procs[:page.nprocs]:
                if p.state != PROC_LIVE:
                    continue
                try:
                    cpu = time.clock_gettime_ns(cpu_clock_id(p.pid))
                except OSError:   # gone: the next check fails the run
                    continue
                most = max(most, p.offset_ns + int(page.cpu_scale * (cpu - p.cpu_anchor_ns)))
                readings.append((p, cpu))
            page.anchor_virtual_ns = max(target, page.anchor_virtual_ns + most)
            for p, cpu in readings:
                p.cpu_anchor_ns = cpu
                p.offset_ns = 0
            page.seq += 1
            page.generation = (page.generation + 1) & 0xFFFFFFFF
        futex_wake(self._generation_addr)

    def _close_dead_writers_window(self) -> None:
        with self._writer, self._lock:
            self._close_dead_writers_window_locked()

    def _close_dead_writers_window_locked(self) -> None:
        """A writer that died mid-update (the robust lock handed on) left `seq` odd, and readers
        would spin on it forever: close its window. A jump rewrites every anchor it may have left
        half-written; after a death the run fails anyway."""
        if self.page.seq & 1:
            self.page.seq += 1

    def _describe(self, live: list[_Proc], skip: int | None = None) -> str:
        """Every live participant and what each of its threads waits for."""
        waits = self._waits(live)
        parts = []
        for p in live:
            if p.pid == skip:
                continue
            threads = []
            for tid in sorted(procfs.tids(p.pid)):
                w = waits.get(tid)
                if w and w.in_wait != RUNNING:
                    deadline = "no deadline" if w.target == NO_TARGET else f"until {w.target / 1e9:.9f} s"
                    threads.append(f"thread {tid} in {w.what} ({deadline})")
                else:
                    threads.append(f"thread {tid} {procfs.kernel_wait(p.pid, tid)}")
            parts.append(f"pid {p.pid} ({p.name}): {'; '.join(threads) or 'no threads'}")
        return ("Participants: " + " | ".join(parts)) if parts else "No other participant is live."


def _quiet(first: tuple[dict[int, KernelState], dict[int, _Wait]],
           second: tuple[dict[int, KernelState], dict[int, _Wait]]) -> bool:
    """No thread ran between the two scans, except APP waiters that only woke themselves: such a
    thread is in the same wait (`waits` unchanged), asleep at both scans, and ran exactly as many
    more timeslices as it counted self-wakes (a real sub-wait that timed out and was repeated; the
    count is bumped before it sleeps again, and each scan's count is stable around its /proc reads).
    Anything else that woke it (a message, a signal, the watcher's eventfd) ends or restarts its
    wait, or costs a timeslice with no self-wake: it shows."""
    (seen1, waits1), (seen2, waits2) = first, second
    if seen1.keys() != seen2.keys():
        return False
    for tid, k2 in seen2.items():
        k1 = seen1[tid]
        if k1 == k2:
            continue
        w1, w2 = waits1.get(tid), waits2.get(tid)
        if (w1 is None or w2 is None or w1.in_wait != WAIT_APP or w2.in_wait != WAIT_APP or w1.waits != w2.waits
                or k1 is _VIRTUAL or k2 is _VIRTUAL or k1.state != "S" or k2.state != "S"):
            return False
        woke = (w2.self_wakes - w1.self_wakes) & 0xFFFFFFFF
        if woke == 0 or k2.timeslices - k1.timeslices != woke:
            return False
    return True
