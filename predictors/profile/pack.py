"""Turn a harness profile (profile.json from ``python -m predictors.profile``) into the compact
measurements the package ships: ``predictors/profiles/<gpu>/profile.json``.

    python -m predictors.profile.pack RAW_PROFILE.json GPU_KEY [RAW_FORWARD.jsonl.gz]
    python -m predictors.profile.pack --extend RAW_PROFILE.json GPU_KEY

Kept: meta and host costs; one row per measured GEMM, attention, copy/memset item (median over
repetitions and its spread); the kernel table (kernel name, grid, block -> median duration) from
the memory-bound kernel sweep, the forward passes and the serving runs, each row tagged with where
it was measured; and per forward pass its measured GPU time, split by class.
"""
from __future__ import annotations

import gzip
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from predictors.profile import grid, kineto

FORMAT = 1
PROFILES = Path(__file__).resolve().parents[1] / "profiles"
GEMM_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_mm", "aten::baddbmm", "aten::matmul"}


def spread(reps: list[float]) -> float:
    med = statistics.median(reps)
    return round((max(reps) - min(reps)) / med, 3) if med else 0.0


def op_class(op: Any, cat: str) -> str:
    if op is not None and op[0] in GEMM_OPS:
        return "gemm"
    if op is not None and "attention" in op[0]:
        return "attention"
    return "kernel" if cat == "kernel" else "copy"


def forward_samples(raw_forward: Path, name: Any) -> tuple[list[list[Any]], list[list[Any]]]:
    """GEMM and attention samples measured inside the forward passes (raw-forward.jsonl.gz): the
    device time of each aten::mm / cuDNN attention call, median over repetitions and layers, keyed
    as the interposer reports the operation (transformers' linear layers: x @ W^T)."""
    gemm: dict[tuple[Any, ...], list[float]] = {}
    attn: dict[tuple[Any, ...], list[float]] = {}
    kernels: dict[tuple[Any, ...], Any] = {}
    with gzip.open(raw_forward, "rt") as f:
        for line in f:
            rec = json.loads(line)
            if not rec["tag"].startswith("forward "):
                continue
            cid = rec["tag"].removeprefix("forward ")
            parsed = kineto.parse(rec["events"], ops=True)
            calls: dict[tuple[Any, ...], list[Any]] = {}
            for e in parsed.events:
                if e.label and e.label.startswith("rv|fwd|") and e.op is not None:
                    calls.setdefault((e.label, e.op[0], e.op[3]), [e.op, 0, None]) 
                    entry = calls[(e.label, e.op[0], e.op[3])]
                    entry[1] += e.dur_ns
                    if e.cat == "kernel" and (entry[2] is None or e.dur_ns > entry[2][1]):
                        entry[2] = (e.name, e.dur_ns)
            for (label, opname, _), (op, ns, main) in calls.items():
                dims, types = op[1] or [], op[2] or []
                if opname == "aten::mm" and len(dims) >= 2 and types[:2] == ["c10::BFloat16", "c10::BFloat16"]:
                    (m, k), (_, n) = dims[0], dims[1]
                    key = (m, n, k, 1, "bf16", "linear", f"forward:{cid}")
                    gemm.setdefault(key, []).append(ns)
                elif opname == "aten::_cudnn_attention_forward" and len(dims) >= 3 and len(dims[0]) == 4:
                    (b, h, q, d), (_, kvh, kv, _) = dims[0], dims[1]
                    masked = len(dims) > 3 and bool(dims[3])
                    causal = not masked and q == kv and q > 1
                    dtype = {"c10::BFloat16": "bf16", "c10::Half": "fp16"}.get(types[0])
                    if dtype is None:
                        continue
                    key = (b, h, kvh, q, kv, d, causal, dtype, masked, f"forward:{cid}")
                    attn.setdefault(key, []).append(ns)
                else:
                    continue
                if main is not None:
                    kernels[key] = main[0]
    gemm_rows = [[*k[:6], round(statistics.median(v)), spread(v), name_of(name, kernels.get(k)), k[6]]
                 for k, v in gemm.items()]
    attn_rows = [[*k[:9], round(statistics.median(v)), spread(v), name_of(name, kernels.get(k)), k[9]]
                 for k, v in attn.items()]
    return gemm_rows, attn_rows


