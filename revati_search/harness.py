"""The process that serves one run: `python -m revati_search.harness RUN.json OUT`.

RUN.json is the resolved run spec, OUT/workload.jsonl its requests. The same code runs on virtual
GPUs (under the interposer, started by `revati-search emulate`) and on a real GPU (`--real`).
Writes OUT/requests.csv and OUT/harness.json; on failure OUT/error.txt (the engine's message) and
exit status 1.

With `hardware.count` N > 1 the run is tensor-parallel over N GPUs, launched as torchrun would:
this process is rank 0; it forks ranks 1..N-1 (`python -m revati_search.harness RUN.json OUT
--rank R`) with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set (torch.distributed's
env:// rendezvous on a TCPStore on localhost), every rank builds the model with the model's TP plan
and runs the same engine, and rank 0 alone drives the workload and writes the results. A rank that
fails writes OUT/error-rank<R>.txt; rank 0 notices its exit and fails the run with that message.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from .metrics import write_requests
from .spec import RunSpec
from .workloads import read_jsonl

RANK_EXIT_S = 120.0    # how long rank 0 waits for the other ranks to exit at the end


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_env(rank: int, world: int, port: int) -> dict[str, str]:
    return {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world),
            "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            # gloo (transformers' CPU group) binds to the hostname's address unless told: loopback, one host
            "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", "lo")}


def _fork_only() -> None:
    """preexec_fn: makes subprocess fork (not vfork), so that on virtual GPUs the new rank is a
    participant of the run's clock from the fork on (the timekeeper follows forks, not vforks),
    and the clock cannot jump over its start-up while rank 0 waits for it at the rendezvous."""


class _Ranks:
    """Ranks 1..N-1, forked by rank 0; a rank that exits with an error ends rank 0 with its message."""

    def __init__(self, run_json: str, out: Path, world: int) -> None:
        self.out = out
        self.done = False
        port = _free_port()
        os.environ.update(_rank_env(0, world, port))
        self.procs: list[subprocess.Popen] = []
        for rank in range(1, world):
            env = {**os.environ, **_rank_env(rank, world, port)}
            cmd = [sys.executable, "-m", "revati_search.harness", run_json, str(out), "--rank", str(rank)]
            self.procs.append(subprocess.Popen(cmd, env=env, preexec_fn=_fork_only))
        for rank, p in enumerate(self.procs, start=1):
            threading.Thread(target=self._watch, args=(rank, p), name=f"revati-rank{rank}", daemon=True).start()

    def _watch(self, rank: int, proc: subprocess.Popen) -> None:
        code = proc.wait()    # blocks with no deadline: no virtual-time target of its own
        if code == 0 or self.done:
            return
        err = self.out / f"error-rank{rank}.txt"
        why = err.read_text().strip() if err.exists() else f"exited with status {code}"
        (self.out / "error.txt").write_text(f"tensor-parallel rank {rank} failed: {why}\n")
        print(f"revati-search harness: tensor-parallel rank {rank} failed: {why.splitlines()[0] if why else code}",
              file=sys.stderr, flush=True)
        os._exit(1)   # rank 0 is likely blocked in a collective with the dead rank

    def finish(self, failed: bool = False) -> int:
        """Waits for the other ranks to leave (their traces are written at exit); their worst status.
        After rank 0 failed they are stopped at once: they may be waiting in a collective for it."""
        self.done = True
        if failed:
            for p in self.procs:
                if p.poll() is None:
                    p.terminate()
        worst = 0
        deadline = time.monotonic() + RANK_EXIT_S
        for p in self.procs:
            try:
                worst = max(worst, p.wait(timeout=max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                p.kill()
                worst = max(worst, 1)
        return worst


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    rank = None
    profile = "--kernels" in args   # real GPU: the replay's kernels (torch.profiler) into OUT/kernels.json
    if profile:
        args.remove("--kernels")
    if "--rank" in args:
        i = args.index("--rank")
        rank = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print("usage: python -m revati_search.harness RUN.json OUT [--rank R] [--kernels]", file=sys.stderr)
        return 2
    spec = RunSpec.model_validate_json(Path(args[0]).read_text())
    out = Path(args[1])
    if rank is not None:
        return _follower(spec, out, rank)
    ranks = _Ranks(args[0], out, spec.hardware.count) if spec.hardware.count > 1 else None
    code = _serve(spec, out, profile)
    if ranks is not None:
        other = ranks.finish(failed=code != 0)
        if other and code == 0:
            (out / "error.txt").write_text(f"a tensor-parallel rank exited with status {other} at the end of the run\n")
            code = 1
    return code


def _serve(spec: RunSpec, out: Path, profile: bool = False) -> int:
    requests = read_jsonl(out / "workload.jsonl")
    if spec.backend != "hf-transformers":
        raise SystemExit(f"backend {spec.backend!r} not available")
    from .backends import hf_transformers as backend

    t = time.perf_counter()
    try:
        rows, info = backend.run(spec, requests, kernels_out=out if profile else None)
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


def _follower(spec: RunSpec, out: Path, rank: int) -> int:
    """A tensor-parallel rank other than 0: the same model and engine, driven by rank 0; writes nothing
    but OUT/error-rank<R>.txt on failure."""
    from .backends import hf_transformers as backend

    try:
        backend.follow(spec, read_jsonl(out / "workload.jsonl"))
    except Exception as e:  # noqa: BLE001
        (out / f"error-rank{rank}.txt").write_text(f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
