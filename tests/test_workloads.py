"""Workload generators and trace readers: deterministic with a seed; Mooncake hash ids share tokens."""
from __future__ import annotations

import json

import numpy as np
import pytest

from revati_search import spec as sp
from revati_search import workloads as wl


def wspec(**kw) -> sp.WorkloadSpec:
    return sp.WorkloadSpec.model_validate(kw)


def synth(**kw) -> sp.WorkloadSpec:
    s = {"requests": 2000, "rate": 10.0, "prompt_len": 100, "output_len": 20, "seed": 3}
    s.update(kw)
    return wspec(synthetic=s)


def test_synthetic_is_deterministic_with_seed():
    a, b, c = wl.load(synth()), wl.load(synth()), wl.load(synth(seed=4))
    assert [r.arrival_s for r in a] == [r.arrival_s for r in b]
    assert [r.arrival_s for r in a] != [r.arrival_s for r in c]
    assert a[0].arrival_s == 0.0 and [r.request_id for r in a[:2]] == ["r0", "r1"]


def test_poisson_and_gamma_rate_and_cv():
    for kind, cv in (("poisson", 1.0), ("gamma", 3.0), ("gamma", 0.5)):
        t = wl.arrivals(20000, 10.0, kind, cv, np.random.default_rng(0))
        gaps = np.diff(t)
        assert gaps.mean() == pytest.approx(0.1, rel=0.05)
        assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.1)
    assert not wl.arrivals(5, None).any()


def test_length_distributions(tmp_path):
    rng = np.random.default_rng(0)
    n = 20000
    u = wl.lengths(sp.UniformLen(dist="uniform", low=10, high=20), n, rng)
    assert u.min() == 10 and u.max() == 20
    x = wl.lengths(sp.NormalLen(dist="normal", mean=200, std=20, max=230), n, rng)
    assert x.mean() == pytest.approx(200, rel=0.02) and x.max() == 230
    x = wl.lengths(sp.LognormalLen(dist="lognormal", mean=500, std=400), n, rng)
    assert x.mean() == pytest.approx(500, rel=0.05) and x.std() == pytest.approx(400, rel=0.1) and x.min() >= 1
    f = tmp_path / "lens.txt"
    f.write_text("7\n9\n")
    assert set(wl.lengths(sp.FileLen(dist="file", path=f), 100, rng)) == {7, 9}
    c = tmp_path / "lens.csv"
    c.write_text("a,n\nx,3\ny,4\n")
    assert set(wl.lengths(sp.FileLen(dist="file", path=c, column="n"), 100, rng)) == {3, 4}


def test_rate_scale_window_truncation():
    base = wl.load(synth(requests=50))
    fast = wl.load(wspec(synthetic={"requests": 50, "rate": 10.0, "prompt_len": 100, "output_len": 20, "seed": 3},
                         rate_scale=2.0))
    assert [f.arrival_s for f in fast] == pytest.approx([b.arrival_s / 2 for b in base])
    win = wl.load(wspec(synthetic={"requests": 50, "rate": 10.0, "prompt_len": 100, "output_len": 20, "seed": 3},
                        start_s=1.0, end_s=2.0))
    inside = [b for b in base if 1.0 <= b.arrival_s < 2.0]
    assert [w.arrival_s for w in win] == pytest.approx([b.arrival_s - 1.0 for b in inside])
    cut = wl.load(wspec(synthetic={"requests": 3, "prompt_len": 4000, "output_len": 100}, max_requests=2), max_model_len=2048)
    assert len(cut) == 2 and all(r.input_len == 1948 and r.output_len == 100 for r in cut)


def test_mooncake_hash_ids_share_token_blocks(tmp_path):
    f = tmp_path / "t.jsonl"
    rows = [{"timestamp": 1000, "input_length": 40, "output_length": 5, "hash_ids": [7, 8, 9]},
            {"timestamp": 1500, "input_length": 35, "output_length": 6, "hash_ids": [7, 8, 10]},
            {"timestamp": 3000, "input_length": 20, "output_length": 2, "hash_ids": [11, 12]}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    reqs = wl.load(wspec(trace=f, block_size=16))
    assert [r.arrival_s for r in reqs] == [0.0, 0.5, 2.0]
    assert [(r.input_len, r.output_len) for r in reqs] == [(40, 5), (35, 6), (20, 2)]
    ids = [wl.prompt_ids(r, i, 16, 32000) for i, r in enumerate(reqs)]
    assert [len(x) for x in ids] == [40, 35, 20]
    assert ids[0][:32] == ids[1][:32]            # blocks 7, 8 shared
    assert ids[0][32:35] != ids[1][32:35]        # block 9 vs 10
    assert ids[0][:16] != ids[2][:16]
    assert ids == [wl.prompt_ids(r, i, 16, 32000) for i, r in enumerate(reqs)]   # deterministic
    assert all(0 < t < 32000 for x in ids for t in x)


def test_synthetic_shared_prefix_is_shared():
    reqs = wl.load(wspec(synthetic={"requests": 3, "prompt_len": 10, "output_len": 4, "shared_prefix": 24}))
    ids = [wl.prompt_ids(r, i, 512, 1000, shared_prefix=24) for i, r in enumerate(reqs)]
    assert all(len(x) == 34 for x in ids)
    assert ids[0][:24] == ids[1][:24] == ids[2][:24] and ids[0][24:] != ids[1][24:]


def test_csv_formats(tmp_path):
    az = tmp_path / "azure.csv"
    az.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n"
                  "2023-11-16 18:15:50.9951690,396,109\n2023-11-16 18:15:51.0000000,10,0\n")
    r = wl.load(wspec(trace=az))
    assert wl.detect(az) == "azure" and [(x.input_len, x.output_len) for x in r] == [(374, 44), (396, 109)]
    assert r[1].arrival_s == pytest.approx(4.314579)
    bg = tmp_path / "burst.csv"
    bg.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n"
                  "45,GPT-4,1087,230,1317,Conversation log\n")
    r = wl.load(wspec(trace=bg))
    assert wl.detect(bg) == "burstgpt" and [(x.arrival_s, x.input_len, x.output_len) for x in r] == [(0, 472, 18), (40, 1087, 230)]
    plain = tmp_path / "plain.csv"
    plain.write_text("arrival_s,input_length,output_length\n0.5,10,3\n0.25,20,4\n")
    r = wl.load(wspec(trace=plain))
    assert [(x.arrival_s, x.input_len) for x in r] == [(0.0, 20), (0.25, 10)]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="input and output length columns"):
        wl.load(wspec(trace=bad))


def test_sharegpt_lengths_with_synthetic_arrivals(tmp_path):
    f = tmp_path / "sg.json"
    f.write_text(json.dumps([{"conversations": [{"from": "human", "value": "x" * 400}, {"from": "gpt", "value": "y" * 80}]},
                             {"conversations": [{"from": "human", "value": "hi"}]},
                             {"conversations": [{"from": "human", "value": "z" * 40}, {"from": "gpt", "value": "w" * 8}]}]))
    with pytest.raises(ValueError, match="workload.rate"):
        wl.load(wspec(trace=f))
    r = wl.load(wspec(trace=f, rate=5.0, seed=1))
    assert [(x.input_len, x.output_len) for x in r] == [(100, 20), (10, 2)] and r[0].arrival_s == 0 < r[1].arrival_s


def test_jsonl_round_trip(tmp_path):
    reqs = wl.load(synth(requests=5))
    wl.write_jsonl(reqs, tmp_path / "w.jsonl")
    assert wl.read_jsonl(tmp_path / "w.jsonl") == reqs
