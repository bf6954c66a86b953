"""The ``habitat`` command line.

Output goes to stderr through the ``habitat`` logger: in a terminal, finished stages are
printed above a progress bar (percentage, elapsed and remaining time); when stderr is piped or
redirected, every line is plain text with a timestamp and is never wrapped. ``--log-file``
writes the same lines (with debug detail) to a file. Heavy modules (the stages, numpy,
rasterio) are imported inside the commands so that ``habitat -h`` and ``habitat stages`` start
quickly.
"""

from __future__ import annotations

import atexit
import gc
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from habitat import __version__
from habitat.errors import HabitatError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Habitat and corridor analysis for the Bukhara deer: run pipelines, validate them, run Circuitscape jobs.",
)
log = logging.getLogger("habitat")
_state = {"debug": False, "quiet": False}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: The demo pipeline shipped with the repository (pipelines/ sits beside the package).
DEMO_PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"


def _is_terminal() -> bool:
    return sys.stderr.isatty()


class _RichLineHandler(logging.Handler):
    """Log lines printed through a rich console (so they appear above a live progress bar)."""

    def __init__(self, console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _setup_logging(verbose: bool, quiet: bool, log_file: Path | None) -> None:
    """Console handler (plain timestamped lines when piped) and an optional file handler."""
    log.handlers.clear()
    log.propagate = False
    log.setLevel(logging.DEBUG)
    if _is_terminal():
        handler: logging.Handler = _RichLineHandler(_console())
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", _TIME_FORMAT))
    handler.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    log.addHandler(handler)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise HabitatError(f"--log-file {log_file}: cannot write ({exc.strerror}); choose a writable path") from exc
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", _TIME_FORMAT))
        file_handler.setLevel(logging.DEBUG)
        log.addHandler(file_handler)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"habitat {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="print more detail (debug lines)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only warnings and errors")] = False,
    log_file: Annotated[Optional[Path], typer.Option("--log-file", help="also write every log line to this file")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    _state["debug"] = debug
    _state["quiet"] = quiet
    _setup_logging(verbose, quiet, log_file)


class _Progress:
    """Stage progress: a rich bar in a terminal, timestamped log lines otherwise."""

    def __init__(self) -> None:
        self.bar = None
        self.task = None
        self.started: dict[str, float] = {}

    @contextmanager
    def active(self) -> Iterator["_Progress"]:
        if _is_terminal() and not _state["quiet"]:
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn,
                TimeElapsedColumn, TimeRemainingColumn,
            )

            handler = next((h for h in log.handlers if isinstance(h, _RichLineHandler)), None)
            console = handler.console if handler else _console()
            self.bar = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("remaining"), TimeRemainingColumn(),
                console=console, transient=True,
            )
        try:
            if self.bar is not None:
                with self.bar:
                    yield self
            else:
                yield self
        finally:
            self.bar = None

    def plan(self, steps: list[str]) -> None:
        log.debug(f"steps: {', '.join(steps)}")
        if self.bar is not None:
            self.task = self.bar.add_task("starting", total=len(steps))

    def start(self, step: str) -> None:
        self.started[step] = time.perf_counter()
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=f"{step} running")
        else:
            log.info(f"  {step} running ...")

    def end(self, result) -> None:
        how = "cached" if result.cached else "done"
        log.info(f"  {result.id:<14} {how:<7} {result.seconds:8.2f} s")
        for line in result.log if not result.cached else []:
            log.info(f"    {line}")
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)


@contextmanager
def _spinner(message: str) -> Iterator[None]:
    """A transient spinner with elapsed time in a terminal; nothing when piped (the result line follows)."""
    if not _is_terminal() or _state["quiet"]:
        yield
        return
    with _console().status(message):
        yield


def _run(pipeline: Path, out: Path, force: bool, only: str | None, from_stage: str | None, to_stage: str | None,
         scheduler: str | None = None) -> None:
    import os

    from habitat.io.rasters import GDAL_CACHE_MB
    from habitat.stages.runner import run_pipeline

    # GDAL's block cache defaults to 5 % of RAM and fills with every window a stage reads, so a
    # stage's memory would grow with the grid up to that share; set before GDAL first reads
    os.environ.setdefault("GDAL_CACHEMAX", str(GDAL_CACHE_MB))
    log.info(f"habitat {__version__}: {pipeline} -> {out}")
    progress = _Progress()
    with progress.active():
        result = run_pipeline(pipeline, out, force=force, only=only, from_stage=from_stage, to_stage=to_stage,
                              scheduler=scheduler, on_plan=progress.plan, on_stage_start=progress.start, on_stage_end=progress.end)
    log.info(f"wrote {result.manifest_path}")
    if result.files:
        html = next((p for p in result.files if p.name == "report.html"), None)
        done = ("report up to date (nothing it shows changed)" if result.files_unchanged
                else f"wrote {len(result.files)} report files")
        log.info(done + (f"; open {html}" if html else ""))


