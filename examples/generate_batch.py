"""transformers continuous batching (generate_batch) on a virtual GPU, with a Llama-shaped model
built from its config (random weights: timing does not depend on weight values).

    revati-search run --gpu h100 -- python examples/generate_batch.py [--requests 8] [--new-tokens 32]

Prints one JSON line: requests completed, tokens generated, the KV cache the engine sized from
cudaMemGetInfo, and the process's peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM


def llama_config(size: str) -> LlamaConfig:
    if size == "8b":   # Llama-3.1-8B shapes
        return LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                           num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192)
    return LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=4, num_attention_heads=16,
                       num_key_value_heads=4, vocab_size=32000, max_position_embeddings=4096)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["small", "8b"], default="small")
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    a = ap.parse_args()

    cfg = llama_config(a.model)
    cfg._attn_implementation = "paged|sdpa"
    with torch.device("cuda"):
        model = LlamaForCausalLM._from_config(cfg, torch_dtype=torch.bfloat16).eval()
    # token values never matter on virtual GPUs; lengths do: EOS is disabled so every request
    # runs to exactly new-tokens
    gen = GenerationConfig(max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False,
                           eos_token_id=-1, pad_token_id=0, use_cuda_graph=False)
    prompts = [[(7 * i + j) % cfg.vocab_size for j in range(a.prompt_tokens)] for i in range(a.requests)]
    t = time.perf_counter()
    out = model.generate_batch(inputs=prompts, generation_config=gen, progress_bar=False)
    wall = time.perf_counter() - t
    tokens = sum(len(o.generated_tokens) for o in out.values())
    print(json.dumps({
        "completed": len(out),
        "generated_tokens": tokens,
        "wall_s": round(wall, 3),
        "max_memory_allocated": torch.cuda.max_memory_allocated(),
        "mem_get_info": list(torch.cuda.mem_get_info()),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }))


if __name__ == "__main__":
    main()
