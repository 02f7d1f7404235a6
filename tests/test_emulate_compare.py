"""Emulated vs real summaries: relative errors and the emulation's wall time beside the real duration."""
from __future__ import annotations

import json

import pytest

from revati_search import emulate as em


def test_compare(tmp_path):
    emu = {"duration": 2.0, "median_ttft_ms": 110.0, "p99_tpot_ms": 9.0, "emulation_wall_s": 30.0, "versions": {"gpu": "v"}}
    real = {"duration": 2.5, "median_ttft_ms": 100.0, "p99_tpot_ms": 10.0, "versions": {"gpu": "r"}}
    (tmp_path / "summary.json").write_text(json.dumps(real))
    c = em.compare(emu, em.read_summary(tmp_path))
    assert c["metrics"]["duration"]["error"] == pytest.approx(-0.2)
    assert c["metrics"]["median_ttft_ms"]["error"] == pytest.approx(0.1)
    assert c["metrics"]["p99_tpot_ms"]["error"] == pytest.approx(-0.1)
    assert c["emulation_wall_per_real_s"] == pytest.approx(12.0) and c["real_duration_s"] == 2.5
    assert c["versions"] == {"emulated": {"gpu": "v"}, "real": {"gpu": "r"}}
