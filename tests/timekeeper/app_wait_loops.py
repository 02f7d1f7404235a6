"""Threads in timed waits of the application's own primitives beside a main thread doing 50 virtual
sleeps of 39 ms: loops with a timeout (an epoll_wait of 10 ms, what gloo's transport thread does; a
poll, a select, a queue.get and an Event.wait of 100 ms, as asyncio or a queue consumer), 24 idle
workers in waits with a one-minute timeout (a thread pool's), and a reader blocked in epoll with a
5 s timeout that a pipe write wakes for real mid-way. Prints "start", then a JSON line: loop
iterations, virtual times of the write and of the read."""
import json
import os
import queue
import select
import threading
import time

counts = {"epoll": 0, "poll": 0, "select": 0, "queue": 0, "event": 0}
stop = threading.Event()


def epoll_loop():
    ep = select.epoll()
    while not stop.is_set():
        ep.poll(0.01)
        counts["epoll"] += 1


def poll_loop():
    r, _ = os.pipe()
    p = select.poll()
    p.register(r, select.POLLIN)
    while not stop.is_set():
        p.poll(100)
        counts["poll"] += 1


def select_loop():
    r, _ = os.pipe()
    while not stop.is_set():
        select.select([r], [], [], 0.1)
        counts["select"] += 1


def queue_loop():
    q = queue.Queue()
    while not stop.is_set():
        try:
            q.get(timeout=0.1)
        except queue.Empty:
            pass
        counts["queue"] += 1


def event_loop():   # a condition variable's timed wait
    e = threading.Event()
    while not stop.is_set():
        e.wait(0.1)
        counts["event"] += 1


def idle(kind):   # a worker waiting for work that does not come
    r, _ = os.pipe()
    if kind == "epoll":
        ep = select.epoll()
        ep.register(r, select.EPOLLIN)
        ep.poll(60)
    elif kind == "poll":
        p = select.poll()
        p.register(r, select.POLLIN)
        p.poll(60000)
    elif kind == "select":
        select.select([r], [], [], 60)
    else:
        queue.Queue().get(timeout=60)


rd, wr = os.pipe()
got = {}


def reader():
    ep = select.epoll()
    ep.register(rd, select.EPOLLIN)
    events = ep.poll(5.0)
    got["read_at"] = time.monotonic()
    got["events"] = len(events)


threads = [threading.Thread(target=f, daemon=True) for f in (epoll_loop, poll_loop, select_loop, queue_loop, event_loop, reader)]
threads += [threading.Thread(target=idle, args=(k,), daemon=True) for k in ("epoll", "poll", "select", "queue") * 6]
for t in threads:
    t.start()
time.sleep(0.05)   # every loop is in its wait
print("start", flush=True)
t0 = time.monotonic()
for i in range(50):
    time.sleep(0.039)
    if i == 24:
        got["write_at"] = time.monotonic()
        os.write(wr, b"x")
t1 = time.monotonic()
stop.set()
print(json.dumps({"virtual_s": t1 - t0, "counts": counts, "write_at": got["write_at"] - t0,
                  "read_at": got["read_at"] - t0, "events": got["events"]}), flush=True)
