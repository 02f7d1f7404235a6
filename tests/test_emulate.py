"""End to end: `revati-search emulate` of a tiny Llama serving synthetic requests on a virtual H100
(transformers continuous batching, unmodified), and a run the engine rejects."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import yaml

from revati_search import kernels
from timekeeper import calibrate

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "studies" / "models" / "tiny-llama"
CLI = [sys.executable, "-c", "from revati_search.cli import app; app()"]


def run_file(tmp_path: Path, **serving) -> Path:
    spec = {"backend": "hf-transformers", "model": str(MODEL), "dtype": "bfloat16", "hardware": {"gpu": "h100", "count": 1},
            "serving": {"attn_implementation": "paged|sdpa", "max_batch_tokens": 512, "use_cuda_graph": False, **serving},
            "workload": {"synthetic": {"requests": 8, "rate": 50.0, "arrival": "poisson", "seed": 1,
                                       "prompt_len": {"dist": "uniform", "low": 16, "high": 80},
                                       "output_len": {"dist": "uniform", "low": 4, "high": 12}}},
            "slo": {"ttft_ms": 1000}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_emulate_tiny_llama_on_virtual_h100(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([*CLI, "emulate", str(run_file(tmp_path)), "--out", str(out)], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    for key in ("duration", "completed", "total_input_tokens", "total_output_tokens", "request_throughput",
                "output_throughput", "total_token_throughput", "request_goodput", "emulation_wall_s", "serving_wall_s", "versions"):
        assert key in s, key
    for series in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std", "p90", "p99"):
            assert f"{stat}_{series}_ms" in s
    assert s["completed"] == s["requests"] == 8 and s["failed"] == 0 and s["mode"] == "emulated"
    assert s["versions"]["gpu"] == "NVIDIA H100 80GB HBM3" and s["versions"]["transformers"] == "5.18.0"
    assert [s["cpu_scale"], s["cpu_scale_source"]] == list(calibrate.cpu_scale("h100"))   # what virtual CPU time meant
    work = [json.loads(line) for line in (out / "workload.jsonl").read_text().splitlines()]
    rows = list(csv.DictReader((out / "requests.csv").open()))
    assert [r["request_id"] for r in rows] == [w["request_id"] for w in work]
    for r, w in zip(rows, work):
        assert int(r["output_tokens"]) == w["output_len"] == len(r["token_times_s"].split())   # exact lengths, EOS off
        assert int(r["input_tokens"]) == w["input_len"]
        sent, first, last = float(r["sent_s"]), float(r["first_token_s"]), float(r["last_token_s"])
        assert sent >= float(r["arrival_s"]) - 1e-6        # handed over no earlier than its arrival
        assert first - sent > 0 and last >= first           # every TTFT > 0
    assert s["total_output_tokens"] == sum(w["output_len"] for w in work)
    assert s["total_input_tokens"] == sum(w["input_len"] for w in work)
    assert s["duration"] == max(float(r["last_token_s"]) for r in rows)
    trace = json.loads((out / "trace.json").read_text())
    assert any(e.get("pid") == 0 and e.get("ph") == "X" for e in trace["traceEvents"])       # request tracks
    assert any(e.get("pid", 0) != 0 for e in trace["traceEvents"])                            # GPU streams
    # the replay's device time by class, as `--real --kernels` measures it: inside the trace, not all of it
    table = kernels.KernelTable.load(out)
    assert table.mode == "emulated" and {"gemm", "attention", "kernel"} <= {r.cls for r in table.rows}
    device_ns = sum(round(e["dur"] * 1000) for e in trace["traceEvents"] if e.get("pid", 0) != 0
                    and e.get("ph") == "X" and e.get("tid"))
    assert 0 < table.total_ns() < device_ns          # warm-up and model build left out
    assert sum(r.count for r in table.rows if r.cls == "gemm") >= s["total_output_tokens"] / 8   # a decode step each


def test_engine_error_fails_the_run_with_its_message(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([*CLI, "emulate", str(run_file(tmp_path, page_size=2)), "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode != 0
    assert "the run failed: ValueError: page_size must be at least 4" in p.stderr
    assert not (out / "summary.json").exists()


def test_bad_run_file_names_the_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"model": str(MODEL), "hardware": {"gpu": "h100", "cards": 2},
                                    "workload": {"synthetic": {"requests": 1, "prompt_len": 4, "output_len": 2}}}))
    p = subprocess.run([*CLI, "emulate", str(path), "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and "hardware.cards: unknown key" in p.stderr


def test_wall_clock_limit_fails_the_run(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([*CLI, "emulate", str(run_file(tmp_path)), "--out", str(out), "--timeout", "2"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode != 0
    assert "exceeded its wall-clock limit of 2 s" in p.stderr
