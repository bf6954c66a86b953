"""The ``habitat`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from habitat.config import config_problems
from habitat.errors import HabitatError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Habitat and corridor analysis for the Bukhara deer: run pipelines, validate them, run Circuitscape jobs.",
)
console = Console(stderr=True)
_state = {"debug": False}

#: The demo pipeline shipped with the repository (pipelines/ sits beside the package).
DEMO_PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False) -> None:
    _state["debug"] = debug


def _run(pipeline: Path, out: Path, force: bool, only: str | None, from_stage: str | None, to_stage: str | None) -> None:
    from habitat.stages.runner import run_pipeline

    status = console.status("")

    def start(stage_id: str) -> None:
        status.update(f"[bold]{stage_id}[/bold] running ...")
        status.start()

    def end(result) -> None:
        status.stop()
        how = "cached" if result.cached else "done"
        console.print(f"  {result.id:<14} {how:<7} {result.seconds:8.2f} s")
        for line in result.log if not result.cached else []:
            console.print(f"    {line}")

    console.print(f"habitat: {pipeline} -> {out}")
    try:
        result = run_pipeline(pipeline, out, force=force, only=only, from_stage=from_stage, to_stage=to_stage,
                              on_stage_start=start, on_stage_end=end)
    finally:
        status.stop()
    console.print(f"wrote {result.manifest_path}")
    if result.files:
        html = next((p for p in result.files if p.name == "report.html"), None)
        console.print(f"wrote {len(result.files)} report files" + (f"; open {html}" if html else ""))


def _write_report(out: Path, language: str | None) -> None:
    from habitat.stages.report import write_report

    with console.status("writing the report ..."):
        written = write_report(out, language=language)
    html = next((p for p in written if p.name == "report.html"), None)
    console.print(f"wrote {len(written)} report files; open {html}")


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML file")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("out"),
    force: Annotated[bool, typer.Option("--force", help="recompute every stage, ignoring the cache")] = False,
    only: Annotated[Optional[str], typer.Option("--only", help="run just this stage")] = None,
    from_stage: Annotated[Optional[str], typer.Option("--from", help="start at this stage")] = None,
    to_stage: Annotated[Optional[str], typer.Option("--to", help="stop after this stage")] = None,
) -> None:
    """Run a pipeline, reusing cached stage outputs whose inputs and settings are unchanged."""
    _run(pipeline, out, force, only, from_stage, to_stage)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("out/demo"),
    force: Annotated[bool, typer.Option("--force", help="recompute every stage")] = False,
) -> None:
    """Run the demo pipeline (pipelines/demo.yaml) on the shipped demo data."""
    _run(DEMO_PIPELINE, out, force, None, None, None)


@app.command()
def report(
    out: Annotated[Path, typer.Argument(help="output folder of a pipeline run (holds manifest.json)")],
    language: Annotated[Optional[str], typer.Option("--language", help="en or ru (default: the report stage's setting)")] = None,
) -> None:
    """Regenerate OUT/report/ (report.html, figures, QGIS styles) from an existing output folder."""
    _write_report(out, language)


@app.command()
def validate(pipeline: Annotated[Path, typer.Argument(help="pipeline YAML file")]) -> None:
    """Check a pipeline file and list every problem with its key path."""
    _, problems = config_problems(pipeline)
    if problems:
        for line in problems:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{pipeline}: valid")


@app.command()
def stages() -> None:
    """List the registered stages with their inputs and outputs."""
    from habitat.stages.registry import STAGES, execution_order

    table = Table("stage", "version", "reads", "writes", "what it does")
    by_id = {s.id: s for s in STAGES}
    for stage_id in execution_order():
        s = by_id[stage_id]
        reads = ", ".join(i.id for i in s.inputs) or ("pipeline inputs" if s.reads_pipeline_inputs else "-")
        writes = ", ".join(o.id + ("?" if o.optional else "") for o in s.outputs)
        table.add_row(s.id, s.version, reads, writes, s.doc)
    Console().print(table)


@app.command()
def circuit(
    job: Annotated[Path, typer.Argument(help="Circuitscape job file (.ini)")],
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", help="write outputs here instead of the INI's output_file folder")] = None,
) -> None:
    """Run a Circuitscape job (INI file) and write Circuitscape's output files."""
    from habitat.io.circuitscape import run_job

    with console.status(f"solving {job} ..."):
        written = run_job(job, output_dir=output_dir)
    for path in written:
        console.print(f"  wrote {path}")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except HabitatError as exc:
        if _state["debug"]:
            raise
        message = " ".join(str(exc).split("\n"))
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click usage errors come through here with standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
