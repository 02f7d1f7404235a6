"""Tensor parallelism (`hardware.count` > 1): `revati-search emulate` of an 8B-shaped Llama on two
virtual H100s, every rank a process of the same emulation (NCCL over the fake libnccl meeting on the
shared clock, gloo and the TCPStore on localhost), against the same load on one; and the run-file
check of what the count must divide."""
from __future__ import annotations

import collections
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from revati_search import spec
from revati_search.spec import SpecError

ROOT = Path(__file__).resolve().parents[1]
MODEL_8B = ROOT / "studies" / "models" / "llama-3.1-8b"
CLI = [sys.executable, "-c", "from revati_search.cli import app; app()"]
PROMPT = 16384


def run_file(tmp_path: Path, count: int, model: Path = MODEL_8B) -> Path:
    # prefill-heavy: all requests at once, each step prefills one 16k-token prompt while the requests
    # before it decode; with 2 output tokens each request's TPOT is the one step after its prefill,
    # a step with the next prompt's prefill in it for all but the last request. There the GPU's share
    # of a step (which TP splits) far outweighs the host's (which it does not: ~0.2 s of an eager
    # step, and TP adds host work). With 4k-token prompts the GPU's share was about half a step, and
    # the host's CPU time, inflated on a busy 2-core machine, once made TP2's steps the longer
    spec = {"backend": "hf-transformers", "model": str(model), "dtype": "bfloat16",
            "hardware": {"gpu": "h100", "count": count},
            "serving": {"attn_implementation": "paged|sdpa", "max_batch_tokens": PROMPT, "use_cuda_graph": False},
            "workload": {"synthetic": {"requests": 6, "arrival": "poisson", "seed": 0,
                                       "prompt_len": PROMPT, "output_len": 2}}}
    path = tmp_path / f"run-tp{count}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def emulate(tmp_path: Path, count: int) -> Path:
    out = tmp_path / f"tp{count}"
    # no warm-up sweep of every prompt length (prefill shapes up to PROMPT tokens): it only primes
    # the predictor's replies, and both runs go without it alike
    env = {**os.environ, "REVATI_WARMUP_SWEEP": "0"}
    p = subprocess.run([*CLI, "emulate", str(run_file(tmp_path, count)), "--out", str(out)], capture_output=True,
                       text=True, timeout=600, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    tmp = tmp_path_factory.mktemp("tp")
    return {count: emulate(tmp, count) for count in (1, 2)}


def test_tp2_serves_every_request_on_two_virtual_gpus(runs):
    out = runs[2]
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] == s["requests"] == 6 and s["failed"] == 0
    assert s["hardware"] == {"gpu": "h100", "count": 2}
    assert s["versions"]["gpu_count"] == 2
    assert json.loads((out / "harness.json").read_text())["tensor_parallel_size"] == 2
    work = [json.loads(line) for line in (out / "workload.jsonl").read_text().splitlines()]
    rows = list(csv.DictReader((out / "requests.csv").open()))
    assert [r["request_id"] for r in rows] == [w["request_id"] for w in work]
    for r, w in zip(rows, work):
        assert r["status"] == "ok" and int(r["output_tokens"]) == w["output_len"] == len(r["token_times_s"].split())
    assert not list(out.glob("error*.txt"))

    # one process per rank, each on its own virtual GPU, the same steps on both: the row-parallel
    # projections' all-reduces (2 per layer per step) and the LM head's all-gather
    traces = sorted((out / "traces").glob("trace-*.json"))
    assert len(traces) == 2
    trace = json.loads((out / "trace.json").read_text())["traceEvents"]
    per_pid: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    devices: dict[int, set] = collections.defaultdict(set)
    for e in trace:
        if e.get("ph") == "X" and e.get("pid", 0) != 0 and "device" in e.get("args", {}):
            devices[e["pid"]].add(e["args"]["device"])
            if e["args"].get("ranks") == 2:
                per_pid[e["pid"]][e["name"]] += 1
    assert sorted(tuple(d) for d in devices.values()) == [(0,), (1,)]
    counts = list(per_pid.values())
    assert len(counts) == 2 and counts[0] == counts[1]
    layers = json.loads((MODEL_8B / "config.json").read_text())["num_hidden_layers"]
    assert counts[0]["all_reduce"] >= 2 * layers * 6 and counts[0]["all_gather"] >= 6   # >= 6 forward passes


def test_tp2_shortens_the_steps_of_an_8b_model(runs):
    """Each step's GEMMs and attention are split over two GPUs: the median TPOT (a step with a
    16k-token prefill in it) is shorter on two GPUs than on one at the same load."""
    one, two = (json.loads((runs[n] / "summary.json").read_text()) for n in (1, 2))
    assert one["completed"] == two["completed"] == 6
    assert two["median_tpot_ms"] < 0.85 * one["median_tpot_ms"], (one["median_tpot_ms"], two["median_tpot_ms"])
    assert two["cost_per_million_output_tokens_usd"] > 0


def test_count_must_divide_the_heads(tmp_path):
    with pytest.raises(SpecError) as e:
        spec.load(run_file(tmp_path, 3))
    assert str(e.value) == ("hardware.count: 3 does not divide num_key_value_heads 8 of llama-3.1-8b (tensor "
                            "parallelism splits it over the GPUs); counts that do: 1, 2, 4, 8")
    assert spec.load(run_file(tmp_path, 8)).hardware.count == 8
