"""Host time of CUDA graphs as torch makes them, on a real GPU or a virtual one (same script):
`python tools/graph_host_cost.py [--nodes 100,300,1000,3000] [--reps 5] [--model DIR --tokens 256]`
prints one JSON line.

Per graph size n (n small elementwise kernels): the host time of launching them eagerly, of launching
them while capturing (torch.cuda.graph), of ending the capture (torch instantiates the graph there),
of the first replay and of a later replay (each replay's host call only), medians of --reps. With
--model (a folder with a Hugging Face config.json; random weights) also the same for one forward pass
of that model over --tokens tokens, the graph a serving engine captures. The difference between real
and emulated figures is host time the real driver spends that the interposer does not.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", default="100,300,1000,3000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--model", help="also a forward pass of this model (a folder with a config.json)")
    ap.add_argument("--tokens", type=int, default=256)
    args = ap.parse_args()
    x = torch.zeros(4096, device="cuda")
    stream = torch.cuda.Stream()
    out = {n: timed(lambda n=int(n): [x.add_(1.0) for _ in range(n)], args.reps, stream) for n in args.nodes.split(",")}
    if args.model:
        out["model"] = timed(model_forward(args.model, args.tokens), args.reps, stream)
    print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "us": out}))


def timed(work: Callable[[], object], reps: int, stream: torch.cuda.Stream) -> dict[str, float]:
    """Host µs (medians of reps) of running work eagerly, capturing it, instantiating the capture,
    and the graph's first and a later replay."""
    with torch.cuda.stream(stream):
        work()   # torch's and the driver's one-time work outside the timings
    torch.cuda.synchronize()
    t: dict[str, list[float]] = {k: [] for k in ("eager", "capture", "instantiate", "first_replay", "replay")}
    for _ in range(reps):
        a = time.perf_counter(); work(); t["eager"].append(time.perf_counter() - a)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        ctx = torch.cuda.graph(g, stream=stream)
        ctx.__enter__()
        a = time.perf_counter(); work(); t["capture"].append(time.perf_counter() - a)
        a = time.perf_counter(); ctx.__exit__(None, None, None); t["instantiate"].append(time.perf_counter() - a)
        a = time.perf_counter(); g.replay(); t["first_replay"].append(time.perf_counter() - a)
        torch.cuda.synchronize()
        a = time.perf_counter(); g.replay(); t["replay"].append(time.perf_counter() - a)
        torch.cuda.synchronize()
        del g
    return {k: round(statistics.median(v) * 1e6, 1) for k, v in t.items()}


def model_forward(folder: str, tokens: int) -> Callable[[], object]:
    """One forward pass of the model in folder (random weights) over `tokens` tokens."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).cuda().eval()
    ids = torch.randint(0, config.vocab_size, (1, tokens), device="cuda")

    def forward() -> object:
        with torch.no_grad():
            return model(input_ids=ids, use_cache=False, logits_to_keep=1)
    return forward


if __name__ == "__main__":
    main()
