"""The `benchbed` command line (click). Errors print one line naming cause and fix."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from benchbed.errors import BenchbedError
from benchbed.scaffold import SCAFFOLD_KINDS
from benchbed.types import KINDS

_GLOBAL_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--plugin", "plugins"), {
        "multiple": True, "metavar": "MODULE",
        "help": "Import a local plugin module (repeatable; also BENCHBED_PLUGINS=a,b)."}),
    (("--db",), {
        "default": None, "metavar": "URL",
        "help": "SQLAlchemy URL of the store (default BENCHBED_DB or sqlite:///benchbed.db)."}),
    (("--cache", "cache"), {
        "default": None, "metavar": "DIR",
        "help": "Artifact cache folder (default BENCHBED_CACHE or .benchbed/cache)."}),
]
"""Options of the main group that every command also takes after its name (``benchbed run S
--db URL`` = ``benchbed --db URL run S``): a --db given after the name wins, --plugin modules
given in both places add up."""


def _global_options(fn):  # type: ignore[no-untyped-def]
    """Decorate the main group with :data:`_GLOBAL_OPTIONS`."""
    for decls, attrs in reversed(_GLOBAL_OPTIONS):
        fn = click.option(*decls, **attrs)(fn)
    return fn


class _Command(click.Command):
    """A command that also accepts :data:`_GLOBAL_OPTIONS` after its name; their values go into
    ``ctx.obj`` (where the main group put its own) instead of the callback's arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        taken = {p.name for p in self.params} | {o for p in self.params for o in p.opts}
        self._global_names: list[str] = []
        for decls, attrs in _GLOBAL_OPTIONS:
            opt = click.Option(list(decls), **attrs)
            if opt.name in taken or taken & set(opt.opts):
                continue  # the command has an option of its own by that name
            self.params.append(opt)
            self._global_names.append(str(opt.name))

    def invoke(self, ctx: click.Context) -> Any:
        given = {n: ctx.params.pop(n) for n in self._global_names if n in ctx.params}
        if ctx.obj is None:
            ctx.obj = {"plugins": (), "db": None}
        if given.get("plugins"):
            ctx.obj["plugins"] = tuple(dict.fromkeys((*ctx.obj.get("plugins", ()),
                                                      *given["plugins"])))
        for key in ("db", "cache"):
            if given.get(key) is not None:
                ctx.obj[key] = given[key]
        return super().invoke(ctx)


class _Group(click.Group):
    """Turns BenchbedError (and Ctrl-C) into one line on stderr, exit code 2, no traceback."""

    command_class = _Command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchbedError as exc:
            fix = f" — fix: {exc.fix}" if exc.fix else ""
            click.echo(f"error: {exc.message}{fix}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: finished items are stored; rerun the command to resume",
                       err=True)
            sys.exit(130)


def _cache_dir(ctx: click.Context, own: str | Path | None = None) -> Path:
    """The artifact cache: the command's own --cache, else the global one, else the default."""
    from benchbed.paths import cache_root

    chosen = own or (ctx.obj or {}).get("cache")
    return Path(chosen) if chosen else cache_root()


def _registry(ctx: click.Context):  # type: ignore[no-untyped-def]
    from benchbed.registry import get_registry

    return get_registry(tuple(ctx.obj["plugins"]))


def _sessions(ctx: click.Context):  # type: ignore[no-untyped-def]
    from benchbed.paths import default_db_url
    from benchbed.store import open_store

    # the leaderboard commands only read: a store on a read-only medium serves them
    key = (ctx.obj["db"] or default_db_url(), bool(ctx.obj.get("readonly")))
    opened = ctx.obj.setdefault("_stores", {})  # one open per command, however many reads
    if key not in opened:
        opened[key] = open_store(*key)
    return opened[key]


class _EchoHandler(logging.Handler):
    """Log records as lines on the current stderr (looked up per record, as click.echo does)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:
            self.handleError(record)


def _set_log_level(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Level of the ``benchbed`` logger for this command, with a stderr handler: WARNING, INFO
    (-v), DEBUG (-vv), ERROR (-q); both are undone when the command ends."""
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet contradict each other; give one")
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    logger = logging.getLogger("benchbed")
    handler = _EchoHandler(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"
                                           if level == logging.DEBUG else "%(message)s"))
    before = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(before)

    ctx.call_on_close(restore)


@click.group(cls=_Group)
@_global_options
@click.option("-v", "--verbose", count=True,
              help="Log more on stderr: -v info (e.g. what was written), -vv debug.")
