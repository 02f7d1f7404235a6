"""The CPU work the timekeeper scripts time: a pure-Python loop (no system calls, no allocation
beyond small ints), so its cost is CPU time alone."""


def work(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x
