"""Every kind of timed wait, 3600 s each: prints JSON {name: [d_time, d_monotonic, d_perf_counter, wall]}."""
import asyncio
import json
import queue
import selectors
import socket
import threading
import time

WAIT = 3600.0


def q_get():
    try:
        queue.Queue().get(timeout=WAIT)
    except queue.Empty:
        pass


def select_wait():
    sel = selectors.DefaultSelector()
    a, _b = socket.socketpair()
    sel.register(a, selectors.EVENT_READ)
    assert sel.select(timeout=WAIT) == []


WAITS = {
    "time.sleep": lambda: time.sleep(WAIT),
    "asyncio.sleep": lambda: asyncio.run(asyncio.sleep(WAIT)),
    "Event.wait": lambda: threading.Event().wait(WAIT),
    "Queue.get": q_get,
    "selectors": select_wait,
}

out = {}
for name, fn in WAITS.items():
    before = (time.time(), time.monotonic(), time.perf_counter())
    fn()
    after = (time.time(), time.monotonic(), time.perf_counter())
    out[name] = [b - a for a, b in zip(before, after)]
print(json.dumps(out))
