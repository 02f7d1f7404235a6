"""One process, two threads: a load generator sleeping until arrival times and an engine thread
that serves each request with GPU work (3 kernels) and a sync. Prints JSON events [kind, id, t_ms]."""
import json
import queue
import threading
import time

import torch

ARRIVALS_MS = [0.0, 20.0, 40.0, 200.0, 210.0, 500.0]
KERNELS = 3

x = torch.zeros(16, device="cuda")
torch.cuda.synchronize()
q: queue.Queue = queue.Queue()
events = []
ready = threading.Event()
t0 = 0.0


def now_ms() -> float:
    return (time.monotonic() - t0) * 1e3


def load_generator() -> None:
    global t0
    ready.wait()   # the engine thread is warm: its first-use costs are not part of the schedule
    t0 = time.monotonic()
    for i, a in enumerate(ARRIVALS_MS):
        delay = a / 1e3 - (time.monotonic() - t0)
        if delay > 0:
            time.sleep(delay)
        events.append(["arrive", i, now_ms()])
        q.put(i)


def engine() -> None:
    x.add_(1)
    torch.cuda.synchronize()
    ready.set()
    for _ in ARRIVALS_MS:
        i = q.get()
        events.append(["start", i, now_ms()])
        for _ in range(KERNELS):
            x.add_(1)
        torch.cuda.synchronize()
        events.append(["done", i, now_ms()])


threads = [threading.Thread(target=load_generator), threading.Thread(target=engine)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(events))