@click.option("-q", "--quiet", is_flag=True, help="Log errors only (no warnings or notes).")
@click.version_option(package_name="benchbed")
@click.pass_context
def main(ctx: click.Context, plugins: tuple[str, ...], db: str | None, cache: str | None,
         verbose: int, quiet: bool) -> None:
    """benchbed: benchmark image fusion under degradation."""
    from benchbed.memory import tune_allocator
    tune_allocator()  # large arrays from the heap, not a fresh zero-filled mmap each (glibc only)
    ctx.obj = {"plugins": plugins, "db": db, "cache": cache}
    _set_log_level(ctx, verbose, quiet)


@main.command("list")
@click.argument("kind", required=False, type=click.Choice([*KINDS, "suite"]))
@click.pass_context
def list_cmd(ctx: click.Context, kind: str | None) -> None:
    """List registered plugins (optionally of one KIND), or the shipped suites (KIND=suite)."""
    if kind == "suite":
        from benchbed.suites import load_suite_dict, standard_suites

        for name, path in standard_suites().items():
            about = str(load_suite_dict(path).get("description", "")).strip().split("\n")[0]
            click.echo(f"  {name:<22} {about}")
        return
    reg = _registry(ctx)
    for k in [kind] if kind else KINDS:
        specs = reg.specs(k)  # type: ignore[arg-type]
        click.echo(f"{k} ({len(specs)})")
        for spec in specs:
            extra = ""
            if k == "fuser":
                extra = f" [{spec.colour}{', degradation-aware' if spec.degradation_aware else ''}]"
            elif k == "degradation":
                extra = (" [severities: the dataset's conditions]" if spec.given
                         else f" [severities {', '.join(spec.severities)}]")
            elif k == "metric":
                extra = f" [{'higher' if spec.higher_is_better else 'lower'} is better]"
            elif k == "dataset":
                extra = _dataset_extent(spec)
            missing = spec.missing()
            if missing:
                extra += f" [not installed: {', '.join(missing)}: {next(iter(missing.values()))}]"
            click.echo(f"  {spec.name:<22} v{spec.version:<5} {spec.summary}{extra}")
    for provider, error in reg.broken.items():
        click.echo(f"broken plugin {provider}: {error}")


def _dataset_extent(spec) -> str:  # type: ignore[no-untyped-def]
    """' [n pairs, WxH..WxH]' when the dataset's files can be read here, else a short reason."""
    try:
        ds = spec.build()
        if hasattr(ds, "describe_sizes"):
            n, lo, hi = ds.describe_sizes(None)
            res = f"{lo[0]}x{lo[1]}" if lo == hi else f"{lo[0]}x{lo[1]}..{hi[0]}x{hi[1]}"
            splits = ", ".join(f"{s} {len(ds.pair_ids(s))}" for s in ds.available_splits())
            conditions = f"; real degradations {', '.join(spec.conditions)}" if spec.conditions else ""
            clean = "" if spec.has_clean else "; degraded only"
            return f" [{n} pairs, {res}; {splits}{conditions}{clean}]"
        ids = ds.pair_ids(None)
        return f" [{len(ids)} pairs, built in]"
    except BenchbedError as exc:
        return f" [not readable here: {exc.message}]"


