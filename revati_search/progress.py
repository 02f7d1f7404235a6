"""The live view of `revati-search optimize`: trials done / running / failed, the best so far and an
ETA, redrawn in place on a terminal; one line per finished trial otherwise (logs, CI)."""
from __future__ import annotations

import statistics
import time
from typing import Any, Optional

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .optimizer import TrialEvent
from .study import StudySpec


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class ProgressView:
    def __init__(self, spec: StudySpec, console: Optional[Console] = None, already: int = 0):
        self.spec = spec
        self.console = console or Console(stderr=True)
        self.live: Optional[Live] = None
        self.running: dict[int, float] = {}
        self.done = already
        self.complete = self.failed = self.cached = 0
        self.walls: list[float] = []
        self.front: list[tuple[int, list[float]]] = []   # feasible, non-dominated (number, values)
        self.slots = max(1, spec.parallel)
        self.t0 = time.monotonic()

    def __enter__(self) -> ProgressView:
        if self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=2, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(*exc)

    # ------------------------------------------------------------------ events
    def __call__(self, e: TrialEvent) -> None:
        if e.state == "note":
            self.console.print(f"[yellow]note:[/] {e.reason}")
        elif e.state == "started":
            self.running[e.number] = time.monotonic()
        else:
            self.running.pop(e.number, None)
            self.done += 1
            if e.state == "failed":
                self.failed += 1
            else:
                self.complete += 1
                self.cached += e.state == "cached"
                if e.feasible and e.values is not None:
                    self._add_to_front(e.number, e.values)
            if e.wall_s and e.state != "cached":
                self.walls.append(e.wall_s)
            if self.live is None or e.state == "failed":
                self.console.print(self._line(e), highlight=False, soft_wrap=True, markup=False)
        if self.live is not None:
            self.live.update(self._render())

    def _add_to_front(self, number: int, values: list[float]) -> None:
        signs = [1.0 if o.direction == "maximize" else -1.0 for o in self.spec.objectives]
        def dominates(a: list[float], b: list[float]) -> bool:
            return all(s * x >= s * y for s, x, y in zip(signs, a, b)) and any(s * x > s * y for s, x, y in zip(signs, a, b))
        if any(dominates(v, values) for _, v in self.front):
            return
        self.front = [(n, v) for n, v in self.front if not dominates(values, v)] + [(number, values)]

    # ------------------------------------------------------------------ rendering
    def _line(self, e: TrialEvent) -> str:
        names = [o.metric for o in self.spec.objectives]
        head = f"trial {e.number} {e.state}"
        if e.state == "failed":
            return f"{head}: {(e.reason or '').splitlines()[0] if e.reason else 'no reason'}"
        vals = ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, e.values or []))
        params = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in e.params.items())
        wall = f" ({e.wall_s:.1f} s)" if e.wall_s else ""
        infeasible = "" if e.feasible else " (violates constraints)"
        return f"{head}: {vals}{infeasible} | {params}{wall}"

    def best(self) -> str:
        if not self.front:
            return "none feasible yet"
        if len(self.spec.objectives) == 1:
            n, v = self.front[0]
            return f"trial {n}: {self.spec.objectives[0].metric} = {_fmt(v[0])}"
        return f"{len(self.front)} configurations on the Pareto front"

    def eta_s(self) -> Optional[float]:
        if not self.walls:
            return None
        left = max(0, self.spec.n_trials - self.done)
        return statistics.median(self.walls) * left / self.slots

    def _render(self) -> Table:
        t = Table.grid(padding=(0, 2))
        eta = self.eta_s()
        elapsed = time.monotonic() - self.t0
        t.add_row(f"[bold]{self.spec.name}[/]", f"{self.done}/{self.spec.n_trials} trials",
                  f"running {len(self.running)}", f"complete {self.complete}" + (f" ({self.cached} cached)" if self.cached else ""),
                  f"failed {self.failed}", f"elapsed {elapsed:.0f} s", f"ETA {eta:.0f} s" if eta is not None else "ETA -")
        t.add_row("best", self.best())
        return t
