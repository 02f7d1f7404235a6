"""The `revati-search` command line."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from timekeeper.calibrate import CpuTimings

app = typer.Typer(help="GPU-free configuration search for LLM serving.", no_args_is_help=True,
                  add_completion=False)


TargetHost = Annotated[Optional[Path], typer.Option(
    exists=True, dir_okay=False,
    help="Model this measured host's CPU speed: its `python3 -m timekeeper.calibrate` output (JSON), "
         "e.g. the calibrate.json of a real validation run. Excludes --cpu-scale.")]


def _target_host(path: Optional[Path], cpu_scale: Optional[float]) -> Optional[CpuTimings]:
    if path is None:
        return None
    if cpu_scale is not None:
        raise typer.BadParameter("give --cpu-scale or --target-host, not both", param_hint="--target-host")
    from timekeeper.calibrate import load_timings

    try:
        return load_timings(path)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--target-host") from None


@app.callback()
def main() -> None:
    """GPU-free configuration search for LLM serving: real engines on virtual GPUs."""


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    gpu: Annotated[str, typer.Option(help="Hardware catalog entry: h100, h200, a100.")] = "h100",
    gpus: Annotated[int, typer.Option(min=1, max=16, help="Number of virtual GPUs.")] = 1,
    trace: Annotated[Optional[Path], typer.Option(help="Folder for per-process Chrome traces and API call counts.")] = None,
    predictor: Annotated[str, typer.Option(help="Duration model: default (profiled where the GPU has a profile, else roofline), profiled, roofline, or fixed:<time> such as fixed:1ms.")] = "default",
    strict: Annotated[bool, typer.Option(help="Fail on any CUDA call that has no emulated behaviour.")] = False,
    real_alloc_max: Annotated[Optional[int], typer.Option(help="Device allocations up to this many bytes are backed by real memory (default 20 MiB).")] = None,
    cuda_major: Annotated[int, typer.Option(min=12, max=13, help="CUDA major of the fake libraries: 13, or 12 for programs built against CUDA 12 (libcudart.so.12, ...).")] = 13,
    timekeeper: Annotated[bool, typer.Option("--timekeeper/--no-timekeeper", help="Virtual clocks (libc time and timed waits); off: the command runs on real time.")] = True,
    cpu_scale: Annotated[Optional[float], typer.Option(min=1e-6, help="Virtual ns per ns of CPU time here (default: `revati-search calibrate`'s result, else a stored default for --gpu).")] = None,
    target_host: TargetHost = None,
) -> None:
    """Run COMMAND on virtual GPUs:  revati-search run [OPTIONS] -- COMMAND [ARGS]..."""
    from interpose.launcher import VirtualGPUConfig, VirtualGPUs
    from predictors import load

    cmd = list(ctx.args)
    if not cmd:
        raise typer.BadParameter("give the command to run after --, e.g. revati-search run -- python app.py")
    try:
        load(gpu)
    except KeyError as e:
        raise typer.BadParameter(str(e.args[0]), param_hint="--gpu") from None
    config = VirtualGPUConfig(gpu=gpu, gpus=gpus, predictor=predictor, trace_dir=trace, strict=strict,
                              real_alloc_max=real_alloc_max, cuda_major=cuda_major, timekeeper=timekeeper,
                              cpu_scale=cpu_scale, target_host=_target_host(target_host, cpu_scale))
    from interpose.build import BuildError
    try:
        with VirtualGPUs(config) as v:
            code = v.run(cmd)
    except BuildError as e:   # e.g. no CUDA 12 headers to build the --cuda-major 12 libraries with
        typer.echo(f"revati-search: cannot build the fake CUDA {cuda_major} libraries: {e}", err=True)
        raise typer.Exit(2) from None
    if trace:
        typer.echo(f"traces and API counts: {trace}", err=True)
    raise typer.Exit(code)


@app.command()
def calibrate(
    target: Annotated[Optional[str], typer.Option(help="Target GPU host (h100, h200); default: every one with reference timings.")] = None,
) -> None:
    """Measure this host's CPU speed against the target GPU hosts and cache the virtual-time
    cpu_scale that `revati-search run` uses here."""
    from timekeeper import calibrate as cal

    known = cal.targets()
    if target is not None and target not in known:
        raise typer.BadParameter(f"no reference CPU timings for {target!r}; known: {', '.join(known)}", param_hint="--target")
    here = cal.measure()
    torch_part = f", torch ops {here.torch_ops_s * 1e3:.1f} ms" if here.torch_ops_s is not None else " (torch not importable)"
    typer.echo(f"this host ({here.cpu_model}): python loop {here.python_loop_s * 1e3:.1f} ms{torch_part}")
    for name in [target] if target else known:
        value = cal.target_scale(name, here)
        path = cal.save(name, value, here)
        stored = cal.serving_scale(name)
        if stored is not None:
            how = f"serving scale {stored:.4f} on the reference emulation host, carried here by the benchmark"
        else:
            ref = cal.reference(name)
            how = (f"target host: python loop {ref.python_loop_s * 1e3:.1f} ms"
                   + (f", torch ops {ref.torch_ops_s * 1e3:.1f} ms" if ref.torch_ops_s is not None else ""))
        typer.echo(f"{name}: cpu_scale {value:.4f} ({how})")
    typer.echo(f"saved to {path}")


@app.command()
def trace(
    trace_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder given to run --trace.")],
    top: Annotated[int, typer.Option(help="Operations to list per process.")] = 10,
) -> None:
    """Summarise a --trace folder: GPU work per process in virtual time, and CUDA calls without
    emulated behaviour."""
    from rich.console import Console
    from rich.table import Table

    from interpose.trace import demangle, summarize

    console = Console()
    procs = summarize(trace_dir)
    if not procs:
        raise typer.BadParameter(f"no trace-*.json or api-*.json in {trace_dir}")
    for p in procs:
        calls = sum(c.calls for c in p.api)
        console.print(f"[bold]pid {p.pid}[/]: {sum(p.ops.values())} GPU operations over {p.span_us / 1e3:.3f} ms "
                      f"of virtual time; {calls} CUDA calls, {len(p.stub_hits)} functions without emulated behaviour")
        t = Table("operation", "count", "virtual ms", "share")
        total = sum(p.time_us.values()) or 1.0
        shown = p.time_us.most_common(top)
        readable = demangle([name for name, _ in shown])
        for name, us in shown:
            t.add_row(readable[name].removeprefix("void ")[:100], str(p.ops[name]), f"{us / 1e3:.3f}", f"{100 * us / total:.1f}%")
        if p.time_us:
            console.print(t)
        for c in p.stub_hits:
            console.print(f"  [yellow]stub[/] {c.lib} {c.name}: {c.calls} calls")


@app.command()
def profile(
    out: Annotated[Path, typer.Option(help="Folder for profile.json and the raw traces; an existing profile there is resumed.")] = Path("profile"),
    budget_s: Annotated[float, typer.Option(min=10, help="Stop cleanly after this many seconds; run again to resume.")] = 540.0,
    sections: Annotated[Optional[str], typer.Option(help="Comma-separated sections, in order (default: all).")] = None,
    reps: Annotated[int, typer.Option(min=1, help="Repetitions per measured item (the median is kept).")] = 5,
    install: Annotated[Optional[str], typer.Option(help="When complete, pack the profile into predictors/profiles/<KEY> (a catalog key such as h100).")] = None,
) -> None:
    """Measure this machine's GPU for the profiled predictors (run on a real GPU): GEMMs, attention,
    copies, memory-bound kernels, Llama-shaped forward passes, serving runs, host costs."""
    from predictors.profile.harness import SECTIONS
    from predictors.profile.harness import main as run_profile

    chosen = [s.strip() for s in (sections or ",".join(SECTIONS)).split(",") if s.strip()]
    run_profile(out, budget_s, chosen, reps)
    if install:
        import json

        from predictors.profile import pack

        data = json.loads((out / "profile.json").read_text())
        if not data["runs"][-1].get("complete"):
            typer.echo("profile incomplete (budget reached): run again to resume before --install", err=True)
            raise typer.Exit(1)
        raw_forward = out / "raw-forward.jsonl.gz"
        path = pack.write(pack.pack(data, install, raw_forward if raw_forward.exists() else None), install)
        typer.echo(f"installed {path}")


def _print_comparison(c: dict) -> None:
    """emulate.compare's answer: each metric's error, and the emulation's wall time beside the real run."""
    for k, row in c["metrics"].items():
        err = f"{100 * row['error']:+.1f}%" if row["error"] is not None else "n/a"
        typer.echo(f"  {k:22s} emulated {row['emulated']:12.3f}  real {row['real']:12.3f}  {err}")
    if "emulation_wall_s" in c:
        typer.echo(f"emulation wall time {c['emulation_wall_s']:.1f} s beside the real duration {c['real_duration_s']:.3f} s "
                   f"({c['emulation_wall_per_real_s']:.1f}x)")


