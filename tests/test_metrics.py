"""Metrics on a hand-made requests table: exact values, vllm bench serve names, from requests.csv alone."""
from __future__ import annotations

import numpy as np
import pytest

from revati_search import metrics as m

ROWS = [
    # sent at 0.0, tokens at 0.1, 0.2, 0.4 -> ttft 100 ms, tpot 150 ms, itl 100/200, e2el 400 ms
    {"request_id": "r0", "arrival_s": 0.0, "sent_s": 0.0, "first_token_s": 0.1, "last_token_s": 0.4, "input_tokens": 10,
     "output_tokens": 3, "status": "ok", "error": "", "token_times_s": [0.1, 0.2, 0.4]},
    # sent at 1.0, tokens at 1.3, 1.5 -> ttft 300 ms, tpot 200 ms, itl 200, e2el 500 ms
    {"request_id": "r1", "arrival_s": 1.0, "sent_s": 1.0, "first_token_s": 1.3, "last_token_s": 1.5, "input_tokens": 20,
     "output_tokens": 2, "status": "ok", "error": "", "token_times_s": [1.3, 1.5]},
    # one token: no tpot, no itl; ttft = e2el = 500 ms; finishes last, at 2.0
    {"request_id": "r2", "arrival_s": 1.5, "sent_s": 1.5, "first_token_s": 2.0, "last_token_s": 2.0, "input_tokens": 30,
     "output_tokens": 1, "status": "ok", "error": "", "token_times_s": [2.0]},
]


def check(s):
    assert s["duration"] == pytest.approx(2.0)
    assert s["completed"] == 3 and s["failed"] == 0
    assert s["total_input_tokens"] == 60 and s["total_output_tokens"] == 6
    assert s["request_throughput"] == pytest.approx(1.5)
    assert s["output_throughput"] == pytest.approx(3.0)
    assert s["total_token_throughput"] == pytest.approx(33.0)
    assert s["mean_ttft_ms"] == pytest.approx(300.0)
    assert s["median_ttft_ms"] == pytest.approx(300.0)
    assert s["std_ttft_ms"] == pytest.approx(np.std([100, 300, 500]))
    assert s["p90_ttft_ms"] == pytest.approx(460.0)
    assert s["p99_ttft_ms"] == pytest.approx(496.0)
    assert s["mean_tpot_ms"] == pytest.approx(175.0) and s["median_tpot_ms"] == pytest.approx(175.0)
    assert s["mean_itl_ms"] == pytest.approx(500 / 3) and s["median_itl_ms"] == pytest.approx(200.0)
    assert s["mean_e2el_ms"] == pytest.approx(1400 / 3) and s["p99_e2el_ms"] == pytest.approx(500.0)
    for series in m.SERIES:
        for stat in m.STATS:
            assert f"{stat}_{series}_ms" in s
    assert "request_goodput" not in s


def test_exact_values():
    check(m.summarize(ROWS))


def test_from_requests_csv_alone(tmp_path):
    m.write_requests(ROWS, tmp_path / "requests.csv")
    check(m.summarize_file(tmp_path / "requests.csv"))


def test_from_an_archived_requests_csv_gz(tmp_path):
    """benchmarks/ keeps requests.csv gzipped; the same path reads it."""
    import gzip

    m.write_requests(ROWS, tmp_path / "requests.csv")
    (tmp_path / "requests.csv.gz").write_bytes(gzip.compress((tmp_path / "requests.csv").read_bytes()))
    (tmp_path / "requests.csv").unlink()
    check(m.summarize_file(tmp_path / "requests.csv"))
    check(m.summarize_file(tmp_path / "requests.csv.gz"))


def test_goodput_and_failures():
    slo = {"ttft_ms": 350.0, "tpot_ms": 180.0, "e2el_ms": None}
    s = m.summarize(ROWS, slo)     # r0 passes (100, 150); r1 fails tpot (200); r2 fails ttft (500)
    assert s["request_goodput"] == pytest.approx(0.5)
    failed = dict(ROWS[2], status="failed", error="boom")
    s = m.summarize([ROWS[0], ROWS[1], failed])
    assert s["completed"] == 2 and s["failed"] == 1 and s["duration"] == pytest.approx(1.5)
