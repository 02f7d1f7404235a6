"""The timekeeper's two wire protocols: the clock page (shared memory, every participant) and the
control endpoint (ZeroMQ, for tools outside the run).

Clock page
----------
One file in /dev/shm per run (``revati-<uuid>``), named to participants by ``$REVATI_TIMEKEEPER``;
its layout is ``rvtk_page`` of timekeeper/native/revati_clock.h, mirrored by timekeeper/page.py.
The service creates it (magic, version, ``cpu_scale``, clock offsets from the real clocks at start,
``anchor_virtual_ns`` = 0, a process-shared robust mutex) and unlinks it at the end of the run, with
every companion file participants made beside it (``<page>.<suffix>``, e.g. ``.coll``, the native
side's collective table); processes already running keep their mappings.

- Each process's time ``L_p = anchor_virtual_ns + offset_ns + cpu_scale * (cpu(pid) - cpu_anchor_ns)``;
  the run's clock ``G = max over LIVE procs of max(L_p, seen_ns)``; both read under the seqlock ``seq``.
  ``seen_ns`` is the latest time a thread of the process read (atomic max; set to G at registration):
  the kernel adds a running thread's CPU time to its process's clock only at scheduler ticks, so
  without it a reader could see less than a peer thread or process already read. A process
  reads ``max(L_p, its seen_ns)``, first raising its ``offset_ns`` to catch up with G when the reading thread
  blocked since its last read (so nothing is observed before it was sent); a virtual wait that ends
  at its target raises ``L_p`` to the target. ``CLOCK_REALTIME = L_p + realtime_offset_ns``,
  ``CLOCK_MONOTONIC = L_p + monotonic_offset_ns``.
- Participants register a proc slot under ``lock`` (state LIVE, ``cpu_anchor_ns`` = their CPU time,
  ``offset_ns`` so that they start at G) and leave by re-anchoring under ``lock`` and setting EXITED
  with their exit code.
- A waiting thread claims a thread slot (CAS on ``tid``), bumps ``waits``, sets ``target``
  (RVTK_NO_TARGET: no deadline) and ``what``, sets ``in_wait`` (3 BUSY: a real-time call outside the
  run, counts as running; 1 APP: ends for real or at the deadline; 2 VIRTUAL: only the clock ends
  it), bumps ``notify`` and futex-wakes it, then sleeps on ``generation`` (VIRTUAL) or on the
  application's primitive (APP). An APP waiter whose real sub-wait timed out and is repeated bumps
  ``self_wakes`` before it sleeps again. Each process's jump watcher thread wakes after every jump
  its APP waiters whose deadline G reached (a condition broadcast, a write to the thread's eventfd
  that its poll/select/epoll also watches, a futex wake of its semaphore's word).
- The service wakes on ``notify`` (or every 5 ms, sooner after a check that failed on a thread about
  to sleep; 100 ms while everyone is blocked with no deadline) and checks:
  * a LIVE proc whose pid is gone (or a zombie) fails the run;
  * a non-zero exit while others are live fails the run if its parent is not a live participant;
    if it is, the parent decides, unless the run stalls (all blocked, no deadline) before it leaves.
    The codes 128 + SIGKILL/SIGTERM/SIGINT/SIGHUP/SIGQUIT, which a participant sets on another it stops
    with that signal, are an orderly end;
  * if every thread of every LIVE proc, and of every EXITED one still running, is blocked (VIRTUAL;
    or asleep in the kernel with unchanged run time and timeslices over two back-to-back /proc
    scans, APP waits included; an APP waiter may instead have as many more timeslices as more
    ``self_wakes`` in the same wait, ``waits`` unchanged, the slots read unchanged around each scan),
    it jumps: under ``lock`` ``seq``++, ``anchor_virtual_ns =
    max(min target, G)``, every LIVE proc's ``cpu_anchor_ns`` = its CPU time and ``offset_ns`` = 0,
    ``seq``++, then
    ``generation``++ and a futex wake of ``generation``;
  * blocked with no target for ``hang_timeout_s`` of wall time fails the run.
- Failure: ``fail_reason`` (NUL-terminated, at most 511 bytes), then ``failed`` = 1, then
  ``generation``++ with futex wakes of ``generation`` and ``notify``: every wait returns and the
  participants exit; the launcher kills the run's process group.

Control endpoint
----------------
A ZeroMQ REP socket, ``ipc://<run_dir>/timekeeper.sock`` unless told otherwise (``tcp://`` works
too). One JSON object per request, one per reply:

    {"op": "status"} -> {"now_ns": 1234, "generation": 7, "failed": false, "reason": null,
                         "participants": [{"slot": 0, "pid": 4711, "name": "python serve.py",
                                           "state": "live", "exit_code": 0, "threads": [
                                               {"tid": 4711, "in_wait": "virtual", "target": 5000000,
                                                "what": "sleep"}]}]}
    {"op": "stop"}   -> {"ok": true}   (ends the run: it fails with reason "stopped over the control endpoint")
    anything else    -> {"error": "..."}

``state`` is "live" or "exited"; ``in_wait`` is "running", "app", "virtual" or "busy"; ``target`` is null for
a wait without deadline (and for a thread not waiting).
"""
from __future__ import annotations

import json
import threading
from typing import Callable, Literal

import zmq
from pydantic import BaseModel, ValidationError

STOP_REASON = "stopped over the control endpoint"


class ThreadStatus(BaseModel):
    tid: int
    in_wait: Literal["running", "app", "virtual", "busy"]
    target: int | None
    what: str


class ParticipantStatus(BaseModel):
    slot: int
    pid: int
    name: str
    state: Literal["live", "exited"]
    exit_code: int
    threads: list[ThreadStatus]


class Status(BaseModel):
    now_ns: int
    generation: int
    participants: list[ParticipantStatus]
    failed: bool
    reason: str | None


class Request(BaseModel):
    op: Literal["status", "stop"]


class ControlServer:
    """Answers control requests on a ZeroMQ REP socket from its own thread."""

    def __init__(self, endpoint: str, status: Callable[[], Status], stop: Callable[[], None]) -> None:
        self.endpoint = endpoint
        self._status = status
        self._stop = stop
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.REP)
        self._socket.bind(endpoint)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"timekeeper-control {endpoint}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closing.is_set():
            if not self._socket.poll(50):   # wakes often enough for close() to be prompt
                continue
            self._socket.send(json.dumps(self._answer(self._socket.recv())).encode())

    def _answer(self, raw: bytes) -> dict[str, object]:
        try:
            request = Request.model_validate_json(raw)
        except ValidationError as e:
            return {"error": "; ".join(f"{'.'.join(map(str, x['loc'])) or 'request'}: {x['msg']}" for x in e.errors())}
        if request.op == "stop":
            self._stop()
            return {"ok": True}
        return self._status().model_dump()

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self._socket.close(linger=0)
        self._context.term()
