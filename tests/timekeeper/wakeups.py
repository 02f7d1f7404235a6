"""A thread in a timed wait on a Python lock (Event.wait, queue.get with a timeout: glibc semaphore
waits) is woken by another thread's set/put, as an engine's idle loop is by a new request. Prints
JSON: per primitive, the virtual ms from each wake-up call to the waiter's return, and whether the
waiter saw the wake-up."""
import json
import queue
import threading
import time

TIMEOUT_S = 0.1
GAPS_S = [0.35, 0.363, 0.376, 0.389, 0.402]   # not multiples of the timeout: the wake-up lands mid-wait

out: dict[str, list[float]] = {"event": [], "queue": []}
ev = threading.Event()
q: queue.Queue = queue.Queue()
stop = False


def event_waiter() -> None:
    while not stop:
        if ev.wait(timeout=TIMEOUT_S):
            out["event"].append(time.monotonic())
            ev.clear()


def queue_waiter() -> None:
    while not stop:
        try:
            q.get(timeout=TIMEOUT_S)
        except queue.Empty:
            continue
        out["queue"].append(time.monotonic())


threads = [threading.Thread(target=event_waiter), threading.Thread(target=queue_waiter)]
for t in threads:
    t.start()
sent: list[float] = []
for gap in GAPS_S:
    time.sleep(gap)
    sent.append(time.monotonic())
    ev.set()
    q.put(1)
time.sleep(0.3)
stop = True
for t in threads:
    t.join()
print(json.dumps({kind: [round((got - s) * 1e3, 3) for got, s in zip(times, sent)] for kind, times in out.items()}))
