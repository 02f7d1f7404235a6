"""Serving metrics, named as `vllm bench serve` names them, from the per-request table
(requests.csv) alone.

Times in the table are seconds from the start of the trace (the instant arrival 0 is due):
  sent_s         the request handed to the engine
  first_token_s  its first generated token
  last_token_s   its last generated token
  token_times_s  every generated token (space separated)
TTFT = first - sent; E2EL = last - sent; TPOT = (last - first) / (tokens - 1) for requests of more
than one token; ITL = gaps between consecutive tokens of a request, pooled over all requests;
duration = the last completion (from the start of the trace).
"""
from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path
from typing import IO, Any, Iterable, Optional

import numpy as np

COLUMNS = ("request_id", "arrival_s", "sent_s", "first_token_s", "last_token_s", "input_tokens", "output_tokens",
           "status", "error", "token_times_s")
STATS = ("mean", "median", "std", "p90", "p99")
SERIES = ("ttft", "tpot", "itl", "e2el")


def write_requests(rows: Iterable[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            row = dict(r)
            times = row.get("token_times_s") or []
            if not isinstance(times, str):
                row["token_times_s"] = " ".join(f"{t:.9f}" for t in times)
            w.writerow({k: row.get(k, "") for k in COLUMNS})


def open_requests(path: Path) -> IO[str]:
    """A requests.csv for reading, or its gzipped archive (requests.csv.gz, as benchmarks/ keeps them)."""
    path = Path(path)
    if not path.exists() and path.with_name(path.name + ".gz").exists():
        path = path.with_name(path.name + ".gz")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return open(path, newline="")


def read_requests(path: Path) -> list[dict[str, Any]]:
    out = []
    with open_requests(path) as f:
        for row in csv.DictReader(f):
            r: dict[str, Any] = dict(row)
            for k in ("arrival_s", "sent_s", "first_token_s", "last_token_s"):
                r[k] = float(row[k]) if row[k] not in ("", None) else math.nan
            for k in ("input_tokens", "output_tokens"):
                r[k] = int(row[k]) if row[k] not in ("", None) else 0
            r["token_times_s"] = [float(x) for x in (row.get("token_times_s") or "").split()]
            out.append(r)
    return out


def _stats(name: str, values_s: list[float], out: dict[str, float]) -> None:
    ms = np.asarray(values_s, dtype=np.float64) * 1e3
    if ms.size == 0:
        ms = np.zeros(1)   # as vllm: no samples read as 0
    out[f"mean_{name}_ms"] = float(np.mean(ms))
    out[f"median_{name}_ms"] = float(np.median(ms))
    out[f"std_{name}_ms"] = float(np.std(ms))
    out[f"p90_{name}_ms"] = float(np.percentile(ms, 90))
    out[f"p99_{name}_ms"] = float(np.percentile(ms, 99))


def summarize(rows: list[dict[str, Any]], slo: Optional[dict[str, Optional[float]]] = None) -> dict[str, float]:
    done = [r for r in rows if r.get("status", "ok") == "ok" and r["output_tokens"] > 0]
    ttft, tpot, itl, e2el = [], [], [], []
    good = 0
    for r in done:
        t_first = r["first_token_s"] - r["sent_s"]
        t_e2e = r["last_token_s"] - r["sent_s"]
        ttft.append(t_first)
        e2el.append(t_e2e)
        n = r["output_tokens"]
        per = (r["last_token_s"] - r["first_token_s"]) / (n - 1) if n > 1 else None
        if per is not None:
            tpot.append(per)
        times = r["token_times_s"]
        itl.extend(float(b - a) for a, b in zip(times, times[1:]))
        if slo:
            ok = ((slo.get("ttft_ms") is None or t_first * 1e3 <= slo["ttft_ms"])
                  and (slo.get("tpot_ms") is None or per is None or per * 1e3 <= slo["tpot_ms"])
                  and (slo.get("e2el_ms") is None or t_e2e * 1e3 <= slo["e2el_ms"]))
            good += ok
    duration = max((r["last_token_s"] for r in done), default=0.0)
    tin = sum(r["input_tokens"] for r in done)
    tout = sum(r["output_tokens"] for r in done)
    per_s = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    out: dict[str, float] = {
        "duration": duration,
        "completed": len(done),
        "failed": len(rows) - len(done),
        "total_input_tokens": tin,
        "total_output_tokens": tout,
        "request_throughput": per_s(len(done)),
        "output_throughput": per_s(tout),
        "total_token_throughput": per_s(tin + tout),
    }
    if slo and any(v is not None for v in slo.values()):
        out["request_goodput"] = per_s(good)
    for name, values in zip(SERIES, (ttft, tpot, itl, e2el)):
        _stats(name, values, out)
    return out


def summarize_file(path: Path, slo: Optional[dict[str, Optional[float]]] = None) -> dict[str, float]:
    return summarize(read_requests(path), slo)