@main.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def info(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a plugin's kind, version, parameters, modalities and citation."""
    from benchbed.registry import suggestion

    reg = _registry(ctx)
    specs = reg.find(name)
    if not specs:
        raise BenchbedError(f"no plugin called {name!r}", fix=suggestion(name, reg.all_names(),
                                                                        ""))
    described = [s.describe() for s in specs]
    if as_json:
        click.echo(json.dumps(described if len(described) > 1 else described[0], indent=2,
                              default=str))
        return
    for d in described:
        for key, value in d.items():
            if value in ("", [], {}, None):
                continue
            if isinstance(value, dict):
                click.echo(f"{key}:")
                for k, v in value.items():
                    click.echo(f"  {k}: {v}")
            else:
                click.echo(f"{key}: {value}")
        click.echo("")


_MAX_PIXELS = click.option(
    "--max-pixels", type=click.IntRange(min=64), default=None, metavar="N",
    help="Refuse images above N pixels (default BENCHBED_MAX_PIXELS or 25,000,000 = 5000x5000).")


def _set_max_pixels(value: int | None) -> None:
    """Set BENCHBED_MAX_PIXELS for this command (the environment carries it to pool and Dask
    workers), restored when the command ends so in-process callers see no lasting change."""
    import os

    if value is None:
        return
    before = os.environ.get("BENCHBED_MAX_PIXELS")
    os.environ["BENCHBED_MAX_PIXELS"] = str(value)

    def restore() -> None:
        if before is None:
            os.environ.pop("BENCHBED_MAX_PIXELS", None)
        else:
            os.environ["BENCHBED_MAX_PIXELS"] = before

    click.get_current_context().call_on_close(restore)


@main.command()
@click.argument("suite", type=click.Path(path_type=Path))
@_MAX_PIXELS
@click.pass_context
def validate(ctx: click.Context, suite: Path, max_pixels: int | None) -> None:
    """Check SUITE against the schema, the registry and the environment (weights, cache, the
    datasets' pairs and image sizes) without running anything."""

    _set_max_pixels(max_pixels)
    from benchbed.errors import DataRootError
    from benchbed.runner import enumerate_items, preflight
    from benchbed.suites import load_plan

    plan = load_plan(suite, _registry(ctx))
    preflight(plan, _registry(ctx), cache_dir=_cache_dir(ctx))
    try:  # empty datasets and oversized images are errors; a missing data root only a note
        n: int | None = len(enumerate_items(plan, _registry(ctx)))
        note = ""
    except DataRootError as exc:
        n, note = None, f"note: datasets not readable here ({exc})"
    n_sev = sum(len(x.severities) for x in plan.degradations)
    click.echo(f"ok: suite {plan.name} (plan {plan.hash[:12]}): {len(plan.datasets)} dataset(s), "
               f"{len(plan.degradations)} degradation(s) with {n_sev} severities, "
               f"{len(plan.methods)} method(s), {len(plan.metrics)} metric(s)")
    click.echo(f"{n} work items" if n is not None else note)


@main.command()
@click.argument("suite", type=click.Path(path_type=Path))
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N pairs per dataset.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Process-pool workers (same numbers as 1).")
@click.option("--overwrite", type=click.Choice(["never", "failed", "always"]), default="never",
              show_default=True, help="Recompute stored items: never, failed ones, or all.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="local (in-process / process pool) or a Dask cluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default: a local Dask cluster of --workers).")
@click.option("--cache", "cache_dir", default=None, type=click.Path(),
              help="Artifact cache folder (default BENCHBED_CACHE or .benchbed/cache).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Fail an item that runs longer than this (the run goes on).")
@_MAX_PIXELS
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--show/--no-show", default=True, help="Print the leaderboard at the end.")
@click.pass_context
def run(ctx: click.Context, suite: Path, limit: int | None, workers: int, overwrite: str,
        device: str, executor: str, scheduler: str | None, cache_dir: str | None,
        timeout: float | None, max_pixels: int | None, no_progress: bool, show: bool) -> None:
    """Run SUITE: compute what the store does not hold yet, then print the leaderboard."""
    from benchbed.runner import make_executor, run_plan
    from benchbed.suites import load_plan

    _set_max_pixels(max_pixels)
    reg = _registry(ctx)
    plan = load_plan(suite, reg)
    sessions = _sessions(ctx)
    summary = run_plan(plan, reg, sessions, cache_dir=_cache_dir(ctx, cache_dir), limit=limit,
                       workers=workers, overwrite=overwrite, device=device,  # type: ignore[arg-type]
                       plugin_modules=tuple(ctx.obj["plugins"]), progress=not no_progress,
                       echo=click.echo, executor=make_executor(workers, executor, scheduler),
                       timeout=timeout)
    for line in summary.lines():
        click.echo(line)
    if show:
        _show(ctx, plan.name, None, None, "table")
        _show_detection(ctx, plan.name, None, "table", {}, False, None, required=False)
    if summary.failed:
        # a run with failed items is not a good run: scripts (publish, CI) must notice
        ctx.exit(1)


def _board(ctx: click.Context, suite: str):  # type: ignore[no-untyped-def]
    """The selected board of ``suite`` (--plan / --run, default its newest plan), warned once."""
    from benchbed.leaderboard import select_board

    key = ("board", suite)
    if key not in ctx.obj:
        board = select_board(_sessions(ctx), suite, plan=ctx.obj.get("plan"), run=ctx.obj.get("run"))
        if board.warning():
            click.echo(board.warning(), err=True)
        ctx.obj[key] = board
    return ctx.obj[key]


_BOARD_OPTIONS = [
    click.option("--plan", "plan_sel", default=None, metavar="HASH",
                 help="Board of this plan version (hash prefix; default: the newest plan)."),
    click.option("--run", "run_sel", type=int, default=None, metavar="ID",
                 help="Only the items of this one run."),
]


def _with_board(fn):  # type: ignore[no-untyped-def]
    return _with_options(fn, _BOARD_OPTIONS)


def _with_options(fn, options):  # type: ignore[no-untyped-def]
    """Apply click ``options`` to ``fn`` so that --help lists them in this order."""
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _set_board(ctx: click.Context, plan: str | None, run: int | None) -> None:
    ctx.obj = {**(ctx.obj or {}), "plan": plan, "run": run}


def _show_detection(ctx: click.Context, suite: str, degradation: str | None, fmt: str,
                    filters: dict[str, Any], per_class: bool, conf: float | None, *,
                    required: bool) -> None:
    """Print the detection view (``benchbed.leaderboard.detection_view``)."""
    from benchbed.leaderboard import detection_view, format_table

    shown = detection_view(_sessions(ctx), suite, board=_board(ctx, suite), degradation=degradation,
                           filters=filters, per_class=per_class, conf=conf, required=required)
    if shown is None:
        return
    if shown.table.empty:
        click.echo(f"\ndetection: {shown.title}")
        return
    table = shown.table
    if fmt == "table":
        click.echo(f"\ndetection: {suite} ({shown.title})")
        table = table.drop(columns=["detector", "protocol", "conf"])
    click.echo(format_table(table, fmt))


def _show(ctx: click.Context, suite: str, metric: str | None, degradation: str | None,
          fmt: str, *, view: str = "ranked", filters: dict[str, Any] | None = None,
          n_boot: int = 2000, seed: int = 0) -> None:
    """Print a score view (``benchbed.leaderboard.score_view``)."""
    from benchbed.leaderboard import format_table, score_view

    shown = score_view(_sessions(ctx), _registry(ctx), suite, board=_board(ctx, suite), view=view,
                       metric=metric, degradation=degradation, filters=filters, n_boot=n_boot,
                       seed=seed)
    if fmt == "table":
        click.echo(f"\nleaderboard: {suite} ({shown.title})")
    click.echo(format_table(shown.table, fmt))


_METHOD_OPTION = click.option("--method", "methods", multiple=True,
                              help="Only this method (repeatable).")
_FILTER_OPTIONS = [
    click.option("--metric", default=None, help="Only this metric."),
    click.option("--degradation", default=None, help="Only this degradation."),
    click.option("--dataset", default=None, help="Only this dataset."),
    click.option("--severity", default=None, help="Only this severity level."),
    _METHOD_OPTION,
    click.option("--where", "where", multiple=True, metavar="COLUMN=V[,V]",
                 help="Keep rows whose COLUMN is one of the values (repeatable; any column, "
                      "e.g. pair_id=demo-00 or place=1)."),
    click.option("--n-boot", type=int, default=2000, show_default=True,
                 help="Bootstrap resamples for confidence intervals."),
    click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed."),
]


def _with_filters(fn=None, *, methods: bool = True):  # type: ignore[no-untyped-def]
    def wrap(fn):  # type: ignore[no-untyped-def]
        return _with_options(fn, [o for o in _FILTER_OPTIONS if methods or o is not _METHOD_OPTION])

    return wrap(fn) if fn is not None else wrap


def _filters(dataset: str | None, severity: str | None, methods: tuple[str, ...],
             where: tuple[str, ...]) -> dict[str, Any]:
    from benchbed.leaderboard import parse_filters

    out: dict[str, Any] = {"dataset": dataset, "severity": severity,
                           "method": list(methods) or None}
    for key, values in parse_filters(where).items():
        out[key] = values
    return out


@main.group(cls=_Group)
@click.pass_context
def leaderboard(ctx: click.Context) -> None:
    """Query, compare and publish results in the store."""
    ctx.obj["readonly"] = True


@leaderboard.command("show")
@click.option("--suite", required=True, help="Suite name.")
@click.option("--view", type=click.Choice(["ranked", "stats", "robustness", "auc", "detection"]),
              default="ranked", show_default=True,
              help="ranked: mean per metric and rank (wide; followed by the detection table when "
                   "the suite has one); stats: mean, std, n, 95% CI and ranks (long); robustness: "
                   "degraded/clean ratios; auc: area under severity curves; detection: P, R, "
                   "mAP50, mAP50-95 only.")
@_with_filters
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]),
              default="table", show_default=True)
