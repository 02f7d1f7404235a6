"""Llama-shaped forward passes at several batch compositions, built from a config with random
weights (nothing is downloaded). The same code runs on a real GPU (under torch.profiler, for the
kernel table and the measured forward times) and on virtual GPUs (for the predicted ones), so both
sides execute exactly the same torch operations.

A composition is ``prefill`` (B sequences of L new tokens, no history), ``decode`` (B sequences of
one new token after C cached tokens each) or ``mixed`` (P prefills of L tokens packed with D
decodes of context C into one sequence, with a block mask, as continuous batching does).

The KV cache of decode and mixed passes is either transformers' ``DynamicCache`` (``dynamic``:
every layer concatenates the whole cache with the new tokens, as plain ``generate()`` does) or
``inplace`` (preallocated, the new tokens written in place and attention reading the filled part,
as serving engines do).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODELS: dict[str, dict[str, int]] = {
    # Llama-3.1-8B shapes
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256),
    # Llama-3.2-1B shapes (tools/l2_flush_check.py)
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256),
    # the small model of examples/generate_batch.py
    "small": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=4, num_attention_heads=16,
                  num_key_value_heads=4, vocab_size=32000),
}


@dataclass(frozen=True)
class Composition:
    model: str
    kind: str  # prefill | decode | mixed
    seqs: int  # prefill: B; decode: B; mixed: P prefills
    new: int  # prefill / mixed: tokens per prefill (L); decode: 1
    context: int = 0  # decode / mixed: cached tokens per decoding sequence (C)
    decodes: int = 0  # mixed: decoding sequences (D)
    cache: str = "dynamic"  # decode / mixed: dynamic | inplace

    @property
    def id(self) -> str:
        suffix = ":inplace" if self.cache == "inplace" else ""
        match self.kind:
            case "prefill":
                return f"{self.model}:prefill:b{self.seqs}x{self.new}"
            case "decode":
                return f"{self.model}:decode:b{self.seqs}c{self.context}{suffix}"
            case _:
                return f"{self.model}:mixed:p{self.seqs}x{self.new}+d{self.decodes}c{self.context}{suffix}"

    @property
    def sequences(self) -> int:
        return self.seqs + self.decodes

    @classmethod
    def parse(cls, text: str) -> Composition:
        for c in COMPOSITIONS:
            if c.id == text:
                return c
        raise KeyError(text)


def _c(model: str, kind: str, seqs: int, new: int = 1, context: int = 0, decodes: int = 0,
       cache: str = "dynamic") -> Composition:
    return Composition(model, kind, seqs, new, context, decodes, cache)


COMPOSITIONS: list[Composition] = [
    # Llama-3.1-8B: 1-256 sequences
    _c("8b", "prefill", 1, 128), _c("8b", "prefill", 1, 1024), _c("8b", "prefill", 1, 4096),
    _c("8b", "prefill", 4, 512), _c("8b", "prefill", 16, 256),
    _c("8b", "decode", 1, context=2048), _c("8b", "decode", 16, context=1024),
    _c("8b", "decode", 64, context=1024), _c("8b", "decode", 128, context=512),
    _c("8b", "decode", 256, context=512),
    _c("8b", "mixed", 1, 512, context=512, decodes=31), _c("8b", "mixed", 2, 1024, context=1024, decodes=62),
    _c("8b", "mixed", 4, 256, context=256, decodes=252),
    # the small example model
    _c("small", "prefill", 8, 64), _c("small", "decode", 8, context=96),
    _c("small", "mixed", 2, 64, context=64, decodes=6),
    # the same with an in-place (serving-style) KV cache, and more batch sizes
    *[_c("8b", "decode", b, context=c, cache="inplace") for b, c in
      [(1, 2048), (8, 4096), (16, 1024), (32, 2048), (64, 1024), (128, 512), (256, 512), (256, 1024)]],
    *[_c("8b", "mixed", p, l, context=c, decodes=d, cache="inplace") for p, l, c, d in
      [(1, 512, 512, 31), (2, 1024, 1024, 62), (4, 256, 256, 252), (1, 2048, 2048, 15), (1, 128, 1024, 127)]],
    _c("8b", "prefill", 2, 2048), _c("8b", "prefill", 64, 64), _c("8b", "prefill", 1, 8192),
    _c("small", "decode", 8, context=96, cache="inplace"), _c("small", "decode", 64, context=512, cache="inplace"),
    _c("small", "mixed", 2, 64, context=64, decodes=6, cache="inplace"),
]


def build_model(model: str) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(max_position_embeddings=16384, **MODELS[model])
    cfg._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = LlamaForCausalLM._from_config(cfg, dtype=torch.bfloat16).eval()
    # random, never zero or uninitialised, weights: GEMMs on zeros run faster than on real data
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model


def serve(model: Any, requests: int, prompt: int, new: int) -> int:
    """transformers continuous batching (generate_batch, paged|sdpa), as examples/generate_batch.py
    runs it; returns the number of generated tokens."""
    from transformers import GenerationConfig

    model.config._attn_implementation = "paged|sdpa"
    try:
        gen = GenerationConfig(max_new_tokens=new, min_new_tokens=new, do_sample=False, eos_token_id=-1,
                               pad_token_id=0, use_cuda_graph=False)
        prompts = [[(7 * i + j) % model.config.vocab_size for j in range(prompt)] for i in range(requests)]
        out = model.generate_batch(inputs=prompts, generation_config=gen, progress_bar=False)
        return sum(len(o.generated_tokens) for o in out.values())
    finally:
        model.config._attn_implementation = "sdpa"


def _unpacked_prefill() -> None:
    """Without a cache, transformers looks for packed sequences in the values of position_ids
    (``find_packed_sequence_indices``: GPU kernels, then ``.all()`` read on the host). A virtual
    GPU does not compute values, so it would see packing where the real GPU sees none and attend
    with an explicit mask instead of ``is_causal``. Our prefills are never packed: the check still
    runs (the same kernels on both sides) and its answer is the real GPU's, None."""
    from transformers import masking_utils

    original = getattr(masking_utils.find_packed_sequence_indices, "__wrapped__", None)
    if original is not None:
        return
    original = masking_utils.find_packed_sequence_indices

    def unpacked(position_ids: Any) -> None:
        original(position_ids)
        return None

    unpacked.__wrapped__ = original  # type: ignore[attr-defined]
    masking_utils.find_packed_sequence_indices = unpacked


