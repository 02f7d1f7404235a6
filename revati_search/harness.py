"""The process that serves one run: `python -m revati_search.harness RUN.json OUT`.

RUN.json is the resolved run spec, OUT/workload.jsonl its requests. The same code runs on virtual
GPUs (under the interposer, started by `revati-search emulate`) and on a real GPU (`--real`).
Writes OUT/requests.csv and OUT/harness.json; on failure OUT/error.txt (the engine's message) and
exit status 1.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from .metrics import write_requests
from .spec import RunSpec
from .workloads import read_jsonl


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m revati_search.harness RUN.json OUT", file=sys.stderr)
        return 2
    spec = RunSpec.model_validate_json(Path(args[0]).read_text())
    out = Path(args[1])
    requests = read_jsonl(out / "workload.jsonl")
    if spec.backend != "hf-transformers":
        raise SystemExit(f"backend {spec.backend!r} not available")
    from .backends import hf_transformers as backend

    t = time.perf_counter()
    try:
        rows, info = backend.run(spec, requests)
    except backend.EngineError as e:
        if len(e.args) > 1:
            write_requests(e.args[1], out / "requests.csv")
        (out / "error.txt").write_text(str(e.args[0]) + "\n")
        print(f"revati-search harness: {e.args[0]}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001  (the engine's own error, named)
        (out / "error.txt").write_text(f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        traceback.print_exc()
        return 1
    info["harness_s"] = time.perf_counter() - t
    write_requests(rows, out / "requests.csv")
    (out / "harness.json").write_text(json.dumps(info, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
