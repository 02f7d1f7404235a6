"""CPU work: prints JSON {virtual: monotonic delta, cpu: process CPU time delta}."""
import json
import time

v0, c0 = time.monotonic(), time.process_time()
x = 0
for i in range(6_000_000):
    x += i * i
print(json.dumps({"virtual": time.monotonic() - v0, "cpu": time.process_time() - c0}))