def _inplace_cache(layers: int, keys: list[Any], values: list[Any], length: int) -> Any:
    """A DynamicCache whose layers write new tokens into preallocated buffers (b, kv heads,
    capacity, head dim) in place and hand attention the filled part."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    class InPlaceLayer(DynamicLayer):  # type: ignore[misc]
        def __init__(self, kbuf: Any, vbuf: Any, filled: int) -> None:
            super().__init__()
            self.kbuf, self.vbuf, self.filled = kbuf, vbuf, filled
            self.dtype, self.device = kbuf.dtype, kbuf.device
            self.is_initialized = True
            self._views()

        def _views(self) -> None:
            self.keys = self.kbuf[:, :, :self.filled]
            self.values = self.vbuf[:, :, :self.filled]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            n = key_states.shape[-2]
            self.kbuf[:, :, self.filled:self.filled + n].copy_(key_states)
            self.vbuf[:, :, self.filled:self.filled + n].copy_(value_states)
            self.filled += n
            self._views()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.filled

        def crop(self, tokens_to_remove: int) -> None:
            self.filled -= abs(tokens_to_remove)
            self._views()

    cache = DynamicCache()
    cache.layers = [InPlaceLayer(keys[i], values[i], length) for i in range(layers)]
    return cache


class Forward:
    """Inputs of one composition; ``run()`` is one forward pass (the measured region)."""

    def __init__(self, model: Any, comp: Composition) -> None:
        import torch
        from transformers import DynamicCache

        self.model, self.comp = model, comp
        cfg = model.config
        kvh, hd = cfg.num_key_value_heads, cfg.hidden_size // cfg.num_attention_heads
        layers = cfg.num_hidden_layers
        dev, dt = torch.device("cuda"), torch.bfloat16
        self.cache = None
        self.mask = None
        self.keep: Any = 1
        if comp.kind == "prefill":
            self.ids = torch.randint(0, cfg.vocab_size, (comp.seqs, comp.new), device=dev)
            self.pos = torch.arange(comp.new, device=dev).expand(comp.seqs, -1)
            self.cached = 0
            _unpacked_prefill()
            return
        if comp.kind == "decode":
            b, ctx = comp.seqs, comp.context
            self.ids = torch.randint(0, cfg.vocab_size, (b, 1), device=dev)
            self.pos = torch.full((b, 1), ctx, device=dev)
        else:
            p, l, d, ctx = comp.seqs, comp.new, comp.decodes, comp.context
            b, new = 1, p * l + d
            self.ids = torch.randint(0, cfg.vocab_size, (1, new), device=dev)
            pos = [i for _ in range(p) for i in range(l)] + [ctx] * d
            self.pos = torch.tensor([pos], device=dev)
            ctx_total = d * ctx
            # mask[q, k]: decode j sees its own context block and itself; prefill tokens are causal
            # within their own block of the new tokens
            q = torch.arange(new, device=dev)[:, None]
            k = torch.arange(ctx_total + new, device=dev)[None, :]
            seq_of_q = torch.where(q < p * l, q // l, p + (q - p * l))
            kn = k - ctx_total  # index among the new tokens (negative: cached context)
            seq_of_k = torch.where(kn >= 0, torch.where(kn < p * l, kn // l, p + (kn - p * l)),
                                   p + k // max(ctx, 1))
            same = seq_of_q == seq_of_k
            causal = (kn < 0) | (kn <= q)
            self.mask = (same & causal)[None, None]
            last = [i * l + l - 1 for i in range(p)] + [p * l + j for j in range(d)]
            self.keep = torch.tensor(last, device=dev)
            ctx = ctx_total
        self.cached = ctx
        if comp.cache == "inplace":
            new = self.ids.shape[1]
            keys = [torch.randn(b, kvh, ctx + new, hd, device=dev, dtype=dt) for _ in range(layers)]
            values = [torch.randn(b, kvh, ctx + new, hd, device=dev, dtype=dt) for _ in range(layers)]
            self.cache = _inplace_cache(layers, keys, values, ctx)
            return
        self.cache = DynamicCache()
        for layer in range(layers):
            kv = torch.randn(b, kvh, ctx, hd, device=dev, dtype=dt)
            self.cache.update(kv, kv.clone(), layer)

    def run(self) -> None:
        import torch

        with torch.inference_mode():
            self.model(input_ids=self.ids, position_ids=self.pos, attention_mask=self.mask,
                       past_key_values=self.cache, use_cache=self.cache is not None, logits_to_keep=self.keep)
        if self.cache is not None:
            self.cache.crop(-self.ids.shape[1])  # the next run sees the same history again
