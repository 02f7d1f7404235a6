"""`revati-search report STUDY --out DIR`: the study's results as files.

  DIR/trials.csv     every trial (analysis.trials_frame)
  DIR/pareto.csv     the Pareto front (feasible COMPLETE trials no other dominates), best first
  DIR/report.html    self-contained (plotly.js inline): summary and recommendation, Pareto scatter,
                     optimization history, parameter importance, per-trial table with fail reasons
  DIR/pareto.png, DIR/history.png, DIR/importance.png   the same figures (matplotlib)

Trials are drawn by kind, distinctly: on the Pareto front, feasible, infeasible (an SLO constraint
violated), failed (no objective values: listed on the Pareto figure, marked at the bottom of the history
figure at their trial number), and the recommended one.
"""
from __future__ import annotations

import html
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import optuna
import pandas as pd
from optuna.trial import TrialState

from . import analysis

KINDS = {  # kind -> (label, colour, plotly marker, matplotlib marker)
    "front": ("Pareto front", "#d62728", "circle", "o"),
    "feasible": ("feasible", "#1f77b4", "circle", "o"),
    "infeasible": ("infeasible (SLO violated)", "#ff7f0e", "diamond-open", "D"),
    "failed": ("failed", "#7f7f7f", "x", "x"),
}
RECOMMENDED = ("recommended", "#2ca02c", "star", "*")


@dataclass
class Importance:
    per_objective: dict[str, dict[str, float]]    # objective metric -> param -> importance (sums to 1)
    message: Optional[str] = None                 # why there is none


def _kind(row: pd.Series) -> str:
    if row["state"] == "FAIL":
        return "failed"
    if row["state"] != "COMPLETE":
        return "other"
    if row["pareto"]:
        return "front"
    return "feasible" if bool(row["feasible"]) else "infeasible"


def importance(study: optuna.Study) -> Importance:
    """optuna.importance (its default evaluator, PED-ANOVA) per objective, over COMPLETE trials."""
    objs = analysis.objectives(study)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < 2:
        return Importance({}, f"parameter importance needs at least 2 completed trials; this study has {len(done)}")
    varying = [k for k in {k for t in done for k in t.params}
               if len({json.dumps(t.params.get(k), default=str) for t in done}) > 1]
    if not varying:
        return Importance({}, "parameter importance needs a parameter that differs between completed trials")
    out: dict[str, dict[str, float]] = {}
    try:
        for i, o in enumerate(objs):
            # PED-ANOVA ranks what it takes to get LOW target values: maximized objectives are negated
            sign = -1.0 if o["direction"] == "maximize" else 1.0
            with warnings.catch_warnings():   # its reminder that low targets count as good: handled above
                warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")
                imp = optuna.importance.get_param_importances(study, target=lambda t, i=i, s=sign: s * t.values[i])
            out[o["metric"]] = {k: float(v) for k, v in imp.items()}
    except Exception as e:  # noqa: BLE001  (an evaluator that cannot answer for this study: say why)
        return Importance({}, f"parameter importance could not be computed: {type(e).__name__}: {e}")
    return Importance(out)


# --------------------------------------------------------------------------------------------- plotly figures

def _hover(row: pd.Series, objs: list[dict[str, str]], params: list[str]) -> str:
    parts = [f"trial {row['number']} ({row['state'].lower()})"]
    for o in objs:
        v = row[o["metric"]]
        if not pd.isna(v):
            parts.append(f"{o['metric']} = {v:.6g}")
    for p in params:
        parts.append(f"{p.removeprefix('params_')} = {row[p]}")
    if isinstance(row.get("fail_reason"), str):
        parts.append(f"failed: {html.escape(row['fail_reason'][:200])}")
    return "<br>".join(parts)


def _failed_note(df: pd.DataFrame) -> str:
    """The failed trials, grouped by reason (its first line), for the Pareto figure."""
    failed = df[df["state"] == "FAIL"]
    if failed.empty:
        return ""
    groups: dict[str, list[int]] = {}
    for _, r in failed.iterrows():
        reason = r["fail_reason"].strip().splitlines()[0] if isinstance(r["fail_reason"], str) and r["fail_reason"].strip() else "no reason stored"
        groups.setdefault(reason[:90], []).append(int(r["number"]))
    lines = [f"{len(failed)} failed trial(s), no objective values:"]
    for reason, numbers in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:6]:
        shown = ", ".join(f"#{n}" for n in numbers[:8]) + (", ..." if len(numbers) > 8 else "")
        lines.append(f"{reason} ({len(numbers)}: {shown})")
    if len(groups) > 6:
        lines.append(f"... and {len(groups) - 6} more reasons (see the trial table)")
    return "\n".join(lines)


