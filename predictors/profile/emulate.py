"""The forward passes of llama.py on virtual GPUs, separated by marker copies, so that a trace of
the run (``revati-search run --trace DIR``) gives each forward's predicted GPU time.

    revati-search run --gpu h200 --predictor profiled --trace DIR -- python -m predictors.profile.emulate [IDS...]

Between two markers lies exactly one forward pass, run the way harness.py runs it on the real GPU
(two warm-up passes first). ``forward_times(trace_dir)`` reads the trace back.
"""
from __future__ import annotations

import glob
import json
import sys
from pathlib import Path
from typing import Any

MARKER_BASE = 7_770_000  # a marker is a device-to-host copy of MARKER_BASE + 2 * i (+1 at the end) bytes


def main(argv: list[str]) -> int:
    import torch

    from predictors.profile.llama import COMPOSITIONS, Forward, build_model

    wanted = set(argv)
    comps = [c for c in COMPOSITIONS if not wanted or c.id in wanted or c.model in wanted]
    models: dict[str, Any] = {}
    marker = torch.empty(MARKER_BASE + 2 * len(comps) + 2, dtype=torch.uint8, device="cuda")
    order = []
    for i, comp in enumerate(comps):
        model = models.get(comp.model)
        if model is None:
            models.clear()
            model = models[comp.model] = build_model(comp.model)
        fwd = Forward(model, comp)
        fwd.run()
        fwd.run()
        torch.cuda.synchronize()
        marker[:MARKER_BASE + 2 * i].cpu()
        fwd.run()
        marker[:MARKER_BASE + 2 * i + 1].cpu()
        torch.cuda.synchronize()
        order.append(comp.id)
        del fwd
    print(json.dumps({"forwards": order}))
    return 0


def classify(name: str, args: dict[str, Any]) -> str:
    if name.startswith("cublas"):
        return "gemm"
    if "attention" in name:
        return "attention"
    if name.startswith("memcpy") or name.startswith("memset"):
        return "copy"
    return "kernel"


def forward_times(trace_dir: Path, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per forward: predicted GPU time (sum of the durations of its operations, ns), the number of
    operations, and the time per class (gemm, attention, kernel, copy)."""
    files = sorted(glob.glob(str(Path(trace_dir) / "trace-*.json")))
    events: list[dict[str, Any]] = []
    for f in files:
        data = json.loads(Path(f).read_text())
        events += data["traceEvents"] if isinstance(data, dict) else data
    gpu = sorted((e for e in events if e.get("ph") == "X" and e.get("tid", 0) != 0 and "args" in e),
                 key=lambda e: e["ts"])
    out: dict[str, dict[str, Any]] = {}
    current = None
    for e in gpu:
        nbytes = e["args"].get("bytes")
        if e["name"].startswith("memcpy") and isinstance(nbytes, int) and MARKER_BASE <= nbytes < MARKER_BASE + 2 * len(ids) + 2:
            i, end = divmod(nbytes - MARKER_BASE, 2)
            current = None if end else ids[i]
            if current is not None:
                out[current] = {"ns": 0.0, "count": 0, "by_class": {}, "ops": []}
            continue
        if current is None:
            continue
        rec = out[current]
        ns = e["dur"] * 1000
        cls = classify(e["name"], e["args"])
        rec["ns"] += ns
        rec["count"] += 1
        rec["by_class"][cls] = rec["by_class"].get(cls, 0.0) + ns
        rec["ops"].append((e["name"], e["args"], ns))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
