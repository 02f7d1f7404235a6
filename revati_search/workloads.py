"""Workloads: the requests of a run (arrival time, prompt and output length, shared prefix blocks)
from a synthetic generator or a trace file, and the prompt token ids they turn into.

Token values are random (they never matter on virtual GPUs, and the engine's EOS is disabled) except
where requests share a prefix: equal Mooncake hash ids, or a synthetic shared_prefix, give equal
token blocks, so the engine's prefix caching sees real sharing.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from .spec import FileLen, FixedLen, LengthDist, LognormalLen, NormalLen, SyntheticSpec, UniformLen, WorkloadSpec

SHARED_PREFIX_ID = -1   # hash id of a synthetic shared prefix (trace hash ids are >= 0)


@dataclass
class Request:
    arrival_s: float                 # from the start of the trace
    input_len: int
    output_len: int
    hash_ids: list[int] = field(default_factory=list)   # prefix blocks of block_size tokens, equal ids = equal tokens
    request_id: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))


# ----------------------------------------------------------------------------- arrivals and lengths

def arrivals(n: int, rate: Optional[float], kind: str = "poisson", cv: float = 1.0,
             rng: np.random.Generator | None = None) -> np.ndarray:
    """n arrival times from 0: gaps exponential (poisson) or gamma with the given CV, mean 1/rate.
    No rate: everything at t=0. The first request arrives at 0."""
    rng = rng or np.random.default_rng(0)
    if rate is None or n == 0:
        return np.zeros(n)
    if kind == "poisson":
        gaps = rng.exponential(1.0 / rate, n)
    elif kind == "gamma":
        shape = 1.0 / (cv * cv)
        gaps = rng.gamma(shape, 1.0 / (rate * shape), n)
    else:
        raise ValueError(f"arrival {kind!r}; allowed: poisson, gamma")
    gaps[0] = 0.0
    return np.cumsum(gaps)


def _read_lengths(dist: FileLen) -> np.ndarray:
    text = Path(dist.path).read_text()
    if dist.column:
        rows = csv.DictReader(text.splitlines())
        values = [int(float(r[dist.column])) for r in rows]
    else:
        values = [int(float(x)) for x in text.split() if x.strip()]
    if not values:
        raise ValueError(f"{dist.path}: no lengths")
    return np.asarray(values)


def lengths(dist: LengthDist, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(dist, FixedLen):
        return np.full(n, dist.value, dtype=np.int64)
    if isinstance(dist, UniformLen):
        return rng.integers(dist.low, dist.high + 1, n)
    if isinstance(dist, FileLen):
        return rng.choice(_read_lengths(dist), n)
    if isinstance(dist, NormalLen):
        x = rng.normal(dist.mean, dist.std, n)
    elif isinstance(dist, LognormalLen):
        sigma2 = np.log1p((dist.std / dist.mean) ** 2)
        x = rng.lognormal(np.log(dist.mean) - sigma2 / 2, np.sqrt(sigma2), n)
    else:
        raise TypeError(dist)
    x = np.maximum(np.rint(x), dist.min)
    if dist.max is not None:
        x = np.minimum(x, dist.max)
    return x.astype(np.int64)


def synthetic(s: SyntheticSpec, block_size: int) -> list[Request]:
    rng = np.random.default_rng(s.seed)
    t = arrivals(s.requests, s.rate, s.arrival, s.cv, rng)
    pl = lengths(s.prompt_len, s.requests, rng)
    ol = lengths(s.output_len, s.requests, rng)
    out = []
    for i in range(s.requests):
        inp = int(pl[i]) + s.shared_prefix
        out.append(Request(float(t[i]), inp, int(ol[i]), [SHARED_PREFIX_ID] if s.shared_prefix else []))
    return out


# ----------------------------------------------------------------------------- trace formats

def read_mooncake(path: Path) -> list[Request]:
    """JSONL: timestamp (ms), input_length, output_length, hash_ids."""
    reqs = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            reqs.append(Request(float(r["timestamp"]) / 1e3, int(r["input_length"]), int(r["output_length"]),
                                [int(h) for h in r.get("hash_ids", [])]))
    return reqs


def _pick(row: dict[str, str], names: Iterable[str], what: str, path: Path) -> Optional[str]:
    for n in names:
        if n in row and row[n] not in (None, ""):
            return row[n]
    return None


def read_csv(path: Path) -> list[Request]:
    """Azure LLM inference (TIMESTAMP, ContextTokens, GeneratedTokens), BurstGPT (Timestamp [s],
    Request tokens, Response tokens) or a plain CSV (arrival_s | timestamp_ms | timestamp [s],
    input_length | prompt_len, output_length | output_len). Rows with a zero output are dropped."""
    rows = list(csv.DictReader(Path(path).read_text().splitlines()))
    if not rows:
        return []
    cols = set(rows[0])
    reqs = []
    for row in rows:
        inp = _pick(row, ("input_length", "prompt_len", "ContextTokens", "Request tokens", "input_tokens"), "input", path)
        out = _pick(row, ("output_length", "output_len", "GeneratedTokens", "Response tokens", "output_tokens"), "output", path)
        if inp is None or out is None:
            raise ValueError(f"{path}: needs input and output length columns (input_length/output_length, "
                             f"ContextTokens/GeneratedTokens or 'Request tokens'/'Response tokens'); has {sorted(cols)}")
        if "TIMESTAMP" in cols:        # Azure: '2023-11-16 18:15:46.6805900' (7-digit fraction)
            ts = row["TIMESTAMP"].strip()
            base, _, frac = ts.partition(".")
            t = datetime.fromisoformat(base).timestamp() + (float("0." + frac) if frac else 0.0)
        elif "arrival_s" in cols:
            t = float(row["arrival_s"])
        elif "timestamp_ms" in cols:
            t = float(row["timestamp_ms"]) / 1e3
        elif "Timestamp" in cols:
            t = float(row["Timestamp"])
        elif "timestamp" in cols:
            t = float(row["timestamp"])
        else:
            t = float("nan")           # no timestamps: synthetic arrivals
        if int(float(out)) <= 0:
            continue
        reqs.append(Request(t, max(1, int(float(inp))), int(float(out))))
    return reqs


def read_sharegpt(path: Path, chars_per_token: float = 4.0) -> list[Request]:
    """ShareGPT JSON: lengths only (first human turn as the prompt, the next turn as the output),
    estimated at chars_per_token; arrivals are synthetic."""
    data = json.loads(Path(path).read_text())
    reqs = []
    for item in data:
        conv = item.get("conversations") or item.get("conversation") or []
        if len(conv) < 2:
            continue
        p = conv[0].get("value", "")
        o = conv[1].get("value", "")
        pi, oi = max(1, round(len(p) / chars_per_token)), round(len(o) / chars_per_token)
        if oi > 0:
            reqs.append(Request(float("nan"), pi, oi))
    return reqs


def detect(path: Path) -> str:
    name = Path(path).name.lower()
    if name.endswith(".jsonl"):
        return "mooncake"
    if name.endswith(".json"):
        return "sharegpt"
    if name.endswith(".csv"):
        header = Path(path).open().readline()
        if "ContextTokens" in header:
            return "azure"
        if "Request tokens" in header:
            return "burstgpt"
        return "csv"
    raise ValueError(f"{path}: cannot tell the trace format from the name; set workload.format "
                     "(mooncake, azure, burstgpt, sharegpt, csv)")


def read_trace(path: Path, fmt: str = "auto") -> list[Request]:
    fmt = detect(path) if fmt == "auto" else fmt
    if fmt == "mooncake":
        return read_mooncake(path)
    if fmt == "sharegpt":
        return read_sharegpt(path)
    return read_csv(path)


# ----------------------------------------------------------------------------- the run's requests

def load(w: WorkloadSpec, max_model_len: Optional[int] = None) -> list[Request]:
    """The requests of a run, sorted by arrival, arrival 0 = the trace's (window's) start, with rate
    scaling, the time window, max_requests and truncation to the model's context applied."""
    if w.synthetic is not None:
        reqs = synthetic(w.synthetic, w.block_size)
    else:
        reqs = read_trace(w.trace, w.format)  # type: ignore[arg-type]
        if reqs and any(np.isnan(r.arrival_s) for r in reqs):
            if w.rate is None and len(reqs) > 1:
                raise ValueError(f"{w.trace}: the trace has no timestamps; give workload.rate (requests/s)")
            t = arrivals(len(reqs), w.rate, w.arrival, w.cv, np.random.default_rng(w.seed))
            for r, a in zip(reqs, t):
                r.arrival_s = float(a)
        reqs.sort(key=lambda r: r.arrival_s)
        if reqs:
            t0 = reqs[0].arrival_s
            for r in reqs:
                r.arrival_s -= t0
    for r in reqs:
        r.arrival_s /= w.rate_scale
    end = w.end_s / w.rate_scale if w.end_s is not None else None   # the window is in the trace's own time
    start = w.start_s / w.rate_scale
    reqs = [r for r in reqs if r.arrival_s >= start and (end is None or r.arrival_s < end)]
    for r in reqs:
        r.arrival_s -= start
    if w.max_requests is not None:
        reqs = reqs[: w.max_requests]
    if w.truncate and max_model_len:
        for r in reqs:
            r.output_len = min(r.output_len, max_model_len - 1)
            r.input_len = min(r.input_len, max_model_len - r.output_len)
    for i, r in enumerate(reqs):
        r.request_id = f"r{i}"
    return reqs


def write_jsonl(reqs: list[Request], path: Path) -> None:
    Path(path).write_text("".join(r.to_json() + "\n" for r in reqs))


def read_jsonl(path: Path) -> list[Request]:
    return [Request(**json.loads(line)) for line in Path(path).read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- token ids

def _block_tokens(hash_id: int, block_size: int, vocab: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1, hash_id + 2])   # hash ids >= -1
    return rng.integers(1, vocab, block_size)


def prompt_ids(r: Request, index: int, block_size: int, vocab: int, seed: int = 0,
               shared_prefix: int = 0) -> list[int]:
    """The prompt's token ids: the blocks of its hash ids (equal ids, equal tokens) then random
    tokens of its own, input_len in all. A synthetic shared prefix is one block of shared_prefix tokens."""
    parts = []
    for h in r.hash_ids:
        size = shared_prefix if h == SHARED_PREFIX_ID else block_size
        parts.append(_block_tokens(h, size, vocab, seed))
    have = sum(len(p) for p in parts)
    if have < r.input_len:
        rng = np.random.default_rng([seed, 2, index])
        parts.append(rng.integers(1, vocab, r.input_len - have))
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return [int(x) for x in ids[: r.input_len]]
