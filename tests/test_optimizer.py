"""The optimizer's plumbing on real Optuna (SQLite, PostgreSQL) and a real local Ray, with a fast
stand-in for the emulated run (tests/standin.py); tests/test_optimize_emulated.py runs real
emulated trials."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import ray.cloudpickle
from optuna.trial import TrialState

import tests.standin as standin
from revati_search import optimizer, study
from revati_search.store import Store

ROOT = Path(__file__).resolve().parents[1]
ray.cloudpickle.register_pickle_by_value(standin)   # Ray workers don't have tests/ on their path


def study_file(tmp_path: Path, n_trials: int = 8, parallel: int = 2, extra: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    p = tmp_path / "study.yaml"
    p.write_text(f"""name: standin
run:
  model: {ROOT}/studies/models/tiny-llama
  serving: {{attn_implementation: paged|sdpa}}
  workload: {{synthetic: {{requests: 8, rate: 16, prompt_len: 64, output_len: 16}}}}
search:
  serving.max_batch_tokens: {{int: [256, 4096], step: 256}}
  serving.scheduler_type: [fifo, prefill_first]
objectives: [{{maximize: output_throughput_per_gpu}}, {{minimize: p99_ttft_ms}}]
constraints: [{{metric: p99_ttft_ms, max: 200}}]
n_trials: {n_trials}
parallel: {parallel}
cpus_per_trial: 1
seed: 3
{extra}""")
    return p


def run(path: Path, out: Path, events: list | None = None, **update) -> optimizer.Summary:
    spec = study.load(path).model_copy(update=update)
    return optimizer.Optimizer(spec, out, evaluate=standin.evaluate,
                               on_event=(events.append if events is not None else None)).run()


def trials(out: Path, name: str = "standin") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out}/study.db").get_trials()


def test_crashing_trials_fail_with_the_reason_and_the_study_completes(tmp_path: Path) -> None:
    standin.configure(tmp_path / "out", mode="crash")
    result = run(study_file(tmp_path), tmp_path / "out")
    ts = trials(tmp_path / "out")
    assert len(ts) == 8 and result.complete + result.failed == 8
    failed = [t for t in ts if t.state == TrialState.FAIL]
    assert failed and all("illegal memory access" in t.user_attrs["fail_reason"] for t in failed)
    assert all(t.params["serving.scheduler_type"] == "prefill_first" for t in failed)
    done = [t for t in ts if t.state == TrialState.COMPLETE]
    assert done and all(t.user_attrs["metrics"]["output_throughput_per_gpu"] == t.values[0] for t in done)
    # constraints are Optuna's: system attr set at tell, <= 0 iff met
    for t in done:
        met = t.user_attrs["metrics"]["p99_ttft_ms"] <= 200
        assert (t.constraints["p99_ttft_ms"] <= 0) == met
    assert all(t.values[1] <= 200 for t in (optuna.load_study(study_name="standin", storage=f"sqlite:///{tmp_path}/out/study.db").best_trials))
    # every run is in our tables too, with its per-request records absent (the stand-in has none)
    with Store(f"sqlite:///{tmp_path}/out/study.db") as s:
        runs = s.runs("standin")
    assert {r.run_hash for r in runs} == {t.user_attrs["run_hash"] for t in ts}


def test_identical_configurations_are_run_once_and_resume_keeps_everything(tmp_path: Path) -> None:
    path = study_file(tmp_path, n_trials=6, extra="")
    events: list = []
    run(path, tmp_path / "out", events)
    first = trials(tmp_path / "out")
    assert len(first) == 6
    # more trials later: the six stay as they were; an identical configuration is not run again
    spec = study.load(path)
    st = optuna.load_study(study_name="standin", storage=f"sqlite:///{tmp_path}/out/study.db")
    st.enqueue_trial(first[0].params)
    events.clear()
    run(path, tmp_path / "out", events, n_trials=9)
    after = trials(tmp_path / "out")
    assert len(after) == 9
    for a, b in zip(first, after):
        assert (a.number, a.state, a.values, a.params) == (b.number, b.state, b.values, b.params)
    again = after[6]
    assert again.params == first[0].params and again.user_attrs["cached_from"] == first[0].number
    assert again.values == first[0].values
    assert [e.state for e in events if e.number == 6] == ["cached"]
    assert spec.n_trials == 6   # the override did not touch the file


def test_ctrl_c_cancels_running_trials_and_the_same_command_resumes(tmp_path: Path) -> None:
    standin.configure(tmp_path / "out", delay_s=1.5)
    path = study_file(tmp_path, n_trials=6)
    seen: list = []

    def interrupt_after_two(e) -> None:   # as Ctrl-C would, once, in the driver's loop
        seen.append(e)
        if e.state == "complete" and sum(x.state == "complete" for x in seen) == 2:
            raise KeyboardInterrupt

    spec = study.load(path)
    result = optimizer.Optimizer(spec, tmp_path / "out", evaluate=standin.evaluate, on_event=interrupt_after_two).run()
    assert result.interrupted
    ts = trials(tmp_path / "out")
    kept = [t for t in ts if t.state == TrialState.COMPLETE]
    cancelled = [t for t in ts if t.user_attrs.get("interrupted")]
    assert len(kept) >= 2 and cancelled and all(t.state == TrialState.FAIL for t in cancelled)
    assert {t.state for t in ts} <= {TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING}
    run(path, tmp_path / "out")
    ts2 = trials(tmp_path / "out")
    complete = [t for t in ts2 if t.state == TrialState.COMPLETE]
    assert len(complete) == 6   # interrupted trials do not count toward n_trials
    assert {t.number for t in kept} <= {t.number for t in complete}
    retried = [t for t in ts2 if "retry_of" in t.user_attrs]
    assert {t.user_attrs["retry_of"] for t in retried} == {t.number for t in cancelled}
    assert all(r.params == ts2[r.user_attrs["retry_of"]].params for r in retried)


def test_a_dead_ray_worker_is_retried(tmp_path: Path) -> None:
    standin.configure(tmp_path / "out", mode="die")
    run(study_file(tmp_path, n_trials=4), tmp_path / "out")
    ts = trials(tmp_path / "out")
    assert len(ts) == 4 and all(t.state == TrialState.COMPLETE for t in ts)
    died = [t for t in ts if t.params["serving.scheduler_type"] == "prefill_first"]
    assert died, "the seed gives no prefill_first trial"
    for t in died:   # attempts counted by the stand-in: the first one killed its worker
        assert (Path(t.user_attrs["out_dir"]) / "attempts").read_text() == "2"


def test_a_study_that_exists_with_other_objectives_is_refused(tmp_path: Path) -> None:
    run(study_file(tmp_path, n_trials=1, parallel=1), tmp_path / "out")
    other = study.load(study_file(tmp_path, n_trials=1)).model_copy(update={"objectives": [study.Objective(metric="duration", direction="minimize")]})
    with pytest.raises(optimizer.OptimizeError, match="already exists with objectives"):
        optimizer.Optimizer(other, tmp_path / "out", evaluate=standin.evaluate).run()


def test_two_optimizer_processes_share_one_study_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    path = study_file(tmp_path, n_trials=10, parallel=1)
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "standin.py"), str(path), str(tmp_path / f"out{i}"),
                               postgres_url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ts = optuna.load_study(study_name="standin", storage=postgres_url).get_trials()
    done = [t for t in ts if t.state == TrialState.COMPLETE]
    numbers = [t.number for t in ts]
    assert len(numbers) == len(set(numbers))            # no trial twice
    assert len(done) >= 10                               # none lost: the budget is met in all
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in ts), [(t.number, t.state) for t in ts]
    # both processes worked on it
    dirs = {Path(t.user_attrs["out_dir"]).parents[1].name for t in done if "cached_from" not in t.user_attrs}
    assert dirs == {"out0", "out1"}, dirs


def test_warm_start_runs_the_other_studys_pareto_configurations_first(tmp_path: Path) -> None:
    run(study_file(tmp_path / "a", n_trials=6), tmp_path / "a" / "out")
    old = optuna.load_study(study_name="standin", storage=f"sqlite:///{tmp_path}/a/out/study.db")
    front = sorted(tuple(sorted(t.params.items())) for t in old.best_trials)
    assert front
    spec = study.load(study_file(tmp_path / "b", n_trials=len(front) + 1)).model_copy(update={"name": "tonight"})
    new = optimizer.open_study(spec, optimizer.storage_for(spec, tmp_path / "b" / "out"))
    assert optimizer.warm_start(new, f"sqlite:///{tmp_path}/a/out/study.db#standin") == len(front)
    assert optimizer.warm_start(new, f"sqlite:///{tmp_path}/a/out/study.db#standin") == 0   # each once
    optimizer.Optimizer(spec, tmp_path / "b" / "out", evaluate=standin.evaluate).run()
    ts = trials(tmp_path / "b" / "out", "tonight")
    first = sorted(tuple(sorted(t.params.items())) for t in ts[:len(front)])
    assert first == front and all("warm_start_from" in t.user_attrs for t in ts[:len(front)])
    with pytest.raises(optimizer.OptimizeError, match="no study 'nope'"):
        optimizer.warm_start(new, f"sqlite:///{tmp_path}/a/out/study.db#nope")


def test_parallel_trials_are_checked_against_the_clusters_cpus(tmp_path: Path) -> None:
    import ray

    notes: list = []
    big = study.load(study_file(tmp_path, parallel=8)).model_copy(update={"cpus_per_trial": 1000.0})
    with pytest.raises(optimizer.OptimizeError, match="reserves 1000 CPUs"):
        optimizer.Optimizer(big, tmp_path / "out", evaluate=standin.evaluate).run()
    spec = study.load(study_file(tmp_path, parallel=64, n_trials=2))
    o = optimizer.Optimizer(spec, tmp_path / "out2", evaluate=standin.evaluate, on_event=notes.append)
    cpus = o._ray()
    assert cpus == ray.cluster_resources()["CPU"]
    assert o._slots(cpus) == int(cpus) and "do not fit" in notes[0].reason


@pytest.mark.parametrize("sampler", ["nsga2", "gp", "random"])
def test_every_sampler_runs_a_constrained_two_objective_study(tmp_path: Path, sampler: str) -> None:
    result = run(study_file(tmp_path, n_trials=5), tmp_path / "out", sampler=sampler)
    ts = trials(tmp_path / "out")
    assert len(ts) == 5 and result.complete == 5
    assert all(set(t.constraints) == {"p99_ttft_ms"} for t in ts)


def test_trials_of_a_killed_optimizer_are_failed_and_run_again_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(optimizer, "GRACE_S", 1)
    monkeypatch.setattr(optimizer, "HEARTBEAT_S", 1)
    spec = study.load(study_file(tmp_path, n_trials=3, parallel=1))
    url = optimizer.storage_for(spec, tmp_path / "out")
    st = optimizer.open_study(spec, url)
    lost = st.ask()   # as a killed optimizer leaves it: RUNNING, with a heartbeat that stops
    lost.suggest_int("serving.max_batch_tokens", 256, 4096, step=256)
    lost.suggest_categorical("serving.scheduler_type", ["fifo", "prefill_first"])
    st._storage.record_heartbeat(lost._trial_id)
    import time
    time.sleep(2.5)
    run(tmp_path / "study.yaml", tmp_path / "out", n_trials=3)
    ts = trials(tmp_path / "out")
    assert ts[0].state == TrialState.FAIL and "fail_reason" not in ts[0].user_attrs
    retries = [t for t in ts if t.user_attrs.get("retry_of") == 0]
    assert len(retries) == 1 and retries[0].params == ts[0].params and retries[0].state == TrialState.COMPLETE
    assert sum(t.state == TrialState.COMPLETE for t in ts) == 3   # the lost one did not count
    run(tmp_path / "study.yaml", tmp_path / "out", n_trials=3)    # nothing left to do: no second retry
    assert len(trials(tmp_path / "out")) == len(ts)


def _open_at_once(url: str, path: str, barrier, results) -> None:
    from revati_search import optimizer, study
    spec = study.load(Path(path))
    barrier.wait()
    try:
        optimizer.open_study(spec, url)
        results.put("ok")
    except Exception as e:  # noqa: BLE001
        results.put(f"{type(e).__name__}: {e}")


def test_optimizers_opening_a_new_postgresql_study_at_once_all_succeed(tmp_path: Path, postgres_url: str) -> None:
    """PostgreSQL's concurrent CREATE TABLE fails all but one creator of Optuna's tables (measured: 10 of
    20 raw RDBStorage opens in 5 rounds of 4); open_study retries until they exist."""
    import multiprocessing as mp

    path = study_file(tmp_path)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(postgres_url, str(path), barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [results.get(timeout=5) for _ in procs] == ["ok"] * 4
    assert len(optuna.get_all_study_names(postgres_url)) == 1