def _write_report(out: Path, language: str | None) -> None:
    from contextlib import nullcontext

    from habitat.stages.report import write_report
    from habitat.stages.runner import output_lock

    start = time.perf_counter()
    # the lock keeps a `habitat run` into the same folder from rewriting it meanwhile
    with output_lock(out) if out.is_dir() else nullcontext(), _spinner(f"writing the report of {out} ..."):
        written = write_report(out, language=language)
    html = next((p for p in written if p.name == "report.html"), None)
    done = ("report up to date (nothing it shows changed)" if getattr(written, "unchanged", False)
            else f"wrote {len(written)} report files")
    log.info(f"{done} in {time.perf_counter() - start:.2f} s; open {html}")


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML file")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("out"),
    force: Annotated[bool, typer.Option("--force", help="recompute every stage, ignoring the cache")] = False,
    only: Annotated[Optional[str], typer.Option("--only", help="run just this stage")] = None,
    from_stage: Annotated[Optional[str], typer.Option("--from", help="start at this stage")] = None,
    to_stage: Annotated[Optional[str], typer.Option("--to", help="stop after this stage")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Dask scheduler address to run the block-wise work on (default: compute.scheduler)")] = None,
) -> None:
    """Run a pipeline, reusing cached stage outputs whose inputs and settings are unchanged."""
    _run(pipeline, out, force, only, from_stage, to_stage, scheduler)


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
    from typing import get_args

    from habitat.params import ReportParams

    languages = get_args(ReportParams.model_fields["language"].annotation)
    if language is not None and language not in languages:
        raise HabitatError(f"--language {language}: no report in that language; use {' or '.join(languages)}")
    _write_report(out, language)


@app.command()
def validate(pipeline: Annotated[Path, typer.Argument(help="pipeline YAML file")]) -> None:
    """Check a pipeline file and list every problem with its key path."""
    from habitat.config import config_problems

    loaded, problems = config_problems(pipeline)
    warnings: list[str] = []
    if loaded is not None and not problems:
        # what `run` checks before it starts: input files (layers, columns, geometry, values), the grid
        from habitat.io.checks import input_problems
        from habitat.stages.runner import check_grid_size, resolve_grid, selected_stages

        grid = None
        try:
            grid = resolve_grid(loaded)
            check_grid_size(grid, selected_stages(loaded), Path("."))
        except HabitatError as exc:
            problems.append(f"{pipeline}: {_one_line(str(exc))}")
        input_errors, warnings = input_problems(loaded, grid)
        problems += [f"{pipeline}: {error}" for error in input_errors]
    for line in warnings:
        typer.echo(f"warning: {line}", err=True)
    if problems:
        for line in problems:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{pipeline}: valid")


@app.command()
def stages() -> None:
    """List the registered stages with their inputs and outputs (names never cut)."""
    from habitat.stages.registry import STAGES, execution_order

    by_id = {s.id: s for s in STAGES}
    for stage_id in execution_order():
        s = by_id[stage_id]
        reads = ", ".join(i.id + ("?" if i.optional else "") for i in s.inputs) or (
            "pipeline inputs" if s.reads_pipeline_inputs else "-")
        writes = ", ".join(o.id + ("?" if o.optional else "") for o in s.outputs)
        typer.echo(f"{s.id} (version {s.version}): {s.doc}\n  reads:  {reads}\n  writes: {writes}")
    typer.echo("(? = optional)")


@app.command()
def circuit(
    job: Annotated[Path, typer.Argument(help="Circuitscape job file (.ini)")],
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", help="write outputs here instead of the INI's output_file folder")] = None,
) -> None:
    """Run a Circuitscape job (INI file) and write Circuitscape's output files."""
    from habitat._startup import import_numpy_idle_blas, start_numba_lean

    import_numpy_idle_blas()  # one command per process: no idle BLAS threads spinning
    from habitat.io.circuitscape import run_job

    start_numba_lean()  # ... and its kernels call neither BLAS nor cffi
    start = time.perf_counter()
    with _spinner(f"solving {job} ..."):
        written = run_job(job, output_dir=output_dir)
    for path in written:
        log.info(f"  wrote {path}")
    log.info(f"done in {time.perf_counter() - start:.2f} s")