def pareto_figure(study: optuna.Study, df: pd.DataFrame, rec: Optional[analysis.Recommendation]):  # noqa: ANN201
    import plotly.graph_objects as go

    objs = analysis.objectives(study)
    params = [c for c in df.columns if c.startswith("params_")]
    kinds = df.apply(_kind, axis=1) if not df.empty else pd.Series(dtype=str)
    fig = go.Figure()
    names = [o["metric"] + (" ↑" if o["direction"] == "maximize" else " ↓") for o in objs]
    three = len(objs) >= 3
    for kind, (label, colour, marker, _m) in KINDS.items():
        if kind == "failed":
            continue
        sub = df[kinds == kind]
        if sub.empty:
            continue
        text = [_hover(r, objs, params) for _, r in sub.iterrows()]
        if len(objs) == 1:
            fig.add_trace(go.Scatter(x=sub["number"], y=sub[objs[0]["metric"]], mode="markers", name=f"{label} ({len(sub)})",
                                     marker=dict(color=colour, symbol=marker, size=9), hovertext=text, hoverinfo="text"))
        elif three:
            fig.add_trace(go.Scatter3d(x=sub[objs[0]["metric"]], y=sub[objs[1]["metric"]], z=sub[objs[2]["metric"]],
                                       mode="markers", name=f"{label} ({len(sub)})", hovertext=text, hoverinfo="text",
                                       marker=dict(color=colour, symbol="diamond-open" if kind == "infeasible" else "circle", size=5)))
        else:
            if kind == "front":
                sub = sub.sort_values(objs[0]["metric"])
            fig.add_trace(go.Scatter(x=sub[objs[0]["metric"]], y=sub[objs[1]["metric"]],
                                     mode="lines+markers" if kind == "front" else "markers", name=f"{label} ({len(sub)})",
                                     line=dict(color=colour, dash="dot", shape="hv" if objs[0]["direction"] != objs[1]["direction"] else "linear"),
                                     marker=dict(color=colour, symbol=marker, size=9), hovertext=text, hoverinfo="text"))
    if rec is not None:
        r = df[df["number"] == rec.trial_number].iloc[0]
        v = [r[o["metric"]] for o in objs]
        label, colour, marker, _m = RECOMMENDED
        text = [_hover(r, objs, params)]
        if len(objs) == 1:
            fig.add_trace(go.Scatter(x=[r["number"]], y=v, mode="markers", name=f"{label} (#{rec.trial_number})",
                                     marker=dict(color=colour, symbol=marker, size=18), hovertext=text, hoverinfo="text"))
        elif three:
            fig.add_trace(go.Scatter3d(x=[v[0]], y=[v[1]], z=[v[2]], mode="markers", name=f"{label} (#{rec.trial_number})",
                                       marker=dict(color=colour, symbol="diamond", size=9), hovertext=text, hoverinfo="text"))
        else:
            fig.add_trace(go.Scatter(x=[v[0]], y=[v[1]], mode="markers", name=f"{label} (#{rec.trial_number})",
                                     marker=dict(color=colour, symbol=marker, size=18), hovertext=text, hoverinfo="text"))
    title = "Pareto front" if len(objs) > 1 else f"{objs[0]['metric']} by trial"
    if len(objs) == 1:
        fig.update_layout(xaxis_title="trial", yaxis_title=names[0])
    elif three:
        fig.update_layout(scene=dict(xaxis_title=names[0], yaxis_title=names[1], zaxis_title=names[2]))
    else:
        fig.update_layout(xaxis_title=names[0], yaxis_title=names[1])
    note = _failed_note(df)
    if note:
        fig.add_annotation(text=note.replace("\n", "<br>"), xref="paper", yref="paper", x=0, y=-0.18, showarrow=False,
                           align="left", xanchor="left", yanchor="top", font=dict(color=KINDS["failed"][1], size=11))
    if len(objs) > 3:
        title += f" (first three of {len(objs)} objectives)"
    fig.update_layout(title=title, height=560, margin=dict(b=60 + 16 * note.count("\n") + (16 if note else 0)),
                      legend=dict(orientation="v"), template="plotly_white")
    return fig


def _best_so_far(values: pd.Series, direction: str) -> pd.Series:
    return values.cummax() if direction == "maximize" else values.cummin()