@app.command("kernels")
def kernels_cmd(
    real: Annotated[Path, typer.Argument(exists=True, help="A `--real --kernels` run's folder (or its kernels.json).")],
    emulated: Annotated[Path, typer.Argument(exists=True, help="The same run file's emulated folder (or its kernels.json).")],
    top: Annotated[int, typer.Option(min=1, help="How many kernels to list, largest difference first.")] = 20,
) -> None:
    """Where the emulation's GPU time differs from the real run's: device time per class (GEMM,
    attention, other kernels, copies), the device's busy and idle time (the host's turns), and per
    kernel and launch geometry, over the trace's replay."""
    from revati_search import kernels as kn

    tables = []
    for path, want in ((real, "real"), (emulated, "emulated")):
        try:
            table = kn.KernelTable.load(path)
        except (OSError, ValueError, KeyError) as e:
            typer.echo(f"revati-search: cannot read {path}/{kn.FILE}: {e} (real runs write it with "
                       f"`emulate --real --kernels`, emulated runs with --trace)", err=True)
            raise typer.Exit(2) from None
        if table.mode != want:
            typer.echo(f"revati-search: {path} holds a {table.mode} run's kernels, expected a {want} one", err=True)
            raise typer.Exit(2)
        tables.append(table)
    typer.echo(kn.report(*tables, top=top))


