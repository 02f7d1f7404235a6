"""Profiled models: durations interpolated from measurements taken on a real GPU of the same model
(``predictors/profiles/<gpu>/profile.json``, made by ``python -m predictors.profile`` and
``predictors.profile.pack``), with the analytical roofline wherever the profile has nothing close.

- GEMMs: per element types, the measured times along m for the same (n, k, batch) — LLM weights are
  fixed, tokens vary — interpolated in log-log space on the ratio to the roofline; otherwise the
  nearest measured shapes (inverse-distance weighting in log space) on the same ratio.
- Attention: per dtype, head dim, mask (an explicit mask, as transformers passes with a cache or
  padding, versus none) and shape kind (causal prefill, decode, general), interpolated along the
  varying length or batch (bilinear in both lengths for the general kind); otherwise nearest
  measured shapes, as for GEMMs. Where a forward pass measured a shape in place, that wins.
- Kernels known only by name and launch geometry (elementwise, reductions, copies, norms,
  ...): the kernel table of the same name (matched across torch versions by normalised names, see
  ``predictors.names``), interpolated in the number of blocks; kernels never seen fall back to their
  template's family, then to the roofline. A launch geometry does not always fix the work (capped
  grids: row reductions, ``cat``, grid-stride loops): measurements of one geometry then come from
  serving runs first, forward passes next, the sweep last (see ``KernelTable._pick``).
- Copies and memsets: measured curves over bytes per direction; peer copies use the roofline's
  alpha-beta model.
- NCCL collectives: measured curves over bytes per (collective, ranks) from
  ``profiles/<gpu>/collectives.json`` (``predictors.profile.collectives``), interpolated in log-log
  space; for a number of ranks not measured, the nearest measured curve scaled by alpha-beta fits
  (see ``CollectiveModel``); GPUs without curves of their own or of a GPU with the same NVLink
  figure (``also_for``) keep the roofline's alpha-beta model.
- Host costs (the interposer's launch and sync latencies): from the profile's ``host`` section
  (``HOST_COSTS``), where it has them; ``predictors.base.native_config`` writes them.

Prediction follows the real system: an operation is predicted from what the real GPU measured for
the same operation and shapes, whichever kernel the emulated run would pick. Every answer is cached
per operation (a lookup of a known operation costs well under a microsecond), and ``stats`` counts
which path answered.
"""
from __future__ import annotations

import bisect
import functools
import json
import math
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from predictors import names as kn
from predictors.catalog import Hardware, HostCosts
from predictors.ops import AttentionOp, CollectiveOp, GemmOp, HostFnOp, KernelOp, MemcpyOp, MemsetOp, Op
from predictors.profile import grid
from predictors.roofline import COLLECTIVE_BASE_NS, COLLECTIVE_STEP_NS, RooflinePredictor, ring_share_steps

PROFILES_DIR = Path(__file__).parent / "profiles"
KERNEL_FLOOR_NS = 900.0  # the shortest kernels CUPTI reports on H100/H200 (an empty launch)
BANDWIDTH_BOUND_NS = 8000.0  # a launch this long is past its fixed costs: time grows with work
FORMAT = 1
COLLECTIVES_FORMAT = 1
# The interposer's host costs <- the profile's host measurements (predictors.profile.harness
# host_section). launch: kineto's kernel start minus the start of its cudaLaunchKernel call on an
# idle GPU, the delay the interposer adds after a launch call (the CPU time of the call itself, and
# of torch's dispatch, runs for real under the interposer). sync: an idle stream.synchronize(), the
# cost of the synchronisations serving loops make (.item(), .cpu(), .tolist()); an idle
# cudaDeviceSynchronize costs more (host.idle_device_sync_ns) but the interposer has one figure.
HOST_COSTS = {"launch_latency_ns": "idle_launch_to_start_ns", "sync_latency_ns": "idle_stream_sync_ns"}


def available() -> list[str]:
    """Catalog keys that ship a profile."""
    return sorted(p.parent.name for p in PROFILES_DIR.glob("*/profile.json"))


@functools.cache
def load_profile(key: str) -> dict[str, Any] | None:
    path = PROFILES_DIR / key / "profile.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: profile format {data.get('format')}, expected {FORMAT}")
    return data


def load_collectives(hardware: Hardware) -> dict[str, Any] | None:
    """The collective curves for ``hardware``: its own (``profiles/<key>/collectives.json``), else
    those of a GPU that names it in ``also_for`` and was measured with the same NVLink bandwidth
    as the catalog gives ``hardware`` (the same links: H100 and H200 SXM are both NVLink 4)."""
    return _collectives(hardware.key, hardware.nvlink_bandwidth_bytes_per_s)


@functools.cache
def _collectives(key: str, nvlink: float) -> dict[str, Any] | None:
    own = PROFILES_DIR / key / "collectives.json"
    for path in [own, *sorted(p for p in PROFILES_DIR.glob("*/collectives.json") if p != own)]:
        if not path.exists():
            continue
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("format") != COLLECTIVES_FORMAT:
            raise ValueError(f"{path}: collectives format {data.get('format')}, expected {COLLECTIVES_FORMAT}")
        if path == own or (key in data.get("also_for", []) and data.get("nvlink_bandwidth_bytes_per_s") == nvlink):
            return data
    return None


