"""The optimizer's progress view: one line per finished trial off a terminal, a live table on one."""
from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from revati_search.optimizer import TrialEvent
from revati_search.progress import ProgressView
from tests.test_study import BASE, SEARCH, load


def events() -> list[TrialEvent]:
    p = {"serving.max_batch_tokens": 512}
    return [TrialEvent(0, "started", p), TrialEvent(1, "started", p),
            TrialEvent(0, "complete", p, values=[100.0, 50.0], wall_s=30.0),
            TrialEvent(1, "failed", p, reason="RuntimeError: [engine] out of memory\ntraceback", wall_s=10.0),
            TrialEvent(2, "complete", p, values=[120.0, 40.0], wall_s=50.0),
            TrialEvent(3, "complete", p, values=[500.0, 10.0], wall_s=40.0, feasible=False),
            TrialEvent(4, "cached", p, values=[90.0, 60.0])]


def test_off_a_terminal_each_finished_trial_is_one_line(tmp_path: Path) -> None:
    spec = load(tmp_path, BASE + SEARCH)
    buf = io.StringIO()
    with ProgressView(spec, Console(file=buf, width=200)) as view:
        for e in events():
            view(e)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 5 and lines[0].startswith("trial 0 complete: output_throughput_per_gpu=100, p99_ttft_ms=50")
    assert lines[1] == "trial 1 failed: RuntimeError: [engine] out of memory"
    assert "(violates constraints)" in lines[3] and lines[4].startswith("trial 4 cached")
    # the infeasible trial 3 and the dominated 0 and 4 are not on the front; 2 is
    assert view.front == [(2, [120.0, 40.0])] and view.best() == "1 configurations on the Pareto front"
    assert (view.done, view.complete, view.failed, view.cached) == (5, 4, 1, 1)
    assert view.eta_s() == 0.0   # 5 of n_trials=4 done: nothing left


def test_on_a_terminal_the_table_is_live(tmp_path: Path) -> None:
    spec = load(tmp_path, BASE + SEARCH)
    buf = io.StringIO()
    with ProgressView(spec, Console(file=buf, force_terminal=True, width=200)) as view:
        for e in events()[:3]:
            view(e)
    out = buf.getvalue()
    assert "1/4 trials" in out and "running 1" in out and "ETA 90 s" in out