@app.command()
def validate(
    emulated: Annotated[Path, typer.Argument(exists=True, help="An emulated run's folder (or its summary.json), from `revati-search emulate`.")],
    real: Annotated[Path, typer.Argument(exists=True, help="The same run file's --real run folder (or its summary.json).")],
    out: Annotated[Optional[Path], typer.Option(help="Where to store the errors (JSON); default EMULATED/validation.json.")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Also store it in this study database (a storage URL or SQLite file): table revati_validations.")] = None,
    name: Annotated[Optional[str], typer.Option(help="The validation's name in the database (default: the emulated folder's name).")] = None,
) -> None:
    """Compare an emulated run with the same run on a real GPU: each metric's relative error
    (emulated/real - 1), stored to a file (and with --storage, in the study database)."""
    import json

    from revati_search import emulate as em

    try:
        emu_summary, real_summary = em.read_summary(emulated), em.read_summary(real)
    except (OSError, ValueError) as e:
        typer.echo(f"revati-search: cannot read a summary: {e}", err=True)
        raise typer.Exit(2) from None
    for path, summary, want in ((emulated, emu_summary, "emulated"), (real, real_summary, "real")):
        mode = summary.get("mode")
        if mode is not None and mode != want:
            typer.echo(f"revati-search: {path} holds a {mode} run, expected a {want} one", err=True)
            raise typer.Exit(2)
    if real_summary.get("kernels_profiled"):
        typer.echo(f"revati-search: warning: {real} was profiled (--kernels): CUPTI slowed it, its metrics are "
                   f"not a plain run's", err=True)
    c = em.compare(emu_summary, real_summary)
    c["emulated"], c["real"] = str(emulated.resolve()), str(real.resolve())
    dest = out or (emulated if emulated.is_dir() else emulated.parent) / "validation.json"
    dest.write_text(json.dumps(c, indent=1))
    if storage:
        from revati_search.identity import run_hash
        from revati_search.spec import RunSpec
        from revati_search.store import Store

        run_json = (emulated if emulated.is_dir() else emulated.parent) / "run.json"
        run_spec = json.loads(run_json.read_text()) if run_json.exists() else {}
        h = None
        if run_spec:
            try:
                h = run_hash(RunSpec.model_validate(run_spec), emu_summary.get("predictor", "default"))
            except (OSError, ValueError):
                pass   # the model folder is gone: stored without a hash
        with Store(storage) as st:
            st.save_validation(run_spec, emu_summary, real_summary, run_hash=h,
                               name=name or (emulated if emulated.is_dir() else emulated.parent).name)
    _print_comparison(c)
    if modelled := _modelled_text(emu_summary):
        typer.echo(f"emulated as: {modelled}")
    typer.echo(f"stored: {dest}" + (f" and in {storage}" if storage else ""))


@app.command()
def emulate(
    run_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The run file (YAML).")],
    out: Annotated[Path, typer.Option(help="Folder for summary.json, requests.csv, trace.json.")] = Path("runs/emulate"),
    real: Annotated[bool, typer.Option("--real", help="Run the very same run on this machine's real GPU (no interposer).")] = False,
    trace: Annotated[bool, typer.Option("--trace/--no-trace", help="Write the virtual timeline (trace.json).")] = True,
    predictor: Annotated[str, typer.Option(help="Duration model (as for run).")] = "default",
    cpu_scale: Annotated[Optional[float], typer.Option(min=1e-6, help="Virtual ns per ns of CPU time here.")] = None,
    target_host: TargetHost = None,
    timeout: Annotated[Optional[float], typer.Option(min=1, help="Wall-clock limit in seconds (a hung engine fails the run).")] = None,
    compare: Annotated[Optional[Path], typer.Option(exists=True, help="A --real run's folder (or summary.json) of the same run file: writes OUT/compare.json.")] = None,
    kernels: Annotated[bool, typer.Option("--kernels", help="With --real: profile the replay's kernels (torch.profiler) into OUT/kernels.json, for `revati-search kernels`. Emulated runs write it from their trace.")] = False,
) -> None:
    """Run one serving run (engine, model, GPU, workload) on virtual GPUs, or with --real on a real GPU;
    writes vllm-bench-style metrics to OUT/summary.json."""
    from revati_search import emulate as em
    from revati_search import spec as sp

    try:
        spec = sp.load(run_file)
    except sp.SpecError as e:
        typer.echo(f"revati-search: bad run file {run_file}:\n{e}", err=True)
        raise typer.Exit(2) from None
    try:
        s = em.run(spec, out, em.Options(real=real, trace=trace, predictor=predictor, cpu_scale=cpu_scale,
                                         target_host=_target_host(target_host, cpu_scale), timeout_s=timeout,
                                         kernels=kernels))
    except em.RunError as e:
        typer.echo(f"revati-search: the run failed: {e}", err=True)
        raise typer.Exit(e.code) from None
    except ValueError as e:   # a workload file that cannot be read
        typer.echo(f"revati-search: {e}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:   # the engine's process group is already stopped
        typer.echo("revati-search: interrupted", err=True)
        raise typer.Exit(130) from None
    mode = "real GPU" if real else f"virtual {spec.hardware.gpu} x{spec.hardware.count}"
    typer.echo(f"{s['completed']}/{s['requests']} requests on {mode}: duration {s['duration']:.3f} s, "
               f"median TTFT {s['median_ttft_ms']:.2f} ms, median TPOT {s['median_tpot_ms']:.2f} ms, "
               f"{s['output_throughput']:.1f} output tokens/s")
    if not real:
        typer.echo(f"emulation wall time {s['emulation_wall_s']:.1f} s (the replay alone {s['serving_wall_s']:.1f} s) "
                   f"for {s['duration']:.3f} s of serving ({s['emulation_wall_per_virtual_s']:.1f} wall s per virtual s)")
    if compare is not None:
        import json

        c = em.compare(s, em.read_summary(compare))
        (out / "compare.json").write_text(json.dumps(c, indent=1))
        _print_comparison(c)
    typer.echo(f"results: {out}/summary.json")


@app.command()
def optimize(
    study_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The study file (YAML).")],
    out: Annotated[Optional[Path], typer.Option(help="Folder for the trials' runs and the default SQLite storage (default: runs/<study name>).")] = None,
    n_trials: Annotated[Optional[int], typer.Option(min=1, help="Override the study's n_trials (trials in the study in all).")] = None,
    parallel: Annotated[Optional[int], typer.Option(min=1, help="Override the study's parallel trials.")] = None,
    timeout: Annotated[Optional[float], typer.Option(min=1, help="Override the study's wall-clock limit for this invocation (s).")] = None,
    warm_start: Annotated[Optional[str], typer.Option(help="Another study (its study file, or STORAGE_URL#NAME) whose Pareto configurations run first.")] = None,
) -> None:
    """Search serving configurations: each trial is an emulated run on virtual GPUs (Ray tasks),
    results in the study's storage. Running it again resumes the study."""
    from rich.console import Console

    from revati_search import optimizer as opt
    from revati_search import study as st
    from revati_search.progress import ProgressView

    try:
        spec = st.load(study_file)
    except st.StudyError as e:
        typer.echo(f"revati-search: bad study file:\n{e}", err=True)
        raise typer.Exit(2) from None
    overrides = {k: v for k, v in (("n_trials", n_trials), ("parallel", parallel), ("timeout", timeout)) if v is not None}
    spec = spec.model_copy(update=overrides)
    console = Console(stderr=True)
    o = opt.Optimizer(spec, out)
    try:
        study = opt.open_study(spec, o.url)
        if warm_start:
            n = opt.warm_start(study, warm_start)
            console.print(f"warm start: {n} configurations from {warm_start} queued first")
        already = opt.trials_counted(study)
        console.print(f"study [bold]{spec.name}[/]: {already}/{spec.n_trials} trials so far, storage {o.url}")
        with ProgressView(spec, console, already=already) as view:
            o.on_event = view
            result = o.run()
    except opt.OptimizeError as e:
        typer.echo(f"revati-search: {e}", err=True)
        raise typer.Exit(2 if "already exists" in str(e) else 1) from None
    names = [o.metric for o in spec.objectives]
    console.print(f"{result.complete} complete, {result.failed} failed; best (feasible, non-dominated): " + ("; ".join(
        f"trial {b['number']} (" + ", ".join(f"{n}={v:.4g}" for n, v in zip(names, b["values"])) + ")"
        for b in result.best[:5]) or "none"), soft_wrap=True)
    console.print(f"next: revati-search report {study_file} | revati-search best {study_file} | "
                  f"revati-search dashboard {study_file}", soft_wrap=True)
    if result.interrupted:
        console.print("interrupted: finished trials are kept; run the same command to resume")
        raise typer.Exit(130)


@app.command()
def schema(
    out: Annotated[Optional[Path], typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """The JSON schema of the study file (for editors and validation)."""
    import json

    from revati_search.study import json_schema

    text = json.dumps(json_schema(), indent=1) + "\n"
    if out:
        out.write_text(text)
    else:
        typer.echo(text, nl=False)


# ------------------------------------------------------------------------------------------ results
# report / best / dashboard / compare: STUDY is a study file (YAML: its storage and name), a storage
# URL or SQLite file (--study NAME when it holds several studies), or STORAGE_URL#NAME.

_StudyArg = Annotated[str, typer.Argument(help="The study: its study file (YAML), a storage URL or SQLite file, or STORAGE_URL#NAME.")]
_StudyName = Annotated[Optional[str], typer.Option("--study", help="The study's name, when the storage holds several.")]
_Storage = Annotated[Optional[str], typer.Option(help="Storage URL or SQLite file (instead of the study file's).")]


def _load_study(ref: str, name: Optional[str], storage: Optional[str]):  # noqa: ANN202
    from revati_search import analysis

    try:
        return analysis.open_study(ref, study_name=name, storage=storage)
    except analysis.StudyRefError as e:
        typer.echo(f"revati-search: {e}", err=True)
        raise typer.Exit(2) from None


def _values_text(values: dict) -> str:
    return ", ".join(f"{k} = {v:.6g}" for k, v in values.items())


@app.command()
def report(
    study_ref: _StudyArg,
    out: Annotated[Optional[Path], typer.Option(help="Folder for report.html, pareto.csv, trials.csv and the PNG figures (default: runs/<study name>/report).")] = None,
    study: _StudyName = None,
    storage: _Storage = None,
) -> None:
    """Write a study's report: the Pareto front (pareto.csv), every trial (trials.csv), a self-contained
    report.html (Pareto scatter, optimization history, parameter importance, trial table) and PNG figures."""
    from revati_search import analysis
    from revati_search import report as rp

    s = _load_study(study_ref, study, storage)
    out = out or Path("runs") / s.study_name / "report"
    paths = rp.write(s, out)
    c = analysis.counts(s)
    rec = analysis.recommend(s)
    front = len(analysis.front_trials(s))
    typer.echo(f"study {s.study_name}: {c['total']} trials ({c['complete']} complete: {c['feasible']} feasible, "
               f"{c['infeasible']} infeasible; {c['fail']} failed; {c['running']} running)")
    typer.echo(f"Pareto front: {front} trial(s); " + (f"recommended: trial {rec.trial_number} ({_values_text(rec.values)})"
                                                       if rec else "no recommendation (no complete, feasible trial)"))
    typer.echo(f"wrote {paths['report.html']} (+ " + ", ".join(p.name for k, p in paths.items() if k != "report.html") + ")")


def _modelled_text(summary: dict) -> str:
    """What an emulated run's metrics assume: the virtual GPUs, the predictor and the host's CPU speed
    (the serving host's CPU sets an eager engine's step time as much as the GPU does)."""
    parts = []
    hw = summary.get("hardware")
    if isinstance(hw, dict) and hw.get("gpu"):
        parts.append(f"virtual {hw['gpu']} x{hw.get('count', 1)}")
    if summary.get("predictor"):
        parts.append(f"predictor {summary['predictor']}")
    if isinstance(summary.get("cpu_scale"), (int, float)):
        source = summary.get("cpu_scale_source")
        parts.append(f"host cpu_scale {summary['cpu_scale']:g}" + (f" ({source})" if source else ""))
    return ", ".join(parts)


@app.command()
def best(
    study_ref: _StudyArg,
    study: _StudyName = None,
    storage: _Storage = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (recommendation and launch arguments).")] = False,
    run_file: Annotated[Optional[Path], typer.Option(help="Also write the configuration as a run file (YAML) for `revati-search emulate`.")] = None,
) -> None:
    """Print the recommended configuration (single objective: the best feasible trial; several: the
    compromise point of the Pareto front), its metrics, and the engine's ready-to-run launch arguments."""
    import json

    from revati_search import analysis
    from revati_search.launch import launch_args

    s = _load_study(study_ref, study, storage)
    rec = analysis.recommend(s)
    if rec is None:
        c = analysis.counts(s)
        worst = analysis.least_infeasible(s)
        msg = (f"study {s.study_name}: no trial is both complete and feasible ({c['complete']} complete, "
               f"{c['infeasible']} infeasible, {c['fail']} failed)"
               + (f"; the closest to the constraints is trial {worst.number}" if worst is not None else ""))
        if as_json:
            typer.echo(json.dumps({"study": s.study_name, "recommendation": None, "message": msg}, indent=1))
        else:
            typer.echo(f"revati-search: {msg}", err=True)
        raise typer.Exit(1)
    launch = launch_args(rec.run_spec)
    if run_file is not None:
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(launch["run_file"])
    if as_json:
        typer.echo(json.dumps({"study": s.study_name, "recommendation": rec.to_dict(), "launch": launch}, indent=1, default=str))
        return
    typer.echo(f"study {s.study_name}: recommended trial {rec.trial_number} ({rec.rule}; "
               f"Pareto front: {rec.front_size} trial{'s' if rec.front_size != 1 else ''})")
    typer.echo("configuration:")
    for k, v in rec.params.items():
        typer.echo(f"  {k} = {v!r}")
    typer.echo("objectives: " + _values_text(rec.values))
    shown = ("output_throughput", "output_throughput_per_gpu", "request_throughput", "median_ttft_ms", "p99_ttft_ms",
             "median_tpot_ms", "p99_tpot_ms", "p99_e2el_ms", "request_goodput", "cost_per_million_output_tokens_usd")
    m = {k: rec.metrics[k] for k in shown if isinstance(rec.metrics.get(k), (int, float))}
    if m:
        typer.echo("metrics: " + _values_text(m))
    if modelled := _modelled_text(rec.metrics):
        typer.echo(f"modelled: {modelled}")
    if rec.alternatives:
        typer.echo(f"other Pareto trials: {', '.join(map(str, rec.alternatives))}  (revati-search report for all)")
    if launch.get("python"):
        typer.echo(f"\n# {launch['engine']}: Python\n{launch['python']}")
    if launch.get("serve"):
        typer.echo(f"# transformers serve\n{launch['serve']}")
    if launch.get("serve_note"):
        typer.echo(f"# note: {launch['serve_note']}")
    typer.echo("\n# run file (revati-search emulate RUN.yaml)" + (f": written to {run_file}" if run_file else ""))
    typer.echo(launch["run_file"], nl=False)


@app.command()
def dashboard(
    study_ref: _StudyArg,
    study: _StudyName = None,
    storage: _Storage = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Open optuna-dashboard on the study's storage (every trial's metrics are its user attributes)."""
    from optuna_dashboard import run_server

    from revati_search import analysis

    s = _load_study(study_ref, study, storage)
    url = analysis.resolve(study_ref, study_name=s.study_name, storage=storage)[0]
    typer.echo(f"optuna-dashboard on {url}: http://{host}:{port}/dashboard/studies/{s._study_id}  (Ctrl-C stops it)", err=True)  # noqa: SLF001
    try:
        run_server(url, host=host, port=port)
    except KeyboardInterrupt:
        pass


@app.command()
def compare(
    old: Annotated[str, typer.Argument(help="The earlier study (study file, storage URL or SQLite file, or STORAGE_URL#NAME).")],
    new: Annotated[str, typer.Argument(help="The later study, same forms.")],
    old_study: Annotated[Optional[str], typer.Option(help="OLD's study name, when its storage holds several.")] = None,
    new_study: Annotated[Optional[str], typer.Option(help="NEW's study name, when its storage holds several.")] = None,
    tolerance: Annotated[float, typer.Option(min=0.0, help="Relative worsening allowed before it is a regression (0.05: 5%).")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as one JSON object.")] = False,
) -> None:
    """Compare two studies' Pareto fronts (a nightly run against the previous one): each objective's
    best value, the hypervolume, configurations that entered or left the front. Exit status: 0 no
    regression, 1 a regression beyond --tolerance, 2 bad input."""
    import json

    from revati_search import analysis

    a = _load_study(old, old_study, None)
    b = _load_study(new, new_study, None)
    try:
        c = analysis.compare_fronts(a, b, tolerance)
    except ValueError as e:
        typer.echo(f"revati-search: {e}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(c, indent=1, default=str))
    else:
        pct = lambda x: "n/a" if x is None else f"{100 * x:+.1f}%"  # noqa: E731
        num = lambda x: "none" if x is None else f"{x:.6g}"  # noqa: E731
        typer.echo(f"old: study {c['old']['study']} ({c['old']['trials']} trials, front {c['old']['front_size']})  "
                   f"new: study {c['new']['study']} ({c['new']['trials']} trials, front {c['new']['front_size']})")
        for o in c["objectives"]:
            typer.echo(f"  {o['metric']} ({o['direction']}): best {num(o['old_best'])} -> {num(o['new_best'])} "
                       f"({pct(o['change'])})" + ("  REGRESSED" if o["regressed"] else ""))
        hv = c["hypervolume"]
        if hv["old"] is not None:
            typer.echo(f"  hypervolume (shared normalisation): {hv['old']:.4g} -> {hv['new']:.4g} ({pct(hv['change'])})")
        f = c["front"]
        typer.echo(f"  front: {len(f['entered'])} entered, {len(f['left'])} left, {len(f['kept'])} kept")
        for sign, key in (("+", "entered"), ("-", "left")):
            for e in f[key]:
                typer.echo(f"    {sign} trial {e['trial']}: {e['params']}  {e['values']}")
        typer.echo(("REGRESSION: " + "; ".join(c["reasons"])) if c["regression"]
                   else f"no regression beyond {tolerance:.1%}")
    raise typer.Exit(1 if c["regression"] else 0)


if __name__ == "__main__":
    app()
