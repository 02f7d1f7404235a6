"""`revati-search optimize` end to end with real emulated trials: the real engine on virtual GPUs,
real Ray (two trials at once), real SQLite; a crashing engine, a run past its time limit, Ctrl-C,
resume."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from timekeeper import calibrate

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "revati_search.cli"]
OK = {"serving.max_batch_tokens": 512, "serving.num_blocks": 512, "serving.scheduler_type": "fifo"}
CRASH = {**OK, "serving.num_blocks": 1}          # the engine itself fails: no request can be scheduled
SLOW = {**OK, "serving.max_batch_tokens": 1}     # one token per step: far past the trial's limit


def write_study(tmp_path: Path) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(f"""name: emulated
run:
  model: {ROOT}/studies/models/tiny-llama
  hardware: {{gpu: h100, count: 1}}
  serving: {{attn_implementation: paged|sdpa, page_size: 32}}
  workload: {{synthetic: {{requests: 16, rate: 32, arrival: poisson, seed: 1, prompt_len: 1024, output_len: 8}}}}
search:
  serving.max_batch_tokens: [1, 256, 512]
  serving.num_blocks: [1, 512]
  serving.scheduler_type: [fifo, prefill_first]
objectives: [{{maximize: output_throughput_per_gpu}}, {{minimize: p99_ttft_ms}}]
constraints: [{{metric: median_tpot_ms, max: 1000}}]
n_trials: 3
parallel: 2
cpus_per_trial: 1
trial_timeout: 40
storage: sqlite:///{tmp_path}/study.db
target_host: host.json
""")
    # the modelled host: the stored h100 host, twice as slow on the Python loop
    slow = {**dataclasses.asdict(calibrate.reference("h100")), "python_loop_s": 2 * calibrate.reference("h100").python_loop_s}
    (tmp_path / "host.json").write_text(json.dumps(slow))
    return p


def load(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(study_name="emulated", storage=f"sqlite:///{tmp_path}/study.db")


def harness_processes(tmp_path: Path) -> list[str]:
    out = subprocess.run(["pgrep", "-af", "revati_search"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if str(tmp_path) in ln]


def optimize(study: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["optimize", str(study), "--out", str(tmp_path / "runs"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_emulated_trials_crash_hang_interrupt_resume(tmp_path: Path) -> None:
    study_file = write_study(tmp_path)
    optuna.create_study(study_name="emulated", storage=f"sqlite:///{tmp_path}/study.db",
                        directions=["maximize", "minimize"])
    st = load(tmp_path)
    for params in (SLOW, OK, CRASH):   # run in this order, two at a time
        st.enqueue_trial(params)

    r = optimize(study_file, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    ts = {t.number: t for t in load(tmp_path).get_trials()}
    assert [ts[i].state for i in range(3)] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL]
    assert "exceeded its wall-clock limit of 40 s" in ts[0].user_attrs["fail_reason"]
    assert "No requests can be scheduled" in ts[2].user_attrs["fail_reason"]   # the engine's own message
    ok = ts[1]
    m = ok.user_attrs["metrics"]
    assert m["completed"] == 16 and m["mode"] == "emulated" and ok.values == [m["output_throughput_per_gpu"], m["p99_ttft_ms"]]
    assert ok.user_attrs["versions"]["torch"] == "2.14.1"
    assert m["cpu_scale_source"].startswith("target host measured")   # the study's target_host reached the run
    # Ray ran two emulations at once: the slow one spans the other's whole run
    assert ts[0].datetime_start < ok.datetime_complete and ok.datetime_start < ts[0].datetime_complete
    assert "trial 2 failed: " in r.stderr and "No requests can be scheduled" in r.stderr
    assert not harness_processes(tmp_path)

    # more trials, interrupted with Ctrl-C while two run; then the same command resumes
    nxt = [{**OK, "serving.max_batch_tokens": 256}, {**OK, "serving.scheduler_type": "prefill_first"}]
    for params in nxt:
        load(tmp_path).enqueue_trial(params)
    p = subprocess.Popen(CLI + ["optimize", str(study_file), "--out", str(tmp_path / "runs"), "--n-trials", "5"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = [t for t in load(tmp_path).get_trials() if t.state == TrialState.RUNNING and "run_hash" in t.user_attrs]
        if len(running) == 2:
            break
        time.sleep(0.5)
    assert len(running) == 2, p.stdout.read() if p.poll() is not None else "no two trials running"
    time.sleep(3)   # inside the emulations
    p.send_signal(signal.SIGINT)
    out = p.communicate(timeout=120)[0]
    assert p.returncode == 130, out
    ts = {t.number: t for t in load(tmp_path).get_trials()}
    assert [ts[i].state for i in range(3)] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL]   # kept
    assert all(ts[t.number].user_attrs.get("interrupted") for t in running)
    time.sleep(1)
    assert not harness_processes(tmp_path), harness_processes(tmp_path)

    r = optimize(study_file, tmp_path, "--n-trials", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    ts = load(tmp_path).get_trials()
    complete = [t for t in ts if t.state == TrialState.COMPLETE]
    assert sorted(tuple(sorted(t.params.items())) for t in complete) == sorted(
        tuple(sorted(p.items())) for p in [OK] + nxt)
    assert ts[1].values == complete[0].values   # the first complete trial untouched
