"""python -m predictors.profile --out DIR [--budget-s 540] [--sections host,copy,...]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from predictors.profile import grid
    from predictors.profile.harness import L2_FLUSH, L2_FLUSHES, SECTIONS, main as run

    ap = argparse.ArgumentParser(prog="python -m predictors.profile",
                                 description="Measure a profile of this machine's GPU (resumes from DIR/profile.json).")
    ap.add_argument("--out", type=Path, required=True, help="folder for profile.json and raw.jsonl.gz")
    ap.add_argument("--budget-s", type=float, default=540.0, help="stop cleanly after this many seconds (default 540)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, in order (default {','.join(SECTIONS)})")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per item (median is kept)")
    ap.add_argument("--timer", choices=["auto", "kineto", "events"], default="auto")
    ap.add_argument("--quick", action="store_true", help="a small subset of every section (to test the harness)")
    ap.add_argument("--kernel-ops", help="the kernels section measures only these ops (comma-separated, of "
                                         "predictors.profile.grid.KERNEL_OPS); for `pack --extend`")
    ap.add_argument("--head-dims", help="the attention section measures only these head dims (comma-separated)")
    ap.add_argument("--attention-heads", help="the attention section measures only these query head counts (comma-separated)")
    ap.add_argument("--gemm-forms", help="the gemm section measures only these forms (linear, matmul, bmm, grouped)")
    ap.add_argument("--l2-flush", choices=L2_FLUSHES,
                    help=f"how to empty the L2 cache before each repetition, for every section (default per section: {L2_FLUSH})")
    a = ap.parse_args(argv)
    ops = [o.strip() for o in a.kernel_ops.split(",")] if a.kernel_ops else None
    if ops and (unknown := sorted(set(ops) - set(grid.KERNEL_OPS))):
        ap.error(f"unknown kernel ops {unknown}; known: {', '.join(grid.KERNEL_OPS)}")
    dims = [int(d) for d in a.head_dims.split(",")] if a.head_dims else None
    heads = [int(h) for h in a.attention_heads.split(",")] if a.attention_heads else None
    forms = [f.strip() for f in a.gemm_forms.split(",")] if a.gemm_forms else None
    return run(a.out, a.budget_s, [s.strip() for s in a.sections.split(",") if s.strip()], a.reps, a.timer, a.quick,
               ops, dims, forms, heads, a.l2_flush)


if __name__ == "__main__":
    sys.exit(main())
