"""Which L2 state makes the profile's isolated GEMM and attention timings match the same operations
inside a forward pass. On a real GPU:

    python tools/l2_flush_check.py --out DIR [--models 1b,8b] [--budget-s 400]

1. Llama forward passes (decode with an in-place cache, prefill) under torch.profiler, as the
   profile's forward section measures them: each aten::mm and cuDNN attention call's device time.
2. Every GEMM and attention shape those passes ran, measured alone as the profile's sweep does,
   once per L2 state before each repetition: ``dirty`` (a buffer of 4x the L2 written: the profiles
   of 2026-11-21), ``clean`` (that buffer read), ``warm`` (nothing: inputs left in the L2 by the
   previous repetition).

Prints, per shape, the three isolated times against the in-pass one and the median ratio per state,
and writes DIR/l2_flush.json. Compare the states by that ratio: the state whose isolated times
match the in-pass ones is the one the sweep should use.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STATES = ("dirty", "clean", "warm")


def passes(models: list[str]) -> list[Any]:
    from predictors.profile.llama import Composition

    out = []
    for model in models:
        out += [Composition(model, "decode", b, 1, context=512, cache="inplace") for b in (1, 16, 64)]
        out += [Composition(model, "prefill", 1, 2048), Composition(model, "prefill", 4, 512)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", default="1b,8b", help="Llama shapes of predictors.profile.llama.MODELS")
    ap.add_argument("--budget-s", type=float, default=400.0)
    a = ap.parse_args(argv)
    from predictors.profile import grid, harness, pack

    models = [m.strip() for m in a.models.split(",")]
    fwd = harness.Run(a.out / "forward", a.budget_s, 3, "auto", False)
    for model in models:
        harness.forward_section(fwd, model, passes(models))
    raw = fwd.raw.with_name("raw-forward.jsonl.gz")
    if not raw.exists():
        raise SystemExit("no kernel trace of the forward passes: this check needs CUPTI (a real GPU)")
    names: list[str] = []
    gemm_rows, attn_rows = pack.forward_samples(raw, lambda text: names.append(text) or len(names) - 1)
    in_pass: dict[str, list[float]] = {}
    items: dict[str, tuple[str, dict[str, Any]]] = {}
    for r in gemm_rows:   # m, n, k, batch, dtype, form, ns, spread, kernel, source
        it = dict(zip(("m", "n", "k", "batch", "dtype", "form"), r[:6]))
        key = grid.gemm_key(it)
        items[key] = ("gemm", it)
        in_pass.setdefault(key, []).append(r[6])
    for r in attn_rows:   # batch, heads, kv_heads, q, kv, head_dim, causal, dtype, masked, ns, ...
        it = dict(zip(("batch", "heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype"), r[:8]))
        if r[8]:
            it["mask"] = True
        key = grid.attention_key(it)
        items[key] = ("attention", it)
        in_pass.setdefault(key, []).append(r[9])

    alone: dict[str, dict[str, float]] = {key: {} for key in items}
    for state in STATES:
        run = harness.Run(a.out / state, a.budget_s, 5, "auto", False, "dirty" if state == "dirty" else "clean")
        for section, factory in (("gemm", harness.gemm_factory), ("attention", harness.attention_factory)):
            todo = [(key, it, factory(run, it)) for key, (s, it) in items.items() if s == section]
            run.run_items(section, todo, chunk=32, flush=state != "warm")
            for key, rec in run.file.section(section).items():
                if "ns" in rec:
                    alone[key][state] = rec["ns"]

    rows = []
    for key in sorted(items, key=lambda k: (items[k][0], -statistics.median(in_pass[k]))):
        ref = statistics.median(in_pass[key])
        rows.append({"key": key, "class": items[key][0], "in_pass_ns": ref, **{s: alone[key].get(s) for s in STATES}})
    (a.out / "l2_flush.json").write_text(json.dumps(rows, indent=1))
    print(f"{'shape':58s} {'in pass':>9s} " + " ".join(f"{s:>14s}" for s in STATES))
    for r in rows:
        cells = [f"{r[s] / 1e3:8.1f} {r[s] / r['in_pass_ns'] - 1:+5.0%}" if r[s] else f"{'-':>14s}" for s in STATES]
        print(f"{r['key']:58s} {r['in_pass_ns'] / 1e3:8.1f}u " + " ".join(cells))
    for cls in ("gemm", "attention"):
        sel = [r for r in rows if r["class"] == cls]
        med = {s: statistics.median(r[s] / r["in_pass_ns"] - 1 for r in sel if r[s]) for s in STATES if sel}
        print(f"{cls}: {len(sel)} shapes; median (alone / in pass - 1): "
              + ", ".join(f"{s} {v:+.1%}" for s, v in med.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
