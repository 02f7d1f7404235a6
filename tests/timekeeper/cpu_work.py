"""CPU work: prints JSON {virtual: monotonic delta, cpu: process CPU time delta}."""
import json
import time

from cpu_loop import work

v0, c0 = time.monotonic(), time.process_time()
work(6_000_000)
print(json.dumps({"virtual": time.monotonic() - v0, "cpu": time.process_time() - c0}))