@click.option("--per-class", is_flag=True, help="Detection rows per class as well as overall.")
@click.option("--conf", type=click.FloatRange(0, 1), default=None,
              help="Confidence for detection P/R (default: the suite's declared `conf`).")
@_with_board
@click.pass_context
def leaderboard_show(ctx: click.Context, suite: str, view: str, metric: str | None,
                     degradation: str | None, dataset: str | None, severity: str | None,
                     methods: tuple[str, ...], where: tuple[str, ...], n_boot: int, seed: int,
                     fmt: str, per_class: bool, conf: float | None, plan_sel: str | None,
                     run_sel: int | None) -> None:
    """Tables of SUITE's board: every stored item of its newest plan (--plan / --run select
    another). Filters select result rows; ranks are among all methods (with --metric in the
    ranked view, by that metric alone)."""
    _set_board(ctx, plan_sel, run_sel)
    filters = _filters(dataset, severity, methods, where)
    if view == "detection":
        _show_detection(ctx, suite, degradation, fmt, filters, per_class, conf, required=True)
        return
    _show(ctx, suite, metric, degradation, fmt, view=view, filters=filters, n_boot=n_boot, seed=seed)
    if view == "ranked" and fmt == "table" and metric is None:
        _show_detection(ctx, suite, degradation, fmt, filters, per_class, conf, required=False)


