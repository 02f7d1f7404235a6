"""The study file: what it accepts, and errors that name the key and its line."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from revati_search import search_space, study

ROOT = Path(__file__).resolve().parents[1]
BASE = f"""name: t
run:
  model: {ROOT}/studies/models/tiny-llama
  serving: {{attn_implementation: paged|sdpa}}
  workload: {{synthetic: {{requests: 4, prompt_len: 32, output_len: 4}}}}
"""
SEARCH = """search:
  serving.max_batch_tokens: {int: [256, 4096], log: true}
  serving.use_cuda_graph: [false, true]
  serving.scheduler_type: {choices: [fifo, prefill_first], when: {serving.use_cuda_graph: false}}
objectives: [{maximize: output_throughput_per_gpu}, {minimize: p99_ttft_ms}]
constraints: [{metric: median_tpot_ms, max: 40}]
n_trials: 4
"""


def load(tmp_path: Path, text: str) -> study.StudySpec:
    p = tmp_path / "study.yaml"
    p.write_text(text)
    return study.load(p)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(study.StudyError) as e:
        load(tmp_path, text)
    return str(e.value)


def test_a_study_parses_and_its_space_is_conditional(tmp_path: Path) -> None:
    spec = load(tmp_path, BASE + SEARCH)
    assert spec.directions() == ["maximize", "minimize"]
    assert spec.reserved_cpus() == 2.0   # 1 + the run's one GPU
    s = optuna.create_study(directions=spec.directions(), sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(30):
        t = s.ask()
        params = search_space.suggest(spec, t)
        run = search_space.run_for(spec, params)
        assert 256 <= run.serving.engine_options()["max_batch_tokens"] <= 4096
        # scheduler_type only where use_cuda_graph is false
        assert ("serving.scheduler_type" in params) == (params["serving.use_cuda_graph"] is False)
        seen.add(params["serving.use_cuda_graph"])
        s.tell(t, [1.0, 1.0])
    assert seen == {False, True}


def test_shorthands_and_run_file_reference(tmp_path: Path) -> None:
    text = f"""name: t
run: {ROOT}/studies/runs/tiny-llama.yaml
search: {{hardware.count: [1, 2], serving.max_batch_tokens: {{int: [64, 512], step: 64}}}}
objectives: [{{metric: cost_per_million_output_tokens_usd, direction: minimize}}]
n_trials: 2
"""
    spec = load(tmp_path, text)
    assert spec.run.model.name == "tiny-llama" and spec.max_gpus() == 2 and spec.reserved_cpus() == 3.0


@pytest.mark.parametrize("bad, line, words", [
    ("  serving.scheduler_typ: [fifo]\n", 7, ["search.serving.scheduler_typ", "unknown engine option 'scheduler_typ'"]),
    ("  serving.scheduler_type: [fifo, lifo]\n", 7, ["search.serving.scheduler_type", "'lifo'", "fifo, prefill_first"]),
    ("  workload.rate: [1, 2]\n", 7, ["workload.rate: unknown knob"]),
    ("  hardware.gpu: [h100, h900]\n", 7, ["unknown GPU 'h900'"]),
    ("  serving.max_batch_tokens: {int: [512, 256]}\n", 7, ["low <= high"]),
    ("  serving.page_size: {choices: [64], when: {serving.use_cuda_graph: true}}\n  serving.use_cuda_graph: [true]\n", 7,
     ["must be a knob given before it"]),
])
def test_bad_knobs_name_the_key_and_line(tmp_path: Path, bad: str, line: int, words: list[str]) -> None:
    msg = error(tmp_path, BASE + "search:\n" + bad + "objectives: [{maximize: output_throughput}]\nn_trials: 2\n")
    assert f"study.yaml:{line}:" in msg, msg
    for w in words:
        assert w in msg, msg


def test_bad_top_level_keys(tmp_path: Path) -> None:
    msg = error(tmp_path, BASE + SEARCH.replace("n_trials: 4", "n_trials: 4\nsampler: cmaes\nparalel: 2"))
    assert "sampler: 'cmaes' is not allowed" in msg and "'tpe'" in msg
    assert "paralel: unknown key" in msg and "study.yaml:14:" in msg
    msg = error(tmp_path, BASE + SEARCH.replace("maximize: output_throughput_per_gpu", "maximize: goodness"))
    assert "unknown metric 'goodness'" in msg and "output_throughput_per_gpu" in msg
    msg = error(tmp_path, BASE.replace("prompt_len: 32", "prompt_len: -3") + SEARCH)
    assert "run.workload.synthetic.prompt_len" in msg
    assert "required key missing" in error(tmp_path, BASE + SEARCH.replace("n_trials: 4\n", ""))
    assert "study.yaml" in error(tmp_path, BASE + "search: [oops\n")   # YAML syntax


def test_target_host_is_a_measured_host_file_relative_to_the_study(tmp_path: Path) -> None:
    from revati_search import identity
    from timekeeper import calibrate

    (tmp_path / "hosts").mkdir()
    (tmp_path / "hosts" / "prod.json").write_text(json.dumps(dataclasses.asdict(calibrate.reference("h100"))))
    (tmp_path / "study.yaml").write_text(BASE + SEARCH + "target_host: hosts/prod.json\n")
    spec = study.load(tmp_path / "study.yaml")
    assert spec.target_host == tmp_path / "hosts" / "prod.json" and spec.host_timings() == calibrate.reference("h100")
    # the modelled host is part of a result's identity: other host, other hash; none, the old hash
    hashes = {identity.run_hash(spec.run, "default", host) for host in
              (None, calibrate.reference("h100"), dataclasses.replace(calibrate.reference("h100"), python_loop_s=1.0))}
    assert len(hashes) == 3
    (tmp_path / "hosts" / "prod.json").write_text('{"python_loop_s": 1}')
    msg = error(tmp_path, BASE + SEARCH + "target_host: hosts/prod.json\n")
    assert "target_host" in msg and "is not the output of `python3 -m timekeeper.calibrate`" in msg


def test_schema_command_exports_the_models_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    subprocess.run([sys.executable, "-m", "revati_search.cli", "schema", "--out", str(out)], check=True, cwd=ROOT)
    schema = json.loads(out.read_text())
    assert {"name", "run", "search", "objectives", "n_trials", "sampler", "storage", "ray_address"} <= set(schema["properties"])
    assert schema == json.loads(json.dumps(study.json_schema()))
    committed = ROOT / "studies" / "study.schema.json"
    assert json.loads(committed.read_text()) == schema, "regenerate: revati-search schema --out studies/study.schema.json"
