"""python -m predictors.profile --out DIR [--budget-s 540] [--sections host,copy,...]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from predictors.profile.harness import SECTIONS, main as run

    ap = argparse.ArgumentParser(prog="python -m predictors.profile",
                                 description="Measure a profile of this machine's GPU (resumes from DIR/profile.json).")
    ap.add_argument("--out", type=Path, required=True, help="folder for profile.json and raw.jsonl.gz")
    ap.add_argument("--budget-s", type=float, default=540.0, help="stop cleanly after this many seconds (default 540)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, in order (default {','.join(SECTIONS)})")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per item (median is kept)")
    ap.add_argument("--timer", choices=["auto", "kineto", "events"], default="auto")
    ap.add_argument("--quick", action="store_true", help="a small subset of every section (to test the harness)")
    a = ap.parse_args(argv)
    return run(a.out, a.budget_s, [s.strip() for s in a.sections.split(",") if s.strip()], a.reps, a.timer, a.quick)


if __name__ == "__main__":
    sys.exit(main())
