"""benchmarks/validation_table.py (several real folders, swapped pairs) and validation_steps.py (steps from token times)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _summary(d: Path, **metrics):
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(metrics))


def test_table_takes_each_scenario_from_the_first_real_folder_and_names_swapped_pairs(tmp_path, capsys):
    table = _module("validation_table")
    m = {"median_ttft_ms": 100.0, "median_tpot_ms": 10.0, "median_e2el_ms": 1000.0}
    _summary(tmp_path / "a" / "s1", output_throughput=100.0, **m)
    _summary(tmp_path / "b" / "s1", output_throughput=999.0, **m)       # shadowed by a/s1
    _summary(tmp_path / "b" / "s2", output_throughput=110.0, **m)
    _summary(tmp_path / "emu" / "s1", output_throughput=120.0, **m)
    _summary(tmp_path / "emu" / "s2", output_throughput=105.0, **m)
    assert table.main([f"{tmp_path / 'a'},{tmp_path / 'b'}", str(tmp_path / "emu")]) == 0
    out = capsys.readouterr().out
    assert "pairs: 2" in out and "+20.0%" in out                         # s1: 120 vs 100 (a), not 999 (b)
    assert "1 of 1 pairs swapped: s1/s2 (real 100.0 vs 110.0, 10.0% apart; emulated 120.0 vs 105.0)" in out


def test_pooled_table_uses_medians_and_counts_swaps_among_decided_pairs(tmp_path, capsys):
    """--pool: a scenario's metric is the median of its runs in every folder; a swap counts as
    decided only where every real run of one scenario lies above every real run of the other."""
    table = _module("validation_table")
    m = {"median_ttft_ms": 100.0, "median_tpot_ms": 10.0, "median_e2el_ms": 1000.0}
    for d, (s1, s2, s3) in {"r1": (100.0, 104.0, 200.0), "r2": (106.0, 102.0, 210.0), "r3": (101.0, 103.0, 190.0)}.items():
        _summary(tmp_path / d / "s1", output_throughput=s1, **m)
        _summary(tmp_path / d / "s2", output_throughput=s2, **m)
        _summary(tmp_path / d / "s3", output_throughput=s3, **m)
    _summary(tmp_path / "emu" / "s1", output_throughput=150.0, **m)   # above s2 (real runs overlap: not decided)
    _summary(tmp_path / "emu" / "s2", output_throughput=140.0, **m)
    _summary(tmp_path / "emu" / "s3", output_throughput=145.0, **m)   # below s1 (decided: s3 always above)
    real = ",".join(str(tmp_path / d) for d in ("r1", "r2", "r3"))
    assert table.main(["--pool", real, str(tmp_path / "emu")]) == 0
    out = capsys.readouterr().out
    assert "s1 3 real/1 emulated" in out
    assert "+48.5%" in out                                   # s1: 150 vs the median of 100, 106, 101
    assert "2 of 3 pairs swapped: s1/s2" in out
    assert "of the 2 pairs the real runs decide: 1 swapped: s1/s3" in out
    # against each real run alone: every throughput error keeps its sign (s1 +42..+50%); TTFT errors are 0
    assert "output_throughput  3 of 3: s1 +42%..+50%, s2 +35%..+37%, s3 -31%..-24%" in out
    assert "median_ttft_ms     0 of 3: " in out


def test_steps_groups_token_times_into_engine_steps(tmp_path):
    steps = _module("validation_steps")
    rows = ["request_id,token_times_s", "r0,0.100 0.2000 0.3000", "r1,0.1010 0.2005 0.3004 0.4000", "r2,0.3010 0.4003"]
    (tmp_path / "requests.csv").write_text("\n".join(rows) + "\n")
    st = steps.steps(tmp_path / "requests.csv")
    assert [(round(s["start"], 3), s["tokens"], s["first"]) for s in st] == [
        (0.1, 2, 2), (0.2, 2, 0), (0.3, 3, 1), (0.4, 2, 0)]