@app.command()
def omniscape(
    job: Annotated[Path, typer.Argument(help="Omniscape.jl job file (.ini)")],
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", help="write outputs here instead of the INI's project_name folder")] = None,
) -> None:
    """Run an Omniscape job (INI file) and write Omniscape's output maps."""
    from habitat.io.omniscape_job import run_job as run_omniscape_job

    start = time.perf_counter()
    with _spinner(f"moving window {job} ..."):
        written = run_omniscape_job(job, output_dir=output_dir)
    for path in written:
        log.info(f"  wrote {path}")
    log.info(f"done in {time.perf_counter() - start:.2f} s")


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """click's exception base and, when typer vendors its own click (typer >= 0.16), that one too."""
    types: list[type[BaseException]] = []
    try:
        import click

        types.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer without click installed
        pass
    try:
        from typer._click.exceptions import ClickException as VendoredClickException

        types.append(VendoredClickException)
    except ImportError:
        pass
    return tuple(types)


def _exit_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(Exit, Abort) exception classes of typer and of every click in use."""
    exits: list[type[BaseException]] = [typer.Exit]
    aborts: list[type[BaseException]] = [typer.Abort]
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            mod = __import__(module, fromlist=["Exit", "Abort"])
        except ImportError:
            continue
        exits += [c for c in (getattr(mod, "Exit", None),) if c is not None]
        aborts += [c for c in (getattr(mod, "Abort", None),) if c is not None]
    return tuple(exits), tuple(aborts)


#: Global options the circuit command's direct path takes, as keywords of ``_main``.
_DIRECT_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-v": "verbose", "--verbose": "verbose", "--debug": "debug"}


def _direct_circuit(argv: list[str]) -> bool:
    """Run ``habitat [-q|-v|--debug ...] circuit JOB [--output-dir DIR]`` without typer's parsing.

    typer (0.29) builds a pydantic validator for each parameter of the command it runs, which
    imports pydantic and asyncio: about 0.06 CPU-s, 6 % of the 1000 x 1000 single-pair job
    (issue 19). Exactly this form calls what typer would call (``_main``, then ``circuit``,
    same values); anything else (help, other options or forms, other commands, usage
    errors) goes through typer. Returns whether it ran the command.
    """
    flags = {"debug": False, "verbose": False, "quiet": False}
    k = 0
    while k < len(argv) and argv[k] in _DIRECT_FLAGS:
        flags[_DIRECT_FLAGS[argv[k]]] = True
        k += 1
    rest = argv[k:]
    if len(rest) == 2:
        command, job, output_dir = rest[0], rest[1], None
    elif len(rest) == 4 and rest[2] == "--output-dir":
        command, job, output_dir = rest[0], rest[1], rest[3]
    else:
        return False
    if command != "circuit" or any(not v or v.startswith("-") for v in (job, output_dir) if v is not None):
        return False
    _main(**flags, log_file=None, version=False)
    circuit(Path(job), None if output_dir is None else Path(output_dir))
    return True


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2; help exits 0."""
    exits, aborts = _exit_types()
    # One command per process: at shutdown the collector would scan every object the
    # imports made (numba's typing registries: about 0.3 CPU-s after a circuit job, issue
    # 19); frozen objects are still freed by reference counting. Runs only at exit.
    atexit.unregister(gc.freeze)  # once, however often main() runs in one process
    atexit.register(gc.freeze)
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, *threshold[1:])  # fewer scans while the imports allocate
    try:
        if _direct_circuit(list(sys.argv[1:] if argv is None else argv)):
            code = 0
        else:
            code = app(args=argv, prog_name="habitat", standalone_mode=False)
    except HabitatError as exc:
        if _state["debug"]:
            raise
        message = _one_line(str(exc))
        for handler in log.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, f"error: {message}", None, None))
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except exits as exc:
        sys.exit(getattr(exc, "exit_code", 0) or 0)
    except aborts:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except _click_exception_types() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # `habitat` alone: the help text
        else:  # one line, as every other error
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
            print(f"error: {_one_line(exc.format_message())}{hint}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    finally:
        gc.set_threshold(*threshold)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