def name_of(name: Any, text: str | None) -> int | None:
    return None if text is None else name(text)


def pack(raw: dict[str, Any], key: str, raw_forward: Path | None = None) -> dict[str, Any]:
    names: list[str] = raw["names"]
    out_names: list[str] = []
    index: dict[str, int] = {}

    def name(i: int | str) -> int:
        text = names[i] if isinstance(i, int) else i
        if text not in index:
            index[text] = len(out_names)
            out_names.append(text)
        return index[text]

    sec = raw["sections"]
    gemm_rows, attn_rows, copy_rows = [], [], []
    for rec in sec.get("gemm", {}).values():
        if "ns" in rec and rec["ns"] > 0:
            it = rec["item"]
            main = max(rec.get("kernels") or [[None, None, None, 0]], key=lambda r: r[3])[0]
            gemm_rows.append([it["m"], it["n"], it["k"], it["batch"], it["dtype"], it["form"], round(rec["ns"]),
                              spread(rec["reps"]), name(main) if main is not None else None, "grid"])
    for rec in sec.get("attention", {}).values():
        if "ns" in rec and rec["ns"] > 0:
            it = rec["item"]
            main = max(rec.get("kernels") or [[None, None, None, 0]], key=lambda r: r[3])[0]
            attn_rows.append([it["batch"], it["heads"], it["kv_heads"], it["q_len"], it["kv_len"], it["head_dim"],
                              it["causal"], it["dtype"], bool(it.get("mask")), round(rec["ns"]), spread(rec["reps"]),
                              name(main) if main is not None else None, "grid"])
    for rec in sec.get("copy", {}).values():
        if "ns" in rec and rec["ns"] > 0:
            it = rec["item"]
            copy_rows.append([it["direction"], it["pinned"], it["bytes"], round(rec["ns"]), spread(rec["reps"])])

    # kernel table: (name, grid, block) -> durations, per source
    table: dict[tuple[Any, ...], list[float]] = {}

    def add(source: str, row: list[Any], durations: list[float]) -> None:
        if row[1] is None or row[2] is None:
            return
        k = (name(row[0]), tuple(row[1]), tuple(row[2]), source)
        table.setdefault(k, []).extend(durations)

    for ikey, rec in sec.get("kernels", {}).items():
        for row in rec.get("kernels", []):
            if row[4] == "kernel":
                add(ikey, row, [row[3]])
    forwards = {}
    for cid, rec in sec.get("forward", {}).items():
        if "ns" not in rec:
            continue
        by_class: dict[str, float] = {}
        for row, opi in zip(rec.get("kernels", []), rec.get("kernel_op", [])):
            op = rec["ops"][opi] if opi is not None else None
            cls = op_class(op, row[4])
            by_class[cls] = by_class.get(cls, 0.0) + row[3]
            if row[4] == "kernel":
                add(f"forward:{cid}", row, [row[3]])
        forwards[cid] = {"composition": rec["composition"], "ns": round(rec["ns"]), "reps": [round(x) for x in rec["reps"]],
                         "count": rec["count"][0], "by_class": {k: round(v) for k, v in by_class.items()}}
    serve = {}
    for model, rec in sec.get("serve", {}).items():
        if "table" not in rec:
            continue
        for row in rec["table"]:
            if row[5] == "kernel":
                add(f"serve:{model}", [row[0], row[1], row[2]], [row[3]] * min(int(row[4]), 1))
        serve[model] = {k: rec[k] for k in ("requests", "prompt", "new", "tokens", "device_ns", "events")}
    if raw_forward is not None:
        g_rows, a_rows = forward_samples(raw_forward, name)
        gemm_rows += g_rows
        attn_rows += a_rows
    kernel_rows = [[n, list(g), list(b), round(statistics.median(d)), len(d), src]
                   for (n, g, b, src), d in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][3], kv[0][1], kv[0][2]))]
    return {
        "format": FORMAT,
        "gpu": key,
        "meta": raw["meta"],
        "host": sec.get("host", {}),
        "names": out_names,
        "gemm": {"columns": ["m", "n", "k", "batch", "dtype", "form", "ns", "spread", "kernel", "source"],
                 "rows": gemm_rows},
        "attention": {"columns": ["batch", "heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype", "mask",
                                  "ns", "spread", "kernel", "source"], "rows": attn_rows},
        "copy": {"columns": ["direction", "pinned", "bytes", "ns", "spread"], "rows": copy_rows},
        "kernels": {"columns": ["name", "grid", "block", "ns", "count", "source"], "rows": kernel_rows},
        "forward": forwards,
        "serve": serve,
        "holdout": {"percent": grid.HOLDOUT_PERCENT, "rule": "blake2b-64 of the item key (predictors.profile.grid)"},
    }


