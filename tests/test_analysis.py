"""Analysis of studies (revati_search.analysis) and launch arguments (revati_search.launch), on real
Optuna studies in SQLite built as the optimizer writes them (tests/study_fixtures.py)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from revati_search import analysis, launch
from study_fixtures import SLO, TWO, make_study, metrics, serving_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def p(mbt: int, graph: bool = False, n: int = 1) -> dict:
    return {"serving.max_batch_tokens": mbt, "serving.use_cuda_graph": graph, "hardware.count": n}


def test_trials_frame(db):
    df = analysis.trials_frame(serving_study(db))
    assert list(df["number"]) == list(range(8))
    assert list(df["state"]) == ["COMPLETE"] * 4 + ["FAIL", "COMPLETE", "RUNNING", "COMPLETE"]
    assert df["feasible"].tolist()[:4] == [True, True, True, False] and df["feasible"].isna().tolist()[4]
    assert set(df.loc[df["pareto"], "number"]) == {0, 2, 5}
    assert df.loc[4, "fail_reason"].startswith("CUDA out of memory")
    assert math.isnan(df.loc[4, "output_throughput_per_gpu"])
    assert df.loc[3, "constraint_p99_ttft_ms"] == pytest.approx(0.8)   # (900 - 500) / 500
    assert df.loc[2, "params_serving.max_batch_tokens"] == 1024 and df.loc[7, "params_hardware.count"] == 2
    assert df.loc[0, "metrics_p99_ttft_ms"] == 50.0 and "metrics_hardware" not in df   # nested metrics left out
    assert df.loc[0, "run_hash"] == "hash-serving-0"


def test_front_recommend_two_objectives(db):
    s = serving_study(db)
    front = analysis.pareto_front(s)
    assert list(front["number"]) == [5, 2, 0]   # best throughput first; 3 (faster, SLO violated) is not there
    rec = analysis.recommend(s)
    # front scaled: throughput losses 1, .5, 0 and TTFT 0, .28, 1 for trials 0, 2, 5: trial 2 is nearest (0, 0)
    assert rec.trial_number == 2 and rec.front_size == 3 and rec.alternatives == [0, 5]
    assert rec.values == {"output_throughput_per_gpu": 200.0, "p99_ttft_ms": 120.0}
    assert rec.run_spec["serving"]["max_batch_tokens"] == 1024 and rec.run_hash == "hash-serving-2"
    assert rec.to_dict()["params"] == p(1024)
    assert analysis.pareto_params(s) == [p(256), p(1024), p(2048, True)]


def test_recommend_single_objective_skips_infeasible(db):
    s = make_study(db, "one", [("output_throughput", "maximize")],
                   [{"params": p(256), "metrics": metrics(100, 50)},
                    {"params": p(4096), "metrics": metrics(400, 900)},    # best value, but over the SLO
                    {"params": p(1024), "metrics": metrics(200, 120)},
                    {"params": p(8192), "state": "fail", "fail_reason": "hang"}], SLO)
    rec = analysis.recommend(s)
    assert rec.trial_number == 2 and rec.values == {"output_throughput": 200.0} and rec.front_size == 1
    assert "best feasible" in rec.rule


def test_recommend_three_objectives(db):
    objs = TWO + [("cost_per_million_output_tokens_usd", "minimize")]
    s = make_study(db, "three", objs, [{"params": p(256), "metrics": metrics(100, 50, cost=1.0)},
                                       {"params": p(1024), "metrics": metrics(200, 120, cost=1.5)},
                                       {"params": p(2048), "metrics": metrics(300, 300, cost=3.0)},
                                       {"params": p(512), "metrics": metrics(90, 130, cost=3.5)}])   # dominated
    assert [t.number for t in analysis.front_trials(s)] == [0, 1, 2]
    assert analysis.recommend(s).trial_number == 1


def test_no_recommendation(db):
    failed = make_study(db, "failed", TWO, [{"params": p(256), "state": "fail", "fail_reason": "OOM"},
                                            {"params": p(512), "state": "fail"}])
    assert analysis.recommend(failed) is None and analysis.pareto_params(failed) == []
    assert analysis.least_infeasible(failed) is None
    bad = make_study(db, "infeasible", TWO, [{"params": p(256), "metrics": metrics(100, 900)},
                                             {"params": p(512), "metrics": metrics(100, 600)}], SLO)
    assert analysis.recommend(bad) is None and analysis.least_infeasible(bad).number == 1
    assert analysis.counts(bad)["infeasible"] == 2
    empty = make_study(db, "empty", TWO, [])
    assert analysis.recommend(empty) is None and analysis.trials_frame(empty).empty


def test_hypervolume():
    ref = np.array([1.1, 1.1])
    # two boxes of 1.1 x 0.1 overlapping in 0.1 x 0.1
    assert analysis.hypervolume(np.array([[0.0, 1.0], [1.0, 0.0]]), ref) == pytest.approx(0.21)   # 2 x 0.11 - 0.01
    assert analysis.hypervolume(np.array([[0.2]]), np.array([1.1])) == pytest.approx(0.9)
    assert analysis.hypervolume(np.empty((0, 2)), ref) == 0.0


def test_compare_fronts(db):
    old = serving_study(db, "old")
    same = analysis.compare_fronts(old, serving_study(db, "same"))
    assert not same["regression"] and same["hypervolume"]["change"] == 0.0 and same["epsilon"]["value"] == 0.0
    assert len(same["front"]["kept"]) == 3 and not same["front"]["entered"] and not same["front"]["left"]

    slower = analysis.compare_fronts(old, serving_study(db, "slower", scale=0.9), tolerance=0.05)
    tput = slower["objectives"][0]
    assert tput["old_best"] == 300 and tput["new_best"] == pytest.approx(270) and tput["change"] == pytest.approx(-0.1)
    assert tput["regressed"] and not slower["objectives"][1]["regressed"] and slower["regression"]
    assert slower["front"]["kept"][0]["change"]["output_throughput_per_gpu"] == pytest.approx(-0.1)
    assert slower["epsilon"]["value"] == pytest.approx(0.1) and slower["epsilon"]["metric"] == "output_throughput_per_gpu"
    assert len(slower["reasons"]) == 2   # the best throughput, and the front's coverage
    assert not analysis.compare_fronts(old, serving_study(db, "slower2", scale=0.97), tolerance=0.05)["regression"]
    faster = analysis.compare_fronts(old, serving_study(db, "faster", scale=1.2))
    assert not faster["regression"] and faster["objectives"][0]["improvement"] == pytest.approx(0.2)
    assert faster["epsilon"]["value"] == 0.0   # faster, same TTFT: matched exactly in the worst objective
    assert faster["hypervolume"]["new"] > faster["hypervolume"]["old"]

    # a new configuration enters the front, one leaves
    moved = make_study(db, "moved", TWO, [{"params": p(256), "metrics": metrics(100, 50)},
                                          {"params": p(1024), "metrics": metrics(200, 120)},
                                          {"params": p(3072, True), "metrics": metrics(350, 280)}], SLO)
    m = analysis.compare_fronts(old, moved)
    assert [e["params"] for e in m["front"]["entered"]] == [p(3072, True)]
    assert [e["params"] for e in m["front"]["left"]] == [p(2048, True)]
    assert not m["regression"]   # (350, 280) beats the (300, 300) that left
    # the middle of the front worse by 20% while both ends hold: a regression no best value shows
    sag = make_study(db, "sag", TWO, [{"params": p(256), "metrics": metrics(100, 50)},
                                      {"params": p(1024), "metrics": metrics(160, 144)},
                                      {"params": p(2048, True), "metrics": metrics(300, 300)}], SLO)
    s2 = analysis.compare_fronts(old, sag)
    assert s2["regression"] and not any(o["regressed"] for o in s2["objectives"])
    assert s2["epsilon"]["value"] == pytest.approx(0.2) and s2["epsilon"]["old_trial"] == 2

    gone = make_study(db, "gone", TWO, [{"params": p(256), "state": "fail", "fail_reason": "crash"}])
    g = analysis.compare_fronts(old, gone)
    assert g["regression"] and any("empty front" in r for r in g["reasons"])
    with pytest.raises(ValueError, match="different objectives"):
        analysis.compare_fronts(old, make_study(db, "other", [("output_throughput", "maximize")], []))


def test_resolve(tmp_path, db):
    serving_study(db, "a")
    assert analysis.resolve(tmp_path / "study.db") == (db, "a")
    assert analysis.resolve(f"{db}#a") == (db, "a")
    serving_study(db, "b")
    with pytest.raises(analysis.StudyRefError, match="holds 2 studies"):
        analysis.resolve(db)
    assert analysis.open_study(db, study_name="b").study_name == "b"
    with pytest.raises(analysis.StudyRefError, match="no such storage file"):
        analysis.resolve(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(analysis.StudyRefError, match="no study 'zzz'"):
        analysis.open_study(db, study_name="zzz")
    # a study file: its storage and name
    study_file = tmp_path / "s.yaml"
    study_file.write_text(yaml.safe_dump({
        "name": "b", "storage": db,
        "run": {"model": str(ROOT / "studies/models/tiny-llama"),
                "workload": {"synthetic": {"requests": 4, "prompt_len": 16, "output_len": 4}}},
        "search": {"serving.max_batch_tokens": {"int": [128, 1024]}},
        "objectives": [{"maximize": "output_throughput"}], "n_trials": 2}))
    assert analysis.resolve(study_file) == (db, "b")
    assert analysis.resolve(study_file, storage=db) == (db, "b")
    with pytest.raises(analysis.StudyRefError, match="run `revati-search optimize"):
        analysis.resolve(study_file, storage=str(tmp_path / "elsewhere.db"))
    with pytest.raises(analysis.StudyRefError, match="no such study file"):
        analysis.resolve(tmp_path / "nope.yaml")


def test_launch_args(tmp_path):
    from revati_search import spec as run_spec

    spec = run_spec.load(ROOT / "studies/runs/tiny-llama.yaml").model_dump(mode="json")
    spec["serving"].update({"max_batch_tokens": 1024, "use_cuda_graph": True, "block_size": 128})
    out = launch.launch_args(spec)
    assert "ContinuousBatchingConfig(max_batch_tokens=1024, use_cuda_graph=True, block_size=128)" in out["python"]
    assert "attn_implementation='paged|sdpa'" in out["python"]
    assert out["serve"].endswith("--continuous-batching --attn-implementation sdpa --dtype bfloat16 "
                                 "--cb-max-batch-tokens 1024 --cb-use-cuda-graph --cb-block-size 128")
    assert out["serve_exact"] and out["serve_note"] is None
    compile(out["python"], "snippet", "exec")
    # the run file is one `revati-search emulate` accepts, and the same run
    path = tmp_path / "best.yaml"
    path.write_text(out["run_file"])
    assert run_spec.load(path).model_dump(mode="json") == spec

    spec["serving"]["scheduler_type"] = "fifo"   # the engine's default: serve needs no flag for it
    assert launch.launch_args(spec)["serve_exact"]
    spec["serving"]["scheduler_type"] = "prefill_first"
    other = launch.launch_args(spec)
    assert not other["serve_exact"] and "scheduler_type='prefill_first'" in other["serve_note"]
    spec["hardware"]["count"] = 2
    tp = launch.launch_args(spec)
    assert tp["serve"] is None and "one GPU" in tp["serve_note"]
    assert "DistributedConfig(tp_size=2" in tp["python"] and "torchrun --nproc-per-node 2" in tp["python"]
    compile(tp["python"], "snippet", "exec")
