"""The `revati-search` command line."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="GPU-free configuration search for LLM serving.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def main() -> None:
    """GPU-free configuration search for LLM serving: real engines on virtual GPUs."""


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    gpu: Annotated[str, typer.Option(help="Hardware catalog entry: h100, h200, a100.")] = "h100",
    gpus: Annotated[int, typer.Option(min=1, max=16, help="Number of virtual GPUs.")] = 1,
    trace: Annotated[Optional[Path], typer.Option(help="Folder for per-process Chrome traces and API call counts.")] = None,
    predictor: Annotated[str, typer.Option(help="Duration model: roofline, or fixed:<time> such as fixed:1ms.")] = "roofline",
    strict: Annotated[bool, typer.Option(help="Fail on any CUDA call that has no emulated behaviour.")] = False,
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
    config = VirtualGPUConfig(gpu=gpu, gpus=gpus, predictor=predictor, trace_dir=trace, strict=strict)
    with VirtualGPUs(config) as v:
        code = v.run(cmd)
    if trace:
        typer.echo(f"traces and API counts: {trace}", err=True)
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