@leaderboard.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--suite", required=True, help="Suite name.")
@_with_filters(methods=False)
@click.option("--by", "by", multiple=True, type=click.Choice(["dataset", "degradation", "severity"]),
              help="Compare within each value of this column (repeatable); default: all items pooled.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Significance level for the Holm-corrected p-value.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]),
              default="table", show_default=True)
@_with_board
@click.pass_context
def leaderboard_compare(ctx: click.Context, a: str, b: str, suite: str, metric: str | None,
                        degradation: str | None, dataset: str | None, severity: str | None,
                        where: tuple[str, ...], n_boot: int, seed: int, by: tuple[str, ...],
                        alpha: float, fmt: str, plan_sel: str | None, run_sel: int | None) -> None:
    """Method A vs method B on the items both scored in SUITE: mean difference A-B with a paired
    bootstrap CI, Wilcoxon signed-rank test, p-values Holm-corrected across metrics."""
    from benchbed.leaderboard import compare_view, format_table

    _set_board(ctx, plan_sel, run_sel)
    shown = compare_view(_sessions(ctx), _registry(ctx), suite, a, b, board=_board(ctx, suite),
                         metric=metric, degradation=degradation,
                         filters=_filters(dataset, severity, (), where), by=by, n_boot=n_boot,
                         seed=seed, alpha=alpha)
    if fmt == "table":
        click.echo(f"\ncompare: {a} vs {b} in {suite} ({shown.title})")
    click.echo(format_table(shown.table, fmt))


@leaderboard.command("publish")
@click.option("--suite", "suites", multiple=True,
              help="Suite name (repeatable; default: every suite in the store).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("leaderboard"),
              show_default=True, help="Output folder (the site's root).")
@click.option("--publisher", "publishers", multiple=True,
              help="Publisher name (repeatable; default: all, e.g. markdown, csv, html).")
@click.option("--cache", "cache_dir", default=None, type=click.Path(path_type=Path),
              help="Artifact cache to copy example images from (default BENCHBED_CACHE or "
                   ".benchbed/cache).")
@click.option("--examples/--no-examples", default=True, show_default=True,
              help="Copy example fused images into the site.")
