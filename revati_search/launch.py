"""A configuration found by a study as the engine's own launch arguments, ready to run on real GPUs.

hf-transformers (transformers 5.18): the Python code that builds the continuous-batching engine with
the configuration (`ContinuousBatchingConfig(...)`, `attn_implementation`, dtype, tensor parallelism),
and the `transformers serve` command line where its options can say it: `transformers serve` takes
--continuous-batching, --attn-implementation (without the "paged|" prefix, which continuous batching
adds), --dtype and five engine options (--cb-block-size, --cb-num-blocks, --cb-max-batch-tokens,
--cb-max-memory-percent, --cb-use-cuda-graph/--no-cb-use-cuda-graph), on one GPU; other engine
options (unless left at ContinuousBatchingConfig's default) are named as not expressible there.

The model path is the study's: a folder with a Hugging Face config.json; for a real deployment put
the checkpoint of the same architecture (its folder or hub id) in its place.
"""
from __future__ import annotations

from typing import Any, Optional

import yaml

# ContinuousBatchingConfig field -> `transformers serve` option (transformers/cli/serve.py, 5.18)
SERVE_OPTIONS = {"block_size": "--cb-block-size", "num_blocks": "--cb-num-blocks",
                 "max_batch_tokens": "--cb-max-batch-tokens", "max_memory_percent": "--cb-max-memory-percent",
                 "use_cuda_graph": "--cb-use-cuda-graph"}


def _drop_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_none(x) for x in v]
    return v


def run_file(run_spec: dict[str, Any]) -> str:
    """The configuration as a run file (YAML) for `revati-search emulate` (paths as resolved: absolute)."""
    return yaml.safe_dump(_drop_none(run_spec), sort_keys=False, default_flow_style=None, width=120)


def _engine_defaults() -> dict[str, Any]:
    """ContinuousBatchingConfig's defaults (an option left at its default needs no flag); {} without transformers."""
    try:
        import dataclasses

        from transformers.generation.configuration_utils import ContinuousBatchingConfig
    except ImportError:
        return {}
    return {f.name: f.default for f in dataclasses.fields(ContinuousBatchingConfig)
            if f.default is not dataclasses.MISSING}


def _py(v: Any) -> str:
    return repr(tuple(v)) if isinstance(v, list) else repr(v)


def hf_transformers(run_spec: dict[str, Any]) -> dict[str, Any]:
    serving = dict(run_spec.get("serving") or {})
    attn = serving.pop("attn_implementation", None) or "paged|sdpa"
    options = {k: v for k, v in serving.items() if v is not None}
    model = str(run_spec.get("model", "MODEL"))
    dtype = run_spec.get("dtype", "bfloat16")
    gpus = int((run_spec.get("hardware") or {}).get("count", 1))

    cb_args = ", ".join(f"{k}={_py(v)}" for k, v in options.items())
    lines = ["import torch", "from transformers import AutoModelForCausalLM, ContinuousBatchingConfig, GenerationConfig"]
    if gpus > 1:
        lines += ["from transformers.distributed import DistributedConfig", "",
                  f"# launch with: torchrun --nproc-per-node {gpus} serve.py   (tensor parallelism over {gpus} GPUs)",
                  "model = AutoModelForCausalLM.from_pretrained(",
                  f"    {model!r}, dtype=torch.{dtype}, attn_implementation={attn!r},",
                  f"    distributed_config=DistributedConfig(tp_size={gpus}, tp_plan=\"auto\"))"]
    else:
        lines += ["", "model = AutoModelForCausalLM.from_pretrained(",
                  f"    {model!r}, dtype=torch.{dtype}, attn_implementation={attn!r}, device_map=\"cuda\")"]
    lines += [f"cb_config = ContinuousBatchingConfig({cb_args})",
              "manager = model.init_continuous_batching(generation_config=GenerationConfig(max_new_tokens=256),",
              "                                         continuous_batching_config=cb_config)",
              "manager.start()   # then manager.add_request(input_ids, max_new_tokens=...) / manager.get_result()"]

    serve: Optional[list[str]] = ["transformers", "serve", model, "--continuous-batching",
                                  "--attn-implementation", attn.removeprefix("paged|"), "--dtype", str(dtype)]
    not_expressible = []
    defaults = _engine_defaults()
    for k, v in options.items():
        flag = SERVE_OPTIONS.get(k)
        if flag is None and k in defaults and defaults[k] == v:
            continue   # the engine's default: `transformers serve` gets it without a flag
        if flag is None or (k == "use_cuda_graph" and not isinstance(v, bool)):
            not_expressible.append(f"{k}={v!r}")
        elif k == "use_cuda_graph":
            serve.append(flag if v else "--no-cb-use-cuda-graph")
        else:
            serve += [flag, str(v)]
    why = None
    if gpus > 1:
        serve, why = None, f"transformers serve runs on one GPU (no tensor-parallel option); this configuration uses {gpus}"
    elif not_expressible:
        why = "transformers serve has no option for " + ", ".join(not_expressible) + " (use the Python code)"
    return {"engine": "hf-transformers", "attn_implementation": attn, "continuous_batching_config": options,
            "python": "\n".join(lines) + "\n", "serve": None if serve is None else " ".join(_quote(a) for a in serve),
            "serve_exact": serve is not None and not not_expressible, "serve_note": why}


def _quote(a: str) -> str:
    import shlex
    return shlex.quote(a)


def launch_args(run_spec: dict[str, Any]) -> dict[str, Any]:
    """The engine's launch arguments for the run spec's backend, plus its run file."""
    backend = run_spec.get("backend", "hf-transformers")
    out = hf_transformers(run_spec) if backend == "hf-transformers" else {"engine": backend, "python": None, "serve": None,
                                                                         "serve_note": f"no launch arguments for {backend!r} yet"}
    out["run_file"] = run_file(run_spec)
    return out