def history_figure(study: optuna.Study, df: pd.DataFrame):  # noqa: ANN201
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    objs = analysis.objectives(study)
    fig = make_subplots(rows=len(objs), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[o["metric"] + (" (maximize)" if o["direction"] == "maximize" else " (minimize)") for o in objs])
    params = [c for c in df.columns if c.startswith("params_")]
    kinds = df.apply(_kind, axis=1) if not df.empty else pd.Series(dtype=str)
    for i, o in enumerate(objs, start=1):
        m = o["metric"]
        vals = df[m] if m in df else pd.Series(dtype=float)
        lo = vals.min() if vals.notna().any() else 0.0
        hi = vals.max() if vals.notna().any() else 1.0
        floor = lo - 0.06 * ((hi - lo) or abs(lo) or 1.0)
        for kind, (label, colour, marker, _m) in KINDS.items():
            sub = df[kinds == kind]
            if sub.empty:
                continue
            y = [floor] * len(sub) if kind == "failed" else sub[m]
            fig.add_trace(go.Scatter(x=sub["number"], y=y, mode="markers", name=label, legendgroup=kind, showlegend=i == 1,
                                     marker=dict(color=colour, symbol=marker, size=9 if kind != "failed" else 11),
                                     hovertext=[_hover(r, objs, params) for _, r in sub.iterrows()], hoverinfo="text"),
                          row=i, col=1)
        ok = df[(kinds == "front") | (kinds == "feasible")].sort_values("number")
        if not ok.empty:
            fig.add_trace(go.Scatter(x=ok["number"], y=_best_so_far(ok[m], o["direction"]), mode="lines", name="best feasible so far",
                                     legendgroup="best", showlegend=i == 1, line=dict(color="#2ca02c", shape="hv")), row=i, col=1)
    fig.update_xaxes(title_text="trial", row=len(objs), col=1)
    fig.update_layout(title="Optimization history", height=260 + 220 * len(objs), template="plotly_white")
    return fig


def importance_figure(imp: Importance):  # noqa: ANN201
    import plotly.graph_objects as go

    fig = go.Figure()
    if imp.message:
        fig.add_annotation(text=imp.message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font=dict(size=14))
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    else:
        params = sorted({p for d in imp.per_objective.values() for p in d},
                        key=lambda p: sum(d.get(p, 0.0) for d in imp.per_objective.values()))
        for metric, d in imp.per_objective.items():
            fig.add_trace(go.Bar(y=params, x=[d.get(p, 0.0) for p in params], orientation="h", name=metric))
        fig.update_layout(barmode="group", xaxis_title="importance (optuna.importance, PED-ANOVA; sums to 1 per objective)")
    fig.update_layout(title="Parameter importance", height=max(320, 120 + 40 * max(1, len({p for d in imp.per_objective.values() for p in d})) * max(1, len(imp.per_objective))),
                      template="plotly_white")
    return fig


# --------------------------------------------------------------------------------------------- matplotlib figures