@click.option("--note", default="", help="Text shown with the provenance (e.g. the --limit used).")
@click.option("--n-boot", type=int, default=2000, show_default=True,
              help="Bootstrap resamples for confidence intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@_with_board
@click.pass_context
def leaderboard_publish(ctx: click.Context, suites: tuple[str, ...], out: Path,
                        publishers: tuple[str, ...], cache_dir: Path | None, examples: bool,
                        note: str, n_boot: int, seed: int, plan_sel: str | None,
                        run_sel: int | None) -> None:
    """Write SUITE's leaderboard with every publisher: markdown, CSV and a static HTML site."""
    import time

    from benchbed.leaderboard import build_context, publish, stored_suites

    reg = _registry(ctx)
    sessions = _sessions(ctx)
    names = list(suites) or stored_suites(sessions)
    if (plan_sel or run_sel is not None) and len(names) != 1:
        raise BenchbedError("--plan / --run select the board of one suite",
                            fix="publish that suite alone with --suite NAME")
    _set_board(ctx, plan_sel, run_sel)
    if not names:
        raise BenchbedError("the store holds no results", fix="run a suite with `benchbed run` first")
    specs = [reg.get("publisher", p) for p in publishers] if publishers else reg.specs("publisher")
    if not specs:
        raise BenchbedError("no publisher plugin is installed",
                            fix="install benchbed with its built-in plugins (pip install -e .)")
    for suite in names:
        t0 = time.perf_counter()
        try:
            context = build_context(sessions, suite, reg, cache_dir=_cache_dir(ctx, cache_dir),
                                    n_boot=n_boot, seed=seed, examples=examples, note=note,
                                    board=_board(ctx, suite))
        except BenchbedError as exc:
            if suites:  # asked for by name: an error; found in the store: skipped
                raise
            click.echo(f"skipped {suite}: {exc.message}", err=True)
            continue
        written = publish(context, out, specs)
        page = next((p for p in written if p.name == "index.html" and p.parent.name != out.name),
                    None)
        click.echo(f"published {suite}: {len(written)} files in {time.perf_counter() - t0:.1f} s"
                   f" with {', '.join(s.name for s in specs)}" + (f" -> {page}" if page else ""))


@main.group(cls=_Group)
def db() -> None:
    """Store maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending schema migrations (also done automatically on first use)."""
    from benchbed.paths import default_db_url
    from benchbed.store.engine import safe_url, upgrade_store

    url = ctx.obj["db"] or default_db_url()
    rev = upgrade_store(url)
    click.echo(f"store {safe_url(url)} is at revision {rev}")


@main.command("export")
@click.option("--suite", required=True, help="Suite name.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv",
              show_default=True, help="File format (parquet needs pyarrow: the [parquet] extra).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              default=None, metavar="FILE",
              help="File to write (default: stdout for csv and jsonl; parquet needs a file).")
@_with_board
@click.pass_context
def export_cmd(ctx: click.Context, suite: str, fmt: str, out: Path | None, plan_sel: str | None,
               run_sel: int | None) -> None:
    """Write every stored score of SUITE's board with its provenance: one row per item, metric
    and profile (plan hash, computing run, pair hash, seed, metric version, value, seconds,
    status, benchbed version and git commit of the run)."""
    from benchbed.api import export

    export(suite, fmt, None if out is None or str(out) == "-" else out,  # type: ignore[arg-type]
           db=ctx.obj["db"], plan=plan_sel, run=run_sel)


@main.group(cls=_Group)
def plugin() -> None:
    """Write plugins: a new package that passes benchbed's conformance kit."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(SCAFFOLD_KINDS),
              default="fuser", show_default=True, help="Plugin kind.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which the package folder is created.")
@click.pass_context
def plugin_new(ctx: click.Context, name: str, kind: str, out: Path) -> None:
    """Scaffold a plugin package called NAME: pyproject.toml with the `benchbed` entry point, a
    module with a working spec, a README and a test that runs benchbed.testing.check_plugin."""
    from benchbed.scaffold import new_plugin

    made = new_plugin(name, kind, out, taken=set(_registry(ctx).names(kind)))  # type: ignore[arg-type]
    for path in made.files:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {made.root} && pip install -e . && benchbed list {kind} && "
               f"python -m pytest")


@main.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--degradation", "-d", required=True, help="Degradation name.")
@click.option("--severity", "-s", default=None, help="Severity level (default: the first).")
@click.option("--modality", "-m", default="vi", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path))
@click.pass_context
def degrade(ctx: click.Context, image: Path, degradation: str, severity: str | None,
            modality: str, seed: int, out: Path) -> None:
    """Degrade one IMAGE and write the 8-bit observation."""
    import numpy as np

    from benchbed.imaging import read_image, write_image

    spec = _registry(ctx).get("degradation", degradation)
    level = severity or next(iter(spec.severities))
    if level not in spec.severities:
        raise BenchbedError(f"degradation {degradation!r} has no severity {level!r}",
                            fix=f"use one of {list(spec.severities)}")
    obs = spec.build().apply(read_image(image), modality, dict(spec.severities[level]),
                             np.random.default_rng(seed))
    write_image(out, obs.y)
    click.echo(f"wrote {out} ({degradation}@{level}, noise sigma {obs.noise_sigma * 255:.2f}/255, "
               f"operator {obs.operator.kind if obs.operator else 'none'})")


@main.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--fuser", "-f", required=True, help="Fuser name.")
@click.option("--modalities", default="ir,vi", show_default=True)
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path))
@click.option("--device", default="cpu", show_default=True)
@click.pass_context
def fuse(ctx: click.Context, a: Path, b: Path, fuser: str, modalities: str, out: Path,
         device: str) -> None:
    """Fuse two registered sources A and B with one fuser (no restoration)."""
    from benchbed.fusion import fuse_with_policy
    from benchbed.imaging import read_image, write_image

    spec = _registry(ctx).get("fuser", fuser)
    ia, ib = read_image(a), read_image(b)
    if ia.shape[:2] != ib.shape[:2]:
        raise BenchbedError(f"sources differ in size: {a} is {ia.shape[1]}x{ia.shape[0]}, "
                            f"{b} is {ib.shape[1]}x{ib.shape[0]}",
                            fix="register/resize the sources to one size first")
    mods = tuple(modalities.split(","))
    params = {"device": device} if "device" in spec.params else {}
    fused = fuse_with_policy(spec, spec.build(**params), (ia, ib), mods, ia.shape[:2],  # type: ignore[arg-type]
                             device=device)
    write_image(out, fused)
    click.echo(f"wrote {out}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.option("--config", default="small", show_default=True, help="Model config, e.g. small|paper.")
@click.option("--data", default=None, help="Training dataset(s), comma-separated.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Checkpoint folder.")
@click.option("--steps", type=int, default=None, help="Training steps.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume/--no-resume", default=True, show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Extra trainer options (repeatable).")
@click.pass_context
def train(ctx: click.Context, name: str, config: str, data: str | None, out: Path | None,
          steps: int | None, device: str, seed: int, resume: bool,
          overrides: tuple[str, ...]) -> None:
    """Train plugin NAME (one that declares a trainer, e.g. a diffusion fuser)."""
    import yaml

    reg = _registry(ctx)
    specs = [s for s in reg.find(name) if s.trainer is not None]
    if not specs:
        from benchbed.registry import suggestion

        trainable = [s.name for k in KINDS for s in reg.specs(k) if s.trainer is not None]
        raise BenchbedError(f"no trainable plugin called {name!r}",
                            fix=suggestion(name, trainable, "fuser") if trainable
                            else "install a plugin that declares a trainer")
    extra = {}
    for item in overrides:
        if "=" not in item:
            raise BenchbedError(f"--set {item!r} is not KEY=VALUE", fix="write e.g. --set lr=1e-4")
        key, value = item.split("=", 1)
        extra[key] = yaml.safe_load(value)
    specs[0].trainer(config=config, data=data, out=out, steps=steps, device=device, seed=seed,
                     resume=resume, echo=click.echo, **extra)


@main.command()
@click.argument("a", type=click.Path(path_type=Path), required=False)
@click.argument("b", type=click.Path(path_type=Path), required=False)
@click.argument("f", type=click.Path(path_type=Path), required=False)
@click.option("--ir", "a_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of the first sources (IR, or PET/CT/SPECT) for folder scoring.")
@click.option("--vi", "b_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of the second sources (visible, or MRI).")
@click.option("--fused", "f_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of one method's fused images, named like their sources.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder scoring: write the per-image scores to this .csv or .json file.")
@click.option("--metrics", default=None, help="Comma-separated metric names (default: all).")
@click.option("--profile", default=None,
              help="Convention profile (e.g. liu2012, evaluator); metrics without it use their "
                   "default.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (metric -> value, or the "
                                                       "per-image rows and means for folders).")
@click.pass_context
def score(ctx: click.Context, a: Path | None, b: Path | None, f: Path | None,
          a_dir: Path | None, b_dir: Path | None, f_dir: Path | None, out: Path | None,
          metrics: str | None, profile: str | None, as_json: bool) -> None:
    """Score fused image F against sources A and B, or (--ir/--vi/--fused) a folder of fused
    images against folders of sources, matched by file name (8-bit gray, BT.601 luma)."""
    names = metrics.split(",") if metrics else None
    folders = (a_dir, b_dir, f_dir)
    if any(folders):
        if not all(folders) or any((a, b, f)):
            raise click.UsageError("folder scoring takes --ir, --vi and --fused (and no A B F)")
        _score_folders(ctx, a_dir, b_dir, f_dir, out, names, profile, as_json)  # type: ignore[arg-type]
        return
    if not all((a, b, f)):
        raise click.UsageError("give A B F (three images), or --ir DIR --vi DIR --fused DIR")
    from benchbed.imaging import read_image
    from benchbed.metrics import compute_many

    reg = _registry(ctx)
    chosen = names or reg.names("metric")
    if profile is not None:  # a typo (LIU2012) must not silently give the default numbers
        known = sorted({p for n in chosen for p in reg.get("metric", n).profiles})
        if profile not in known:
            raise BenchbedError(f"no selected metric has the profile {profile!r}",
                                fix=f"use one of {known} (names are case-sensitive)")
    images = [read_image(p) for p in (a, b, f)]  # decoded once, not once per metric
    compute_many([], *images, registry=reg, strict_profile=False)  # one size
    values: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for n in chosen:
        try:  # one metric's failure must not hide the others
            values[n] = compute_many([n], *images, profile=profile, registry=reg,
                                     strict_profile=False)[n]
        except Exception as exc:
            values[n] = None
            errors[n] = (exc.message if isinstance(exc, BenchbedError)
                         else f"{type(exc).__name__}: {exc}")
    if as_json:
        click.echo(json.dumps(values))
    else:
        for n, v in values.items():
            click.echo(f"{n:<10} {v:.6f}" if v is not None else f"{n:<10} failed: {errors[n]}")
    if errors:
        for n, err in errors.items():
            click.echo(f"error: {n}: {err}", err=True)
        ctx.exit(1)


def _score_folders(ctx: click.Context, a_dir: Path, b_dir: Path, f_dir: Path, out: Path | None,
                   names: list[str] | None, profile: str | None, as_json: bool) -> None:
    """Per-image scores of a fused folder, their means, and optionally a CSV/JSON file."""
    from benchbed.api import score_folders

    rows = score_folders(a_dir, b_dir, f_dir, metrics=names, profile=profile,
                         plugins=tuple(ctx.obj["plugins"]))
    wide = rows.pivot(index="name", columns="metric", values="value")
    wide = wide[list(dict.fromkeys(rows.metric))]
    means = wide.mean(axis=0)
    if out is not None:
        if out.suffix.lower() == ".json":
            out.write_text(json.dumps({"images": rows.to_dict(orient="records"),
                                       "mean": means.to_dict(), "n": len(wide)}, indent=1))
        elif out.suffix.lower() == ".csv":
            wide.reset_index().to_csv(out, index=False)
        else:
            raise click.UsageError("--out must end in .csv or .json")
    if as_json:
        click.echo(json.dumps({"images": rows.to_dict(orient="records"), "mean": means.to_dict(),
                               "n": len(wide)}))
        return
    click.echo(wide.reset_index().to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    click.echo(f"mean over {len(wide)} images: "
               + ", ".join(f"{m} {v:.6f}" for m, v in means.items()))



@main.group(cls=_Group)
def cache() -> None:
    """Inspect and prune the artifact cache (degraded, restored, fused images, detections)."""


_CACHE_DIR = click.option("--cache", "cache_dir", default=None, type=click.Path(path_type=Path),
                          help="Artifact cache folder (default BENCHBED_CACHE or .benchbed/cache).")


def _cache_store(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The store read-only (the cache commands never write it)."""
    from benchbed.paths import default_db_url
    from benchbed.store import open_store

    return open_store(ctx.obj["db"] or default_db_url(), readonly=True)


@cache.command("info")
@_CACHE_DIR
@click.pass_context
def cache_info(ctx: click.Context, cache_dir: Path | None) -> None:
    """Files and bytes per kind (degraded, restored, fused, detections) and how many of them the
    stored items of the store (--db) name; the rest is what `cache prune --orphans` removes."""
    from benchbed.cache import human, missing, scan, store_references, summarise

    root = _cache_dir(ctx, cache_dir)
    files = scan(root)
    try:
        refs = store_references(_cache_store(ctx))
        note = ""
    except BenchbedError as exc:
        refs, note = None, f"note: no item references counted ({exc.message})"
    rows = summarise(files, refs)
    click.echo(f"cache {root}: {len(files)} files, {human(sum(f.size for f in files))}")
    click.echo(f"  {'kind':<12}{'files':>9}{'size':>12}{'referenced':>12}{'ref. size':>12}")
    for r in rows:
        click.echo(f"  {r.kind:<12}{r.files:>9}{human(r.bytes):>12}{r.referenced_files:>12}"
                   f"{human(r.referenced_bytes):>12}")
    if refs is None:
        click.echo(note)
        return
    used = sum(r.referenced_files for r in rows)
    click.echo(f"{used} of {len(files)} files are named by the {refs.items} stored items; "
               f"{len(files) - used} are orphans"
               + (f"; {missing(files, refs)} named files are not in this cache"
                  if missing(files, refs) else ""))


@cache.command("prune")
@_CACHE_DIR
@click.option("--suite", "suites", multiple=True, metavar="NAME",
              help="Remove the files this suite's stored items name (repeatable); a file a done "
                   "item of another suite names is kept.")
@click.option("--older-than", "older_than", type=click.FloatRange(min=0), default=None,
              metavar="DAYS", help="Only files last written more than DAYS days ago; alone: every "
                                   "such file no done item names.")
@click.option("--orphans", is_flag=True,
              help="Remove the files no stored item names (those written in the last hour are "
                   "kept: a running suite may be about to store them).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.pass_context
def cache_prune(ctx: click.Context, cache_dir: Path | None, suites: tuple[str, ...],
                older_than: float | None, orphans: bool, dry_run: bool) -> None:
    """Remove cached artifacts: orphans (--orphans), a suite's (--suite), old ones (--older-than);
    a file a done item of an unselected suite names is never removed. Prints each file and the
    bytes freed."""
    from benchbed.cache import human, plan_prune, remove_files, scan, store_references

    root = _cache_dir(ctx, cache_dir)
    refs = store_references(_cache_store(ctx))
    known = {suite for users in refs.users.values() for suite, _ in users}
    unknown = [s for s in suites if s not in known]
    if unknown:
        raise BenchbedError(f"no stored item of suite(s) {', '.join(unknown)} names a cached file",
                            fix="check the suite name against `benchbed cache info` and --db")
    plan = plan_prune(scan(root), refs, suites=suites, orphans=orphans,
                      older_than_days=older_than)
    verb = "would remove" if dry_run else "removed"
    for f in plan.remove:
        click.echo(f"{verb} {f.path} ({human(f.size)})")
    if dry_run:
        count, freed = len(plan.remove), sum(f.size for f in plan.remove)
    else:
        count, freed = remove_files(plan.remove)
    kept = []
    if plan.kept_done:
        kept.append(f"{plan.kept_done} named by done items of other suites")
    if plan.kept_recent:
        kept.append(f"{plan.kept_recent} orphans written in the last hour")
    click.echo(f"{verb} {count} files, {human(freed)} {'to free' if dry_run else 'freed'} "
               f"in {root}" + (f"; kept {', '.join(kept)}" if kept else ""))

if __name__ == "__main__":
    main()