def profile_host_costs(profile: dict[str, Any], hardware: Hardware) -> HostCosts | None:
    """The interposer's host costs from the profile's host measurements (``HOST_COSTS``); a figure
    the profile lacks (CUDA-event timing: no kineto) stays the catalog's. None without any."""
    host = profile.get("host") or {}
    measured = {item: host.get(field) for item, field in HOST_COSTS.items()}
    if all(v is None for v in measured.values()):
        return None
    catalog = {"launch_latency_ns": hardware.launch_latency_ns, "sync_latency_ns": hardware.sync_latency_ns}
    values = {item: round(v) if v is not None else catalog[item] for item, v in measured.items()}
    parts = [f"{item} {'host.' + HOST_COSTS[item] if measured[item] is not None else 'catalog'}" for item in HOST_COSTS]
    meta = profile.get("meta", {})
    return HostCosts(values["launch_latency_ns"], values["sync_latency_ns"],
                     f"profile {hardware.key} ({meta.get('date')}): {', '.join(parts)}")


def rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    cols = table["columns"]
    return [dict(zip(cols, r)) for r in table["rows"]]


# ---- interpolation -----------------------------------------------------------------------------

def interpolate(points: list[tuple[float, float]], x: float, extrapolate: bool = True) -> float | None:
    """Piecewise-linear y(x) through points sorted by x; beyond the ends, the end value (the
    residual against the roofline stays constant) when ``extrapolate``, else None."""
    xs = [p[0] for p in points]
    i = bisect.bisect_left(xs, x)
    if i < len(xs) and xs[i] == x:
        return points[i][1]
    if i == 0 or i == len(xs):
        if not extrapolate:
            return None
        return points[0][1] if i == 0 else points[-1][1]
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _line(pairs: Iterable[tuple[float, ...]]) -> list[tuple[float, float]]:
    """Sorted (x, y) with duplicates of x merged by their median y; where points carry a third
    value (a priority), only the highest priority's points at an x count."""
    by_x: dict[float, dict[float, list[float]]] = {}
    for x, y, *prio in pairs:
        by_x.setdefault(x, {}).setdefault(prio[0] if prio else 0.0, []).append(y)
    return sorted((x, statistics.median(ys[max(ys)])) for x, ys in by_x.items())


def priority(source: str) -> int:
    """Measurements inside serving runs, then forward passes, describe LLM serving work best
    (in-situ caches, the shapes that occur); the grids and sweeps cover the rest."""
    return 2 if source.startswith("serve:") else 1 if source.startswith("forward:") else 0


class Nearest:
    """Inverse-distance weighting of a residual over the k nearest points in a feature space."""

    def __init__(self, points: list[tuple[tuple[float, ...], float]], k: int = 4) -> None:
        self.points = points
        self.k = k

    def __call__(self, x: tuple[float, ...]) -> float | None:
        if not self.points:
            return None
        near = sorted(((sum((a - b) ** 2 for a, b in zip(p, x)), r) for p, r in self.points))[:self.k]
        if near[0][0] == 0:
            return near[0][1]
        weights = [1 / d for d, _ in near]
        return sum(w * r for w, (_, r) in zip(weights, near)) / sum(weights)


def _log(x: float) -> float:
    return math.log2(max(x, 1))


# ---- GEMM --------------------------------------------------------------------------------------

class GemmModel:
    def __init__(self, samples: list[tuple[GemmOp, float, str]], roof: Callable[[Op], float]) -> None:
        self.roof = roof
        exact: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        lines: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        scattered: dict[tuple[Any, ...], list[tuple[tuple[float, ...], float]]] = {}
        for op, ns, source in samples:
            r = math.log(ns / roof(op))
            exact.setdefault(self._key(op), []).append((0.0, ns, priority(source)))
            lines.setdefault(self._line_key(op), []).append((_log(op.m), r, priority(source)))
            scattered.setdefault(self._group(op), []).append((self._features(op), r))
        self.exact = {k: v[0][1] for k, v in ((k, _line(v)) for k, v in exact.items())}
        self.lines = {k: _line(v) for k, v in lines.items()}
        self.nearest = {k: Nearest(v) for k, v in scattered.items()}

    @staticmethod
    def _group(op: GemmOp) -> tuple[Any, ...]:
        # torch's grouped GEMM is its own kernel: measured apart, never mixed with cuBLAS's
        return (op.dtype_a, op.dtype_b, op.dtype_c, "tf32" if "tf32" in op.compute else "",
                op.library == "grouped_mm")

    def _key(self, op: GemmOp) -> tuple[Any, ...]:
        return (*self._group(op), op.m, op.n, op.k, op.batch, op.trans_a, op.trans_b)

    def _line_key(self, op: GemmOp, trans: tuple[bool, bool] | None = None) -> tuple[Any, ...]:
        return (*self._group(op), op.n, op.k, op.batch, *(trans or (op.trans_a, op.trans_b)))

    @staticmethod
    def _features(op: GemmOp) -> tuple[float, ...]:
        return (_log(op.m), _log(op.n), _log(op.k), _log(op.batch))

    def predict(self, op: GemmOp) -> tuple[float | None, str]:
        ns = self.exact.get(self._key(op))
        if ns is not None:
            return ns, "exact"
        for trans in [(op.trans_a, op.trans_b), (False, True), (False, False), (True, False), (True, True)]:
            line = self.lines.get(self._line_key(op, trans))
            if line:
                r = interpolate(line, _log(op.m))
                assert r is not None
                return self.roof(op) * math.exp(r), "line"
        nearest = self.nearest.get(self._group(op))
        if nearest is not None:
            r = nearest(self._features(op))
            if r is not None:
                return self.roof(op) * math.exp(r), "nearest"
        return None, "none"


