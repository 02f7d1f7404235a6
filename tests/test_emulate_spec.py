"""Run-file validation: unknown keys and bad values are named, with the allowed values."""
from __future__ import annotations

from pathlib import Path

import pytest

from revati_search import spec as sp

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "studies" / "models" / "tiny-llama"


def base(**over):
    d = {"backend": "hf-transformers", "model": str(MODEL), "dtype": "bfloat16", "hardware": {"gpu": "h100", "count": 1},
         "serving": {"attn_implementation": "paged|sdpa", "max_batch_tokens": 512, "use_cuda_graph": False},
         "workload": {"synthetic": {"requests": 4, "rate": 2.0, "prompt_len": 32, "output_len": 8}}}
    d.update(over)
    return d


def error(d) -> str:
    with pytest.raises(sp.SpecError) as e:
        sp.parse(d, ROOT)
    return str(e.value)


def test_valid_run_file_parses_and_resolves():
    s = sp.parse(base(), ROOT)
    assert s.model == MODEL and s.serving.engine_options() == {"max_batch_tokens": 512, "use_cuda_graph": False}
    assert s.workload.synthetic.prompt_len.value == 32 and s.workload.block_size == 512


def test_example_run_file_loads():
    s = sp.load(ROOT / "studies" / "runs" / "tiny-llama.yaml")
    assert s.model == MODEL and s.hardware.gpu == "h100"


def test_unknown_top_level_key_is_named():
    assert "servng: unknown key" in error(base(servng={}))


def test_unknown_nested_key_is_named():
    d = base()
    d["workload"]["synthetic"]["rqeuests"] = 3
    assert "workload.synthetic.rqeuests: unknown key" in error(d)


def test_bad_values_name_allowed_values():
    msg = error(base(dtype="fp8", backend="vllm-ish"))
    assert "dtype: 'fp8' is not allowed; allowed: 'bfloat16', 'float16' or 'float32'" in msg
    assert "backend: 'vllm-ish' is not allowed; allowed: 'hf-transformers'" in msg
    assert "hardware.gpu: unknown GPU 'h900'; allowed:" in error(base(hardware={"gpu": "h900"}))
    d = base()
    d["workload"]["synthetic"]["arrival"] = "uniform"
    assert "workload.synthetic.arrival: 'uniform' is not allowed; allowed: 'poisson' or 'gamma'" in error(d)
    d = base()
    d["workload"]["synthetic"]["output_len"] = {"dist": "zipf"}
    assert "unknown dist 'zipf'; allowed: 'fixed', 'uniform', 'normal', 'lognormal', 'file'" in error(d)


def test_engine_options_are_the_engines_own_names():
    msg = error(base(serving={"max_batch_tokns": 3}))
    assert "unknown engine option 'max_batch_tokns'" in msg and "max_batch_tokens" in msg
    assert "allowed: paged|sdpa" in error(base(serving={"attn_implementation": "sdpa"}))
    assert "allowed: fifo, prefill_first" in error(base(serving={"scheduler_type": "lifo"}))


def test_workload_needs_exactly_one_source_and_existing_files():
    assert "exactly one of `trace`" in error(base(workload={"block_size": 16}))
    assert "no such file" in error(base(workload={"trace": "nope.jsonl"}))
    assert "has no config.json" in error(base(model="studies"))
