"""cuDNN execution-plan builds of a real serving run, per engine step:
`python benchmarks/cudnn_builds.py RUN_DIR...` (folders of benchmarks/host_profile_real.sh MODE=shim:
requests.csv under run/, cudnn-calls.txt[.gz] with one line per outermost cuDNN call).

Prints the builds' count and duration quantiles (cudnnBackendFinalize of an EXECUTION_PLAN, type 5)
and, with --series, each step: its duration (validation_steps.py's steps from token times) / the
build time that ended inside it (x N where not one build). The shim's clock is CLOCK_MONOTONIC, the
run's token times are relative: the offset is the one that puts the most builds within 60 ms before
a step's tokens.
"""
from __future__ import annotations

import bisect
import gzip
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validation_steps import steps  # noqa: E402

EXECUTION_PLAN = "5"


def builds(folder: Path) -> list[tuple[float, float]]:
    path = next(folder.glob("cudnn-calls*"))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [(int(p[2]) / 1e9, int(p[3]) / 1e9) for p in (line.split() for line in f)
                if p[0] == "F" and p[1] == EXECUTION_PLAN]


def main(argv: list[str]) -> None:
    series = "--series" in argv
    for folder in (Path(a) for a in argv if a != "--series"):
        plan = builds(folder)
        st = steps(folder / "run" / "requests.csv")
        tok = [s["start"] for s in st]
        ms = sorted(d * 1e3 for _, d in plan)
        q = lambda f: ms[int(f * (len(ms) - 1))]  # noqa: E731
        print(f"{folder}: {len(st)} steps, {len(plan)} plan builds: median {statistics.median(ms):.1f} ms, "
              f"p10 {q(.1):.1f}, p90 {q(.9):.1f}, max {ms[-1]:.0f}; {sum(ms) / 1e3:.2f} s in all")
        if not series:
            continue

        def inside(offset: float) -> int:
            return sum(1 for s, d in plan if (k := bisect.bisect_left(tok, s + d - offset)) < len(tok)
                       and tok[k] - (s + d - offset) < 0.06)
        offset = max((s + d - t for s, d in plan[:40] for t in tok[:5]), key=inside)
        per = [[0.0, 0] for _ in st]
        for s, d in plan:
            k = bisect.bisect_left(tok, s + d - offset)
            if k < len(st):
                per[k][0] += d * 1e3
                per[k][1] += 1
        print("  step ms / build ms: " + " ".join(
            f"{(tok[i] - tok[i - 1]) * 1e3:.0f}/{per[i][0]:.0f}{'' if per[i][1] == 1 else 'x' + str(per[i][1])}"
            for i in range(1, len(st))))


if __name__ == "__main__":
    main(sys.argv[1:])
