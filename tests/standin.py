"""A fast stand-in for the emulated run, for unit tests of the optimizer's plumbing only (Ray
tasks, storage, failures, resume): it returns a made-up summary computed from the knobs, or fails
the way a real run fails when its knobs ask it to."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from revati_search.trials import TrialJob, TrialOutcome


def configure(out: Path, mode: str = "", delay_s: float = 0.2) -> None:
    """How the stand-in behaves in the study whose output folder is `out` (read by the Ray workers,
    which don't see the test's environment): mode crash|die on prefill_first trials."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "standin.json").write_text(json.dumps({"mode": mode, "delay_s": delay_s}))


def evaluate(job: TrialJob) -> TrialOutcome:
    serving = job.run_spec["serving"]
    conf_path = Path(job.out_dir).parents[1] / "standin.json"   # OUT/trials/NNNN -> OUT
    conf = json.loads(conf_path.read_text()) if conf_path.exists() else {}
    mode, delay = conf.get("mode", ""), float(conf.get("delay_s", 0.2))
    mbt = int(serving.get("max_batch_tokens", 512))
    behaviour = serving.get("scheduler_type", "fifo")
    marker = Path(job.out_dir) / "attempts"
    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    attempts = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(attempts))
    if behaviour == "prefill_first" and mode == "crash":
        return TrialOutcome(False, reason="RuntimeError: CUDA error: an illegal memory access was encountered")
    if behaviour == "prefill_first" and mode == "die" and attempts == 1:
        os.kill(os.getpid(), signal.SIGKILL)   # the Ray worker dies: Ray retries the task
    time.sleep(delay)
    thr = 1000.0 * (1 - abs(mbt - 1500) / 5000)
    ttft = 50.0 + mbt / 20
    summary = {"duration": 10.0, "completed": 16, "output_throughput": thr, "p99_ttft_ms": ttft,
               "median_tpot_ms": 20.0 + mbt / 400, "price_per_hour_usd": 3.0, "total_output_tokens": int(thr * 10),
               "total_input_tokens": 5000, "cost_per_million_output_tokens_usd": 3.0 / 3600 * 10 / (thr * 10) * 1e6}
    return TrialOutcome(True, summary=summary, wall_s=delay)


def main(argv: list[str]) -> int:
    """python tests/standin.py STUDY.yaml OUT [STORAGE_URL]: the optimizer with this stand-in."""
    import sys
    from dataclasses import asdict

    import ray.cloudpickle

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tests.standin as me
    from revati_search import optimizer, study

    ray.cloudpickle.register_pickle_by_value(me)   # Ray workers don't have tests/ on their path
    spec = study.load(Path(argv[0]))
    if len(argv) > 2:
        spec = spec.model_copy(update={"storage": argv[2]})
    result = optimizer.Optimizer(spec, Path(argv[1]), evaluate=me.evaluate).run()
    print(asdict(result))
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
