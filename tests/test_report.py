"""`revati-search report / best / compare / dashboard` on real Optuna studies in SQLite
(tests/study_fixtures.py builds them as the optimizer writes them)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from revati_search import report
from revati_search.cli import app
from study_fixtures import SLO, TWO, make_study, metrics, serving_study

ROOT = Path(__file__).resolve().parents[1]
FILES = ("trials.csv", "pareto.csv", "report.html", "pareto.png", "history.png", "importance.png")


def p(mbt: int, graph: bool = False) -> dict:
    return {"serving.max_batch_tokens": mbt, "serving.use_cuda_graph": graph}


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _check_files(out: Path) -> str:
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    for png in FILES[3:]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "<script src=" not in page and "Plotly.newPlot" in page   # plotly.js inline: no network needed
    return page


def test_report_two_objectives(tmp_path):
    db = f"sqlite:///{tmp_path / 'study.db'}"
    serving_study(db)
    r = cli("report", str(tmp_path / "study.db"), "--out", str(tmp_path / "rep"))
    assert r.exit_code == 0, r.output
    assert "8 trials (6 complete: 5 feasible, 1 infeasible; 1 failed; 1 running)" in r.output
    assert "recommended: trial 2" in r.output
    page = _check_files(tmp_path / "rep")
    assert "CUDA out of memory (tried to allocate 2.0 GiB)" in page              # the fail reason, in the table
    assert "infeasible (SLO violated)" in page and "recommended" in page and "Parameter importance" in page
    front = pd.read_csv(tmp_path / "rep" / "pareto.csv")
    assert list(front["number"]) == [5, 2, 0]
    trials = pd.read_csv(tmp_path / "rep" / "trials.csv")
    assert len(trials) == 8 and trials.loc[4, "state"] == "FAIL" and trials.loc[4, "fail_reason"].startswith("CUDA")


@pytest.mark.parametrize("case", ["one-objective", "three-objectives", "single-trial", "all-failed", "empty"])
def test_report_shapes(tmp_path, case):
    db = f"sqlite:///{tmp_path / 'study.db'}"
    if case == "one-objective":
        s = make_study(db, case, [("output_throughput", "maximize")],
                       [{"params": p(256), "metrics": metrics(100, 50)}, {"params": p(1024), "metrics": metrics(200, 700)},
                        {"params": p(2048), "state": "fail", "fail_reason": "engine hung"}], SLO)
    elif case == "three-objectives":
        s = make_study(db, case, TWO + [("cost_per_million_output_tokens_usd", "minimize")],
                       [{"params": p(256 * (i + 1), i % 2 == 0), "metrics": metrics(100 + 40 * i, 50 + 30 * i, 1 + i % 3)}
                        for i in range(6)])
    elif case == "single-trial":
        s = make_study(db, case, TWO, [{"params": p(256), "metrics": metrics(100, 50)}])
    elif case == "all-failed":
        s = make_study(db, case, TWO, [{"params": p(256), "state": "fail", "fail_reason": "CUDA out of memory"},
                                       {"params": p(512), "state": "fail"}])
    else:
        s = make_study(db, case, TWO, [])
    paths = report.write(s, tmp_path / "rep")
    page = _check_files(tmp_path / "rep")
    assert set(paths) == set(FILES)
    imp = report.importance(s)
    if case in ("single-trial", "all-failed", "empty"):
        assert "needs at least 2 completed trials" in imp.message and imp.message in page
        assert ("recommended: trial 0" if case == "single-trial" else "no recommendation") in page
    else:
        assert imp.message is None and set(imp.per_objective) == {o["metric"] for o in s.user_attrs["objectives"]}
        assert "recommended: trial" in page
    if case == "all-failed":
        assert "CUDA out of memory" in page and "2 failed trial(s)" in page


def test_best(tmp_path):
    db = tmp_path / "study.db"
    serving_study(f"sqlite:///{db}")
    r = cli("best", str(db), "--run-file", str(tmp_path / "best.yaml"))
    assert r.exit_code == 0, r.output
    assert "recommended trial 2 (" in r.output and "Pareto front: 3 trials" in r.output and "serving.max_batch_tokens = 1024" in r.output
    assert "modelled: virtual h100 x1, predictor default, host cpu_scale 1.41 (default (serving scale))" in r.output
    assert "ContinuousBatchingConfig(max_batch_tokens=1024, use_cuda_graph=False)" in r.output
    assert "transformers serve /models/llama-3.2-1b --continuous-batching --attn-implementation sdpa" in r.output
    assert "max_batch_tokens: 1024" in (tmp_path / "best.yaml").read_text()
    j = json.loads(cli("best", str(db), "--json").output)
    assert j["recommendation"]["trial_number"] == 2 and j["launch"]["serve_exact"] is True
    assert j["recommendation"]["metrics"]["p99_ttft_ms"] == 120.0

    failed = f"sqlite:///{tmp_path / 'failed.db'}"
    make_study(failed, "failed", TWO, [{"params": p(256), "state": "fail", "fail_reason": "OOM"}])
    r = cli("best", failed)
    assert r.exit_code == 1 and "no trial is both complete and feasible" in r.output
    assert cli("best", str(tmp_path / "missing.db")).exit_code == 2


def test_compare_exit_codes(tmp_path):
    db = tmp_path / "nightly.db"
    url = f"sqlite:///{db}"
    serving_study(url, "monday")
    serving_study(url, "tuesday", scale=0.98)
    serving_study(url, "wednesday", scale=0.8)
    same = cli("compare", f"{db}#monday", f"{db}#tuesday")
    assert same.exit_code == 0, same.output
    assert "best 300 -> 294 (-2.0%)" in same.output and "no regression beyond 5.0%" in same.output
    worse = cli("compare", f"{db}#tuesday", f"{url}#wednesday", "--json")
    assert worse.exit_code == 1
    c = json.loads(worse.output)
    assert c["regression"] and c["objectives"][0]["regressed"] and c["epsilon"]["value"] == pytest.approx(0.18 / 0.98)
    assert cli("compare", f"{db}#tuesday", f"{db}#wednesday", "--tolerance", "0.25").exit_code == 0
    # bad input: 2
    assert cli("compare", f"{db}#monday", str(tmp_path / "nope.db")).exit_code == 2
    assert cli("compare", str(db), f"{db}#monday").exit_code == 2                 # three studies, none named
    make_study(url, "other", [("output_throughput", "maximize")], [])
    r = cli("compare", f"{db}#monday", f"{db}#other")
    assert r.exit_code == 2 and "different objectives" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_serves_the_study(tmp_path):
    db = tmp_path / "study.db"
    serving_study(f"sqlite:///{db}", "served")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "revati_search.cli", "dashboard", str(db), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as resp:
                    body = json.loads(resp.read())
                break
            except OSError:
                time.sleep(0.3)
        assert body is not None, proc.stdout.read().decode() if proc.poll() is not None else "no answer in 60 s"
        (summary,) = body["study_summaries"]
        assert summary["study_name"] == "served"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", timeout=10) as resp:
            detail = json.loads(resp.read())
        assert len(detail["trials"]) == 8
        assert any(a["key"] == "metrics" for a in detail["trials"][0]["user_attrs"])   # metrics show per trial
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_compare_across_storages(tmp_path, postgres_url):
    """Last night's study in SQLite, tonight's on PostgreSQL (as a cluster run keeps it)."""
    old = tmp_path / "old.db"
    serving_study(f"sqlite:///{old}", "nightly")
    serving_study(postgres_url, "nightly", scale=1.1)
    r = cli("compare", str(old), postgres_url, "--json")
    assert r.exit_code == 0, r.output
    c = json.loads(r.output)
    assert c["objectives"][0]["new_best"] == pytest.approx(330) and not c["regression"]
    r = cli("report", postgres_url, "--out", str(tmp_path / "rep"))
    assert r.exit_code == 0 and (tmp_path / "rep" / "report.html").exists()