def _plt():  # noqa: ANN202
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def pareto_png(study: optuna.Study, df: pd.DataFrame, rec: Optional[analysis.Recommendation], path: Path) -> None:
    plt = _plt()
    objs = analysis.objectives(study)
    kinds = df.apply(_kind, axis=1) if not df.empty else pd.Series(dtype=str)
    three = len(objs) >= 3
    fig = plt.figure(figsize=(8, 6.5))
    ax = fig.add_subplot(projection="3d") if three else fig.add_subplot()
    label_of = lambda o: o["metric"] + (" (max)" if o["direction"] == "maximize" else " (min)")  # noqa: E731

    def coords(sub: pd.DataFrame) -> list:
        if len(objs) == 1:
            return [sub["number"], sub[objs[0]["metric"]]]
        return [sub[o["metric"]] for o in objs[:3 if three else 2]]

    for kind, (label, colour, _p, marker) in KINDS.items():
        sub = df[kinds == kind]
        if kind == "failed" or sub.empty:
            continue
        if kind == "front" and len(objs) == 2:
            sub = sub.sort_values(objs[0]["metric"])
            ax.plot(*coords(sub), color=colour, linestyle=":", linewidth=1)
        face = "none" if kind == "infeasible" else colour
        ax.scatter(*coords(sub), label=f"{label} ({len(sub)})", marker=marker, facecolors=face, edgecolors=colour, s=40)
    if rec is not None:
        sub = df[df["number"] == rec.trial_number]
        label, colour, _p, marker = RECOMMENDED
        ax.scatter(*coords(sub), label=f"{label} (#{rec.trial_number})", marker=marker, color=colour, s=220, zorder=5)
    if len(objs) == 1:
        ax.set_xlabel("trial")
        ax.set_ylabel(label_of(objs[0]))
    else:
        ax.set_xlabel(label_of(objs[0]))
        ax.set_ylabel(label_of(objs[1]))
        if three:
            ax.set_zlabel(label_of(objs[2]))
    note = _failed_note(df)
    if note:
        fig.text(0.01, 0.01, note, fontsize=8, color=KINDS["failed"][1], va="bottom", ha="left", family="monospace")
        fig.subplots_adjust(bottom=0.12 + 0.025 * note.count("\n"))
    if not ax.collections:
        ax.text(0.5, 0.5, "no completed trial", transform=ax.transAxes, ha="center")
    else:
        ax.legend(fontsize=8, loc="best")
    ax.set_title(f"{study.study_name}: " + ("Pareto front" if len(objs) > 1 else f"{objs[0]['metric']} by trial"))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def history_png(study: optuna.Study, df: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    objs = analysis.objectives(study)
    kinds = df.apply(_kind, axis=1) if not df.empty else pd.Series(dtype=str)
    fig, axes = plt.subplots(len(objs), 1, figsize=(8, 2.2 + 2.4 * len(objs)), sharex=True, squeeze=False)
    for ax, o in zip(axes[:, 0], objs):
        m = o["metric"]
        vals = df[m] if m in df else pd.Series(dtype=float)
        lo = vals.min() if vals.notna().any() else 0.0
        hi = vals.max() if vals.notna().any() else 1.0
        floor = lo - 0.06 * ((hi - lo) or abs(lo) or 1.0)
        for kind, (label, colour, _p, marker) in KINDS.items():
            sub = df[kinds == kind]
            if sub.empty:
                continue
            y = [floor] * len(sub) if kind == "failed" else sub[m]
            face = "none" if kind == "infeasible" else colour
            if kind == "failed":
                ax.scatter(sub["number"], y, marker=marker, color=colour, s=50, label=label)
            else:
                ax.scatter(sub["number"], y, marker=marker, facecolors=face, edgecolors=colour, s=30, label=label)
        ok = df[(kinds == "front") | (kinds == "feasible")].sort_values("number")
        if not ok.empty:
            ax.step(ok["number"], _best_so_far(ok[m], o["direction"]), where="post", color="#2ca02c", label="best feasible so far")
        ax.set_ylabel(m + (" (max)" if o["direction"] == "maximize" else " (min)"), fontsize=8)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=7, loc="best")
    else:
        axes[0, 0].text(0.5, 0.5, "no trial yet", transform=axes[0, 0].transAxes, ha="center")
    axes[-1, 0].set_xlabel("trial")
    axes[0, 0].set_title(f"{study.study_name}: optimization history")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def importance_png(study: optuna.Study, imp: Importance, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if imp.message:
        ax.text(0.5, 0.5, imp.message, ha="center", va="center", wrap=True, transform=ax.transAxes)
        ax.set_axis_off()
    else:
        params = sorted({p for d in imp.per_objective.values() for p in d},
                        key=lambda p: sum(d.get(p, 0.0) for d in imp.per_objective.values()))
        n = len(imp.per_objective)
        h = 0.8 / n
        for j, (metric, d) in enumerate(imp.per_objective.items()):
            ax.barh([i + j * h for i in range(len(params))], [d.get(p, 0.0) for p in params], height=h, label=metric)
        ax.set_yticks([i + h * (n - 1) / 2 for i in range(len(params))], params, fontsize=8)
        ax.set_xlabel("importance (optuna.importance, PED-ANOVA)")
        ax.legend(fontsize=8)
    ax.set_title(f"{study.study_name}: parameter importance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.reason { text-align: left; max-width: 480px; color: #7f7f7f; }
tr.front td { background: #fde8e8; } tr.infeasible td { background: #fff3e0; }
tr.failed td { color: #7f7f7f; background: #f6f6f6; } tr.recommended td { background: #e3f5e3; font-weight: 600; }
code, pre { background: #f6f8fa; padding: 2px 4px; } pre { padding: 10px; overflow-x: auto; }
.note { color: #555; }
"""


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, pd.Timestamp) or hasattr(v, "isoformat"):
        return str(v)[:19]
    return str(v)


def trial_table(study: optuna.Study, df: pd.DataFrame, rec: Optional[analysis.Recommendation]) -> str:
    objs = [o["metric"] for o in analysis.objectives(study)]
    cols = (["number", "state", "feasible", "pareto"] + objs + [c for c in df.columns if c.startswith("constraint_")]
            + [c for c in df.columns if c.startswith("params_")] + ["duration_s", "run_hash", "fail_reason"])
    head = "".join(f"<th>{html.escape(c.removeprefix('params_'))}</th>" for c in cols)
    rows = []
    for _, r in df.iterrows():
        k = _kind(r)
        cls = "recommended" if rec is not None and r["number"] == rec.trial_number else k
        cells = []
        for c in cols:
            v = r.get(c)
            if c == "run_hash" and isinstance(v, str):
                v = v[:12] + ("…" if len(v) > 12 else "") + (" (cached)" if isinstance(r.get("cached_from"), str) else "")
            cells.append(f"<td class=\"{'reason' if c == 'fail_reason' else ''}\">{html.escape(_fmt(v))}</td>")
        rows.append(f"<tr class=\"{cls}\">{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _summary_html(study: optuna.Study, c: dict[str, int], front_n: int, rec: Optional[analysis.Recommendation]) -> str:
    objs = analysis.objectives(study)
    cons = analysis.constraints(study)
    items = [f"<li>objectives: {', '.join(html.escape(o['direction'] + ' ' + o['metric']) for o in objs)}</li>"]
    if cons:
        def one(x: dict[str, Any]) -> str:
            bounds = [f"≤ {x['max']:g}" if x.get("max") is not None else "", f"≥ {x['min']:g}" if x.get("min") is not None else ""]
            return html.escape(f"{x['metric']} " + " and ".join(b for b in bounds if b))
        items.append(f"<li>constraints: {', '.join(one(x) for x in cons)}</li>")
    items.append(f"<li>trials: {c['total']} — {c['complete']} complete ({c['feasible']} feasible, {c['infeasible']} infeasible), "
                 f"{c['fail']} failed, {c['running']} running, {c['pruned']} pruned, {c['waiting']} waiting</li>")
    items.append(f"<li>Pareto front: {front_n} trial(s)</li>")
    if rec is None:
        items.append("<li><b>no recommendation</b>: no trial is both complete and feasible</li>")
    else:
        vals = ", ".join(f"{k} = {v:.6g}" for k, v in rec.values.items())
        params = ", ".join(f"{k} = {v!r}" for k, v in rec.params.items())
        items.append(f"<li><b>recommended: trial {rec.trial_number}</b> ({html.escape(vals)}) — {html.escape(params)}"
                     f"<br><span class=note>rule: {html.escape(rec.rule)}</span></li>")
    return "<ul>" + "".join(items) + "</ul>"


def write(study: optuna.Study, out: Path) -> dict[str, Path]:
    """Writes the report's files into `out`; returns them by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = analysis.trials_frame(study)
    front = analysis.pareto_front(study, df)
    rec = analysis.recommend(study)
    imp = importance(study)
    c = analysis.counts(study)
    paths = {"trials.csv": out / "trials.csv", "pareto.csv": out / "pareto.csv", "report.html": out / "report.html",
             "pareto.png": out / "pareto.png", "history.png": out / "history.png", "importance.png": out / "importance.png"}
    df.to_csv(paths["trials.csv"], index=False)
    front.to_csv(paths["pareto.csv"], index=False)

    figs = [pareto_figure(study, df, rec), history_figure(study, df), importance_figure(imp)]
    divs = [f.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}) for i, f in enumerate(figs)]
    imp_note = f"<p class=note>{html.escape(imp.message)}</p>" if imp.message else ""
    doc = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(study.study_name)} — revati-search report</title>
<style>{CSS}</style></head><body>
<h1>Study {html.escape(study.study_name)}</h1>
{_summary_html(study, c, len(front), rec)}
<h2>Pareto front</h2>{divs[0]}
<h2>Optimization history</h2>{divs[1]}
<h2>Parameter importance</h2>{imp_note}{divs[2]}
<h2>Trials</h2>
<p class=note>rows: <span style="background:#e3f5e3">recommended</span> <span style="background:#fde8e8">Pareto front</span>
<span style="background:#fff3e0">infeasible</span> <span style="background:#f6f6f6">failed</span>; constraint columns: ≤ 0 is met.</p>
{trial_table(study, df, rec)}
</body></html>
"""
    paths["report.html"].write_text(doc)
    pareto_png(study, df, rec, paths["pareto.png"])
    history_png(study, df, paths["history.png"])
    importance_png(study, imp, paths["importance.png"])
    return paths