def extend(shipped: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """A shipped profile with the measurements of a later harness run on the same GPU model added
    (items added to the grids since, measured with e.g. ``--sections kernels,attention --kernel-ops
    ... --head-dims ...``): its GEMM, attention and kernel-table rows. A row measuring the same item
    replaces the shipped one; the run is listed under ``extended``."""
    new = pack(raw, shipped["gpu"])
    if new["meta"].get("gpu") != shipped["meta"].get("gpu"):
        raise ValueError(f"the new measurements are of {new['meta'].get('gpu')!r}, the profile of "
                         f"{shipped['meta'].get('gpu')!r}")
    names = list(shipped["names"])
    index = {n: i for i, n in enumerate(names)}

    def name(i: int | None) -> int | None:
        if i is None:
            return None
        text = new["names"][i]
        if text not in index:
            index[text] = len(names)
            names.append(text)
        return index[text]

    out = dict(shipped)
    added = {}
    for table in ("gemm", "attention", "kernels"):
        columns = shipped[table]["columns"]
        named = columns.index("kernel" if "kernel" in columns else "name")
        measured = {columns.index(c) for c in ("ns", "spread", "count") if c in columns}
        if columns[named] == "kernel":   # a GEMM or attention item's main kernel is a result, not its identity:
            measured.add(named)          # re-measured, it replaces its row even where the library chose another

        def key(row: list[Any]) -> str:
            return json.dumps([v for i, v in enumerate(row) if i not in measured])

        rows = {key(r): r for r in shipped[table]["rows"]}
        for r in new[table]["rows"]:
            r = [name(v) if i == named else v for i, v in enumerate(r)]
            rows[key(r)] = r
        out[table] = {"columns": columns, "rows": list(rows.values())}
        added[table] = len(new[table]["rows"])
    out["names"] = names
    ops = sorted({key.split("|")[1] for key in raw["sections"].get("kernels", {})})
    runs = raw.get("runs") or [{}]
    out["extended"] = [*shipped.get("extended", []), {"meta": new["meta"], "kernel_ops": ops, "rows": added,
                                                      "l2_flush": runs[-1].get("l2_flush", "dirty")}]
    return out


def write(data: dict[str, Any], key: str) -> Path:
    folder = PROFILES / key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profile.json"
    # one row per line: small diffs, readable, compact
    lines = ["{"]
    items = list(data.items())
    for i, (k, v) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        if isinstance(v, dict) and "rows" in v:
            rows = ",\n".join("  " + json.dumps(r, separators=(",", ":")) for r in v["rows"])
            lines.append(f' {json.dumps(k)}: {{"columns": {json.dumps(v["columns"])}, "rows": [\n{rows}\n ]}}{end}')
        elif k in ("names",):
            rows = ",\n".join("  " + json.dumps(n) for n in v)
            lines.append(f' {json.dumps(k)}: [\n{rows}\n ]{end}')
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}{end}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str]) -> int:
    """pack.py RAW_PROFILE.json GPU_KEY [RAW_FORWARD.jsonl.gz]
    pack.py --extend RAW_PROFILE.json GPU_KEY   (add a later run's kernel table to the shipped profile)"""
    if argv and argv[0] == "--extend":
        raw = json.loads(Path(argv[1]).read_text())
        shipped = json.loads((PROFILES / argv[2] / "profile.json").read_text())
        path = write(extend(shipped, raw), argv[2])
        print(f"extended {path} ({path.stat().st_size / 1e3:.0f} kB)")
        return 0
    raw = json.loads(Path(argv[0]).read_text())
    path = write(pack(raw, argv[1], Path(argv[2]) if len(argv) > 2 else None), argv[1])
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
