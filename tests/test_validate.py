"""`revati-search validate EMULATED REAL`: per-metric errors of an emulated run against the real one, stored."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from revati_search.cli import app


def _run(folder, summary):
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_validate_stores_each_metrics_error(tmp_path):
    emu = _run(tmp_path / "emu", {"mode": "emulated", "duration": 2.0, "output_throughput": 330.0,
                                  "median_ttft_ms": 90.0, "median_tpot_ms": 12.0, "emulation_wall_s": 30.0,
                                  "hardware": {"gpu": "h100", "count": 1}, "cpu_scale": 1.41,
                                  "cpu_scale_source": "default (serving scale)"})
    real = _run(tmp_path / "real", {"mode": "real", "duration": 2.5, "output_throughput": 300.0,
                                    "median_ttft_ms": 100.0, "median_tpot_ms": 10.0})
    r = CliRunner().invoke(app, ["validate", str(emu), str(real)])
    assert r.exit_code == 0, r.output
    stored = json.loads((emu / "validation.json").read_text())
    assert stored["metrics"]["output_throughput"]["error"] == pytest.approx(0.1)
    assert stored["metrics"]["median_ttft_ms"]["error"] == pytest.approx(-0.1)
    assert stored["metrics"]["median_tpot_ms"]["error"] == pytest.approx(0.2)
    assert stored["metrics"]["duration"]["error"] == pytest.approx(-0.2)
    assert stored["real"] == str(real.resolve())
    assert "+20.0%" in r.output and "-10.0%" in r.output
    assert "emulated as: virtual h100 x1, host cpu_scale 1.41 (default (serving scale))" in r.output
    # summary files work as well as folders, and --out chooses the file
    dest = tmp_path / "v.json"
    r = CliRunner().invoke(app, ["validate", str(emu / "summary.json"), str(real / "summary.json"), "--out", str(dest)])
    assert r.exit_code == 0, r.output
    assert json.loads(dest.read_text())["metrics"] == stored["metrics"]


def test_validate_warns_that_a_profiled_real_run_is_not_plain(tmp_path):
    emu = _run(tmp_path / "emu", {"mode": "emulated", "duration": 2.0})
    real = _run(tmp_path / "real", {"mode": "real", "duration": 2.5, "kernels_profiled": True})
    r = CliRunner().invoke(app, ["validate", str(emu), str(real)])
    assert r.exit_code == 0 and "was profiled (--kernels)" in r.output
    plain = _run(tmp_path / "plain", {"mode": "real", "duration": 2.5})
    assert "profiled" not in CliRunner().invoke(app, ["validate", str(emu), str(plain)]).output


def test_validate_refuses_swapped_runs(tmp_path):
    emu = _run(tmp_path / "emu", {"mode": "emulated", "duration": 2.0})
    real = _run(tmp_path / "real", {"mode": "real", "duration": 2.5})
    r = CliRunner().invoke(app, ["validate", str(real), str(emu)])
    assert r.exit_code == 2
    assert "holds a real run" in r.output
    assert not (real / "validation.json").exists()


def test_validate_stores_into_the_study_database(tmp_path):
    from pathlib import Path

    from revati_search.store import Store

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "validation"
    emu, real = bench / "emulated-2026-11-21" / "1b-poisson-8rps", bench / "real-h100-2026-11-21" / "1b-poisson-8rps"
    db = tmp_path / "study.db"
    r = CliRunner().invoke(app, ["validate", str(emu), str(real), "--out", str(tmp_path / "v.json"), "--storage", str(db)])
    assert r.exit_code == 0, r.output
    with Store(db) as s:
        (v,) = s.validations()
    stored = json.loads((tmp_path / "v.json").read_text())
    assert v.name == "1b-poisson-8rps" and v.real["mode"] == "real" and v.emulated["mode"] == "emulated"
    assert v.errors["output_throughput"] == pytest.approx(stored["metrics"]["output_throughput"]["error"])
    assert v.run_spec["workload"]["synthetic"]["requests"] == 48