# ---- attention ---------------------------------------------------------------------------------

class AttentionModel:
    # which dimension to interpolate along, in order, per shape kind
    ORDER = {"square": (3, 0, 1), "decode": (4, 0, 1, 2), "general": (4, 3, 0, 1)}

    def __init__(self, samples: list[tuple[AttentionOp, float, str]], roof: Callable[[Op], float]) -> None:
        self.roof = roof
        exact: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        lines: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        scattered: dict[tuple[Any, ...], list[tuple[tuple[float, ...], float]]] = {}
        planes: dict[tuple[Any, ...], dict[float, list[tuple[float, float, int]]]] = {}
        self.masked_data = False
        for op, ns, source in samples:
            r = math.log(ns / roof(op))
            group = self._group(op, bool(op.mask))
            self.masked_data |= bool(op.mask)
            feats = self._dims(op)
            exact.setdefault((*group, *feats), []).append((0.0, ns, priority(source)))
            for d in self.ORDER[group[-1]]:
                lines.setdefault(self._line_key(group, d, feats), []).append((_log(feats[d]), r, priority(source)))
            scattered.setdefault((op.dtype, bool(op.mask)), []).append((self._features(op), r))
            if group[-1] == "general":
                planes.setdefault((*group, *feats[:3]), {}).setdefault(_log(op.q_len), []).append(
                    (_log(op.kv_len), r, priority(source)))
        self.exact = {k: v[0][1] for k, v in ((k, _line(v)) for k, v in exact.items())}
        self.lines = {k: _line(v) for k, v in lines.items()}
        self.planes = {k: {q: _line(v) for q, v in by_q.items()} for k, by_q in planes.items()}
        self.nearest = {k: Nearest(v) for k, v in scattered.items()}

    def _plane(self, group: tuple[Any, ...], feats: tuple[int, ...]) -> float | None:
        """Bilinear in (log q_len, log kv_len) between the measured query lengths that bracket q_len
        (same batch and heads), each interpolated along kv_len."""
        by_q = self.planes.get((*group, *feats[:3]))
        if not by_q:
            return None
        qs = sorted(by_q)
        x = _log(feats[3])
        i = bisect.bisect_left(qs, x)
        if i == 0 or i == len(qs):
            return None
        (q0, q1) = qs[i - 1], qs[i]
        r0 = interpolate(by_q[q0], _log(feats[4]))
        r1 = interpolate(by_q[q1], _log(feats[4]))
        assert r0 is not None and r1 is not None
        return r0 + (r1 - r0) * (x - q0) / (q1 - q0)

    @staticmethod
    def _kind(op: AttentionOp) -> str:
        if op.q_len == 1:
            return "decode"
        return "square" if op.q_len == op.kv_len else "general"

    def _group(self, op: AttentionOp, masked: bool) -> tuple[Any, ...]:
        return (op.dtype, op.head_dim, op.head_dim_v, op.causal and op.q_len > 1, masked, self._kind(op))

    def masked(self, op: AttentionOp) -> bool:
        """Whether the real system attends with an explicit mask: as reported, else as transformers
        does (a mask whenever more than one query row is not plainly causal)."""
        if op.mask is not None:
            return op.mask
        return self.masked_data and op.q_len > 1 and not op.causal

    @staticmethod
    def _dims(op: AttentionOp) -> tuple[int, ...]:
        return (op.batch, op.heads, op.kv_heads, op.q_len, op.kv_len)

    @staticmethod
    def _line_key(group: tuple[Any, ...], d: int, feats: tuple[int, ...]) -> tuple[Any, ...]:
        """Points on one line share every dimension but d; along q = kv (square shapes) both
        lengths move together."""
        skip = {3, 4} if group[-1] == "square" and d in (3, 4) else {d}
        return (*group, d, *(f for i, f in enumerate(feats) if i not in skip))

    def _features(self, op: AttentionOp) -> tuple[float, ...]:
        return (_log(op.batch), _log(op.heads), _log(op.heads // max(op.kv_heads, 1)), _log(op.q_len), _log(op.kv_len),
                _log(op.head_dim), 4.0 * (op.causal and op.q_len > 1), 4.0 * (op.q_len == 1))

    def predict(self, op: AttentionOp) -> tuple[float | None, str]:
        masked = self.masked(op)
        feats = self._dims(op)
        # the mask kind the real system uses first; the other where that kind was never measured
        for m in (masked, not masked):
            group = self._group(op, m)
            ns = self.exact.get((*group, *feats))
            if ns is not None:
                return ns, "exact"
            for extrapolate in (False, True):
                for d in self.ORDER[group[-1]]:
                    line = self.lines.get(self._line_key(group, d, feats))
                    if line and (len(line) >= 2 or extrapolate):
                        r = interpolate(line, _log(feats[d]), extrapolate)
                        if r is not None:
                            return self.roof(op) * math.exp(r), "line"
                if not extrapolate and group[-1] == "general":
                    r = self._plane(group, feats)
                    if r is not None:
                        return self.roof(op) * math.exp(r), "plane"
        nearest = self.nearest.get((op.dtype, masked)) or self.nearest.get((op.dtype, not masked))
        if nearest is not None:
            r = nearest(self._features(op))
            if r is not None:
                return self.roof(op) * math.exp(r), "nearest"
        return None, "none"


# ---- kernels by name and geometry -----------------------------------------------------------------

# the sweep's items whose reduction kernel reduces the whole rows x cols input (harness kernel ops)
REDUCING_ITEMS = ("mean_last", "sum_last", "argmax", "rmsnorm")


def reduced_shape(name: str, source: str) -> tuple[int, int] | None:
    """(outputs, elements per output) of a measured reduction kernel, where its sweep item says."""
    parts = source.split("|")
    if len(parts) != 4 or parts[0] != "kop" or parts[1] not in REDUCING_ITEMS or "reduce_kernel" not in name:
        return None
    rows, _, cols = parts[3].partition("x")
    return int(rows), int(cols)


class KernelTable:
    def __init__(self, samples: list[tuple[str, tuple[int, ...], tuple[int, ...], float, str]],
                 default_per_thread: float = 0.0) -> None:
        # a launch geometry does not always fix the work (capped grids: reductions over rows, cat,
        # grid-stride loops): where several measurements share one, those of forward passes and
        # serving runs (LLM work) win over the sweep's
        by_name: dict[str, dict[tuple[Any, ...], list[tuple[float, float, int]]]] = {}
        for name, g, b, ns, source in samples:
            by_name.setdefault(name, {}).setdefault((g, b), []).append((0.0, ns, priority(source)))
        by_name_ns = {n: {geo: self._pick(v) for geo, v in geos.items()} for n, geos in by_name.items()}
        llm_work = {n: {geo for geo, v in geos.items() if max(p for _, _, p in v) > 0} for n, geos in by_name.items()}
        self.exact = {(n, g, b): ns for n, geo in by_name_ns.items() for (g, b), ns in geo.items()}
        self.names = set(by_name)
        self.by_level1: dict[str, list[str]] = {}
        self.by_level2: dict[str, list[str]] = {}
        self.by_template: dict[str, list[str]] = {}
        for n in self.names:
            self.by_level1.setdefault(kn.level1(n), []).append(n)
            self.by_level2.setdefault(kn.level2(n), []).append(n)
            self.by_template.setdefault(kn.template(n), []).append(n)
        # per name: x = log2 blocks (same block shape) or log2 threads -> log ns. One name can do
        # different work per block (a copy of contiguous, transposed or broadcast data), so between
        # two launches measured in LLM work (serving runs, forward passes) the time follows the
        # line through those alone (`llm_blocks`, `llm_threads`): the sweep's launches of the same
        # kernel can cost several times more per block and would otherwise set it there.
        blocks: dict[tuple[str, tuple[int, ...]], list[tuple[float, float, bool]]] = {}
        threads: dict[str, list[tuple[float, float, bool]]] = {}
        for n, geo in by_name_ns.items():
            for (g, b), ns in geo.items():
                llm = (g, b) in llm_work[n]
                blocks.setdefault((n, b), []).append((_log(math.prod(g)), math.log(ns), llm))
                threads.setdefault(n, []).append((_log(math.prod(g) * math.prod(b)), math.log(ns), llm))
        self.blocks = {k: _line((x, y) for x, y, _ in v) for k, v in blocks.items()}
        self.threads = {k: _line((x, y) for x, y, _ in v) for k, v in threads.items()}
        self.llm_blocks = {k: line for k, v in blocks.items() if len(line := _line((x, y) for x, y, llm in v if llm)) >= 2}
        self.llm_threads = {k: line for k, v in threads.items() if len(line := _line((x, y) for x, y, llm in v if llm)) >= 2}
        self.family: dict[str, list[tuple[float, float]]] = {}
        for t, members in self.by_template.items():
            self.family[t] = _line(p for m in members for p in self.threads[m])
        # ns per thread of bandwidth-bound launches, per template
        self.family_per_thread: dict[str, float] = {}
        for t, members in self.by_template.items():
            rates = [math.exp(y) / 2 ** x for m in members for x, y in self.threads[m] if math.exp(y) >= BANDWIDTH_BOUND_NS]
            if rates:
                self.family_per_thread[t] = statistics.median(rates)
        self.default_per_thread = default_per_thread
        # reductions by the elements they reduce: their grid is capped, so the geometry of a serving
        # run's launch may stand for far more or less work. Measured by the sweep's row reductions,
        # whose items name the sizes: (elements, blocks, ns) per kernel name, fitted on first use.
        self.reductions: dict[str, list[tuple[int, int, float]]] = {}
        for name, g, _, ns, source in samples:
            shape = reduced_shape(name, source)
            if shape:
                self.reductions.setdefault(name, []).append((shape[0] * shape[1], math.prod(g), ns))

    @staticmethod
    def _pick(values: list[tuple[float, float, int]]) -> float:
        """One duration for one (name, grid, block): the median of the measurements of the highest
        priority (serving runs, forward passes, sweep). Where the launch geometry does not fix the
        work (capped grids: row reductions, cat, grid-stride loops) measurements of one geometry
        can differ a hundredfold; the serving runs' then stand for what an emulated serving run
        launches."""
        best = max(p for _, _, p in values)
        return statistics.median(ns for _, ns, p in values if p == best)

    @functools.lru_cache(maxsize=8192)
    def resolve(self, name: str) -> tuple[tuple[str, ...], str]:
        """Measured names standing for ``name`` (mangled or not), and how they were matched."""
        d = kn.demangle(name)
        if d in self.names:
            return (d,), "name"
        same = self.by_level1.get(kn.level1(d))
        if same:
            return tuple(same), "normalised"
        same = self.by_level2.get(kn.level2(d))
        if same:
            return tuple(same), "tokens"
        candidates = self.by_template.get(kn.template(d), [])
        scored = sorted(((kn.similarity(d, c), c) for c in candidates), reverse=True)
        if scored and scored[0][0] >= 0.6:
            return (scored[0][1],), "similar"
        if candidates:
            return (), "family"
        return (), "unknown"

    def predict(self, op: KernelOp) -> tuple[float | None, str]:
        matched, how = self.resolve(op.name)
        g, b = tuple(op.grid), tuple(op.block)
        if op.elements:
            found = [self._reduction_model(n)(op.elements, math.prod(g)) for n in matched if n in self.reductions]
            if found:
                return statistics.median(found), f"reduction/{how}"
        if how == "family":
            line = self.family.get(kn.template(kn.demangle(op.name)))
            if line:
                return self._scale(line, _log(math.prod(g) * math.prod(b)), kn.demangle(op.name), 1), "family"
            return None, "none"
        if not matched:
            return None, "none"
        values = []
        for n in matched:
            ns = self.exact.get((n, g, b))
            if ns is not None:
                values.append(ns)
        if values:
            return statistics.median(values), "exact" if how == "name" else f"exact/{how}"
        values = []
        for n in matched:
            xb, xt = _log(math.prod(g)), _log(math.prod(g) * math.prod(b))
            line = self.blocks.get((n, b))
            if (llm := self.llm_blocks.get((n, b))) and llm[0][0] <= xb <= llm[-1][0]:
                values.append(self._scale(llm, xb, n, math.prod(b)))
            elif line:
                values.append(self._scale(line, xb, n, math.prod(b)))
            elif (llm := self.llm_threads.get(n)) and llm[0][0] <= xt <= llm[-1][0]:
                values.append(self._scale(llm, xt, n, 1))
            elif self.threads.get(n):
                values.append(self._scale(self.threads[n], xt, n, 1))
        if values:
            return statistics.median(values), f"geometry/{how}"
        return None, "none"

    @functools.lru_cache(maxsize=256)
    def _reduction_model(self, name: str) -> Callable[[int, int], float]:
        """A reduction's time from its elements and blocks, fitted to its measurements: a floor plus
        the elements at the lower of a peak rate and a rate per block (few blocks cannot draw the
        memory bandwidth). Held out, this prices the sweep's reductions within 10.9% / 8.4% median
        (H100 / H200), their geometry alone 37% / 40%, interpolating among the measured shapes 23% /
        29% (benchmarks/predictors_accuracy.py): torch picks another configuration per shape."""
        pts = [(float(n), float(b), math.log(ns)) for n, b, ns in self.reductions[name]]
        shortest = math.exp(min(y for _, _, y in pts))

        def loss(floor: float, peak: float, per_block: float) -> float:
            return sum((math.log(floor + n / min(peak, b * per_block)) - y) ** 2 for n, b, y in pts)

        # elements per ns: the peak up to 2^14, per block 2^-6 to 2^8; a coarse grid, then finer
        _, f, i0, j0 = min((loss(f * shortest, 2.0 ** i, 2.0 ** j), f, i, j) for f in (0.6, 0.8, 1.0)
                           for i in [x / 2 for x in range(0, 29)] for j in [x / 2 for x in range(-12, 17)])
        _, i0, j0 = min((loss(f * shortest, 2.0 ** (i0 + di / 8), 2.0 ** (j0 + dj / 8)), i0 + di / 8, j0 + dj / 8)
                        for di in range(-4, 5) for dj in range(-4, 5))
        floor, peak, per_block = f * shortest, 2.0 ** i0, 2.0 ** j0
        return lambda elements, blocks: floor + elements / min(peak, blocks * per_block)

    def _scale(self, line: list[tuple[float, float]], x: float, name: str, threads_per_block: int) -> float:
        """Duration at work 2**x (blocks, or threads) from the (log2 work, ln ns) points of one kernel.

        Memory-bound kernels cost a fixed part plus a part per unit of work, so between two measured
        launches the time is linear in the work; where the next measured launch takes far longer
        than its share of work (a kernel whose blocks do more each: cat, grid-stride loops) the
        lower launch's time per unit of work is kept. Beyond the largest launch the time grows by
        the kernel's own time per unit of work where that launch was bandwidth-bound, else by its
        family's (kernels of the same template), else by the roofline's guess; below the smallest
        it falls towards the shortest kernel measured (KERNEL_FLOOR_NS)."""
        w = 2.0 ** x
        pts = [(2.0 ** a, math.exp(b)) for a, b in line]
        if w >= pts[-1][0]:
            w1, t1 = pts[-1]
            if t1 >= BANDWIDTH_BOUND_NS:
                per = t1 / w1
            else:
                per = self.family_per_thread.get(kn.template(name), self.default_per_thread) * threads_per_block
            return t1 + per * (w - w1)
        if w <= pts[0][0]:
            w0, t0 = pts[0]
            if len(pts) == 1:
                return max(KERNEL_FLOOR_NS, t0 * 0.5 + t0 * 0.5 * w / w0)
            w1, t1 = pts[1]
            slope = max((t1 - t0) / (w1 - w0), 0.0)
            return max(KERNEL_FLOOR_NS, min(t0, t0 - slope * (w0 - w)))
        i = bisect.bisect_left([p[0] for p in pts], w)
        (w0, t0), (w1, t1) = pts[i - 1], pts[i]
        if t1 / t0 > 2 * w1 / w0:  # inconsistent work per block: keep the lower launch's rate
            return t0 * w / w0
        return t0 + (t1 - t0) * (w - w0) / (w1 - w0)


# ---- copies --------------------------------------------------------------------------------------

class CopyModel:
    def __init__(self, samples: list[tuple[str, bool, int, float]]) -> None:
        lines: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for direction, pinned, nbytes, ns in samples:
            lines.setdefault((direction, pinned), []).append((_log(nbytes), math.log(ns)))
        self.lines = {k: _line(v) for k, v in lines.items()}

    def predict(self, direction: str, pinned: bool, nbytes: int) -> tuple[float | None, str]:
        """A copy costs a fixed part plus a part per byte: linear in bytes between two measured
        sizes, at the largest size's bandwidth beyond it, the smallest size's time below it."""
        line = self.lines.get((direction, pinned)) or self.lines.get((direction, True))
        if not line:
            return None, "none"
        pts = [(2.0 ** a, math.exp(b)) for a, b in line]
        w = float(max(nbytes, 1))
        if w >= pts[-1][0]:
            return pts[-1][1] * w / pts[-1][0] if w > pts[-1][0] else pts[-1][1], "curve"
        if w <= pts[0][0]:
            return pts[0][1], "curve"
        i = bisect.bisect_left([p[0] for p in pts], w)
        (w0, t0), (w1, t1) = pts[i - 1], pts[i]
        return t0 + (t1 - t0) * (w - w0) / (w1 - w0), "curve"


# ---- collectives ------------------------------------------------------------------------------------

def _monotone(curve: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A larger buffer never takes less time: a measured dip (small sizes, noise) is lifted to the
    time of the smaller size before it."""
    out: list[tuple[float, float]] = []
    for b, t in curve:
        out.append((b, max(t, out[-1][1]) if out else t))
    return out


def _along_bytes(curve: list[tuple[float, float]], nbytes: float) -> float:
    """Time at ``nbytes`` on a measured (bytes, ns) curve: log-log interpolation between measured
    sizes, the smallest size's time below them (latency-bound), and beyond the largest its time
    plus the last interval's cost per byte (bandwidth-bound)."""
    b = max(nbytes, 1.0)
    xs = [p[0] for p in curve]
    if b <= xs[0]:
        return curve[0][1]
    if b >= xs[-1]:
        if len(curve) == 1:
            return curve[0][1] * b / xs[0]
        (b0, t0), (b1, t1) = curve[-2], curve[-1]
        return t1 + (t1 - t0) / (b1 - b0) * (b - b1)
    i = bisect.bisect_left(xs, b)
    (b0, t0), (b1, t1) = curve[i - 1], curve[i]
    if b == b1:
        return t1
    return t0 * math.exp(math.log(t1 / t0) * math.log(b / b0) / math.log(b1 / b0))


class CollectiveModel:
    """NCCL collectives measured on real GPUs: time over bytes per (collective, ranks).

    A measured (collective, ranks) follows its curve (``_along_bytes``). Another number of ranks
    scales the nearest measured curve of the same collective (fewer ranks on a tie) size by size by
    the ratio of two alpha-beta models, the target's over the reference's: t = alpha + share * bytes
    / busbw, with share the ring's fraction of the buffer each rank sends, busbw the reference's
    bus bandwidth (from its last interval) and alpha a line over the ring's steps through the
    measured ranks' smallest-size times (one measured count: the roofline's base-plus-steps
    proportion). The curve's shape (NCCL's protocol changes) stays, the latency grows with the
    steps and the bandwidth term with the share. A single rank and collectives never measured are
    left to the roofline.
    """

    def __init__(self, samples: list[tuple[str, int, int, float]]) -> None:
        points: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for name, ranks, nbytes, ns in samples:
            if ranks > 1 and nbytes > 0:
                points.setdefault((name, ranks), []).append((float(nbytes), float(ns)))
        self.curves = {k: _monotone(_line(v)) for k, v in points.items()}
        self.fits = {k: self._fit(k[0], k[1], c) for k, c in self.curves.items()}
        self._scaled: dict[tuple[str, int], list[tuple[float, float]] | None] = {}

    @staticmethod
    def _fit(name: str, ranks: int, curve: list[tuple[float, float]]) -> tuple[float, float]:
        """(alpha ns, ns per byte of the share each rank sends) of one measured curve."""
        share, _ = ring_share_steps(name, ranks)
        if len(curve) == 1:
            return curve[0][1], 0.0
        (b0, t0), (b1, t1) = curve[-2], curve[-1]
        return curve[0][1], (t1 - t0) / (b1 - b0) / share

    def bus_bandwidth(self, name: str, ranks: int) -> float | None:
        """Bytes per second of a measured curve's last interval, nccl-tests' bus bandwidth."""
        fit = self.fits.get((name, ranks))
        return 1e9 / fit[1] if fit and fit[1] > 0 else None

    def _alpha(self, name: str, steps: int, reference: int) -> float:
        measured = [(ring_share_steps(name, r)[1], self.fits[(n, r)][0]) for n, r in self.fits if n == name]
        if len({s for s, _ in measured}) >= 2:
            mean_s = statistics.fmean(s for s, _ in measured)
            mean_a = statistics.fmean(a for _, a in measured)
            slope = (sum((s - mean_s) * (a - mean_a) for s, a in measured)
                     / sum((s - mean_s) ** 2 for s, _ in measured))
            return mean_a + max(slope, 0.0) * (steps - mean_s)  # latency never falls with more steps
        steps0 = ring_share_steps(name, reference)[1]
        alpha0 = self.fits[(name, reference)][0]
        return alpha0 * (COLLECTIVE_BASE_NS + steps * COLLECTIVE_STEP_NS) / (COLLECTIVE_BASE_NS + steps0 * COLLECTIVE_STEP_NS)

    def _scale(self, name: str, ranks: int) -> list[tuple[float, float]] | None:
        key = (name, ranks)
        if key in self._scaled:
            return self._scaled[key]
        measured = [r for n, r in self.curves if n == name]
        curve = None
        if measured:
            r0 = min(measured, key=lambda m: (abs(math.log(ranks / m)), m))
            share, steps = ring_share_steps(name, ranks)
            share0, _ = ring_share_steps(name, r0)
            alpha0, per_byte = self.fits[(name, r0)]
            alpha = self._alpha(name, steps, r0)
            curve = _monotone([(b, t * (alpha + share * b * per_byte) / (alpha0 + share0 * b * per_byte))
                               for b, t in self.curves[(name, r0)]])
        self._scaled[key] = curve
        return curve

    def predict(self, op: CollectiveOp) -> tuple[float | None, str]:
        if op.ranks < 2:
            return None, "none"
        curve, how = self.curves.get((op.name, op.ranks)), "curve"
        if curve is None:
            curve, how = self._scale(op.name, op.ranks), "scaled"
        if curve is None:
            return None, "none"
        return _along_bytes(curve, float(op.bytes)), how


def collective_samples(data: dict[str, Any] | None, keep: Callable[[str, str], bool] = lambda cls, key: True
                       ) -> list[tuple[str, int, int, float]]:
    """(name, ranks, bytes, ns) of a collectives file, filtered by ``keep("collective", key)``."""
    if data is None:
        return []
    return [(r["name"], r["ranks"], r["bytes"], r["ns"]) for r in rows(data)
            if keep("collective", grid.collective_key(r["name"], r["ranks"], r["bytes"]))]


# ---- the predictor ---------------------------------------------------------------------------------

def _gemm_op(it: dict[str, Any]) -> GemmOp:
    return GemmOp(**{k: v for k, v in grid.gemm_op(it).items() if k != "kind"})


def _attention_op(it: dict[str, Any]) -> AttentionOp:
    return AttentionOp(**{k: v for k, v in grid.attention_op(it).items() if k != "kind"})


def samples(profile: dict[str, Any], keep: Callable[[str, str], bool] = lambda cls, key: True) -> dict[str, list[Any]]:
    """The profile's measurements as (operation, ns) samples per class; ``keep(class, key)`` filters
    them (the accuracy benchmark keeps the training split only)."""
    names = profile["names"]
    out: dict[str, list[Any]] = {"gemm": [], "attention": [], "kernel": [], "copy": []}
    for r in rows(profile["gemm"]):
        it = {k: r[k] for k in ("m", "n", "k", "batch", "dtype", "form")}
        source = r.get("source", "grid")
        if keep("gemm", grid.gemm_key(it)) and keep("source", source):
            out["gemm"].append((_gemm_op(it), r["ns"], source))
    for r in rows(profile["attention"]):
        it = {k: r[k] for k in ("batch", "heads", "kv_heads", "q_len", "kv_len", "head_dim", "causal", "dtype", "mask")
              if k in r}
        source = r.get("source", "grid")
        if keep("attention", grid.attention_key(it)) and keep("source", source):
            out["attention"].append((_attention_op(it), r["ns"], source))
    for r in rows(profile["kernels"]):
        name = names[r["name"]]
        if keep("kernel", grid.kernel_key(name, r["grid"], r["block"])) and keep("source", r["source"]):
            out["kernel"].append((name, tuple(r["grid"]), tuple(r["block"]), r["ns"], r["source"]))
    for r in rows(profile["copy"]):
        it = {"direction": r["direction"], "pinned": r["pinned"], "bytes": r["bytes"]}
        if keep("copy", grid.copy_key(it)):
            out["copy"].append((r["direction"], r["pinned"], r["bytes"], r["ns"]))
    return out


class ProfiledPredictor:
    """Measured models for ``hardware`` where its profile has data, the roofline elsewhere."""

    def __init__(self, hardware: Hardware, profile: dict[str, Any] | None = None,
                 keep: Callable[[str, str], bool] | None = None, quiet: bool = False,
                 collectives: dict[str, Any] | None = None) -> None:
        self.hardware = hardware
        self.roofline = RooflinePredictor(hardware)
        self.profile = profile if profile is not None else load_profile(hardware.key)
        self.stats: Counter[str] = Counter()
        self._cache: dict[Any, int] = {}
        roof = self._roof
        self.host_costs: HostCosts | None = None  # predictors.base.host_costs reads it
        self.collectives = CollectiveModel([])
        if self.profile is None:
            self.description = f"no profile for {hardware.key}: analytical roofline for every operation"
            if not quiet:
                print(f"predictors: {self.description} (profiles exist for: {', '.join(available()) or 'none'})",
                      file=sys.stderr, flush=True)
            self.gemm = GemmModel([], roof)
            self.attention = AttentionModel([], roof)
            self.kernels = KernelTable([])
            self.copies = CopyModel([])
            return
        meta = self.profile.get("meta", {})
        keep = keep or (lambda cls, key: True)
        coll = collectives if collectives is not None else load_collectives(hardware)
        self.collectives = CollectiveModel(collective_samples(coll, keep))
        if coll is not None and self.collectives.curves:
            measured = sorted({r for _, r in self.collectives.curves})
            borrowed = "" if coll.get("gpu") == hardware.key else f" (same NVLink as {coll.get('gpu')})"
            colls = f"NCCL curves measured on {coll.get('gpu')} x{'/'.join(map(str, measured))}{borrowed} for collectives; "
        else:
            colls = "roofline for collectives; "
        self.description = (f"profiled {hardware.key}: {meta.get('gpu')} measured {meta.get('date')} "
                            f"(torch {meta.get('torch')}, CUDA {meta.get('cuda')}, driver {meta.get('driver')}); "
                            f"{colls}roofline for peer copies and unmeasured operations")
        data = samples(self.profile, keep)
        self.gemm = GemmModel(data["gemm"], roof)
        self.attention = AttentionModel(data["attention"], roof)
        self.kernels = KernelTable(data["kernel"], self._per_thread())
        self.copies = CopyModel(data["copy"])
        self.host_costs = profile_host_costs(self.profile, hardware)

    def _per_thread(self) -> float:
        """The roofline's ns per thread of a kernel known only by its geometry."""
        from predictors.roofline import GENERIC_KERNEL_BYTES_PER_THREAD, HBM_EFFICIENCY

        return GENERIC_KERNEL_BYTES_PER_THREAD / (self.hardware.memory_bandwidth_bytes_per_s * HBM_EFFICIENCY) * 1e9

    def _roof(self, op: Op) -> float:
        return float(self.roofline.duration_ns(op))

    def duration_ns(self, op: Op) -> int:
        ns = self._cache.get(op)
        if ns is None:
            ns = self._cache[op] = self._predict(op)
        return ns

    def explain(self, op: Op) -> tuple[int, str]:
        """(ns, which model answered) without the cache."""
        ns, how = self._answer(op)
        return ns, how

    def _predict(self, op: Op) -> int:
        ns, how = self._answer(op)
        self.stats[f"{op.kind}:{how}"] += 1
        return ns

    def _answer(self, op: Op) -> tuple[int, str]:
        value: float | None = None
        how = "roofline"
        match op:
            case GemmOp():
                value, how = self.gemm.predict(op)
            case AttentionOp():
                value, how = self.attention.predict(op)
            case KernelOp():
                value, how = self.kernels.predict(op)
            case MemcpyOp() if op.direction in ("h2d", "d2h", "d2d"):
                value, how = self.copies.predict(op.direction, op.pinned, op.bytes)
            case MemsetOp():
                value, how = self.copies.predict("memset", True, op.bytes)
            case HostFnOp():
                return 0, "host_fn"
            case CollectiveOp():
                value, how = self.collectives.predict(op)
            case MemcpyOp():
                value, how = None, "roofline"
        if value is None:
            return self.roofline.duration_ns(op), "roofline"
        return max(1, math.ceil(value)), how
