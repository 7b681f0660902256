"""The ``drama2`` command line: a thin layer over the public Python API.

Machine-readable output (``--json``) goes to stdout; tables are rendered with rich.
"""

from __future__ import annotations

import json
import sys
import warnings

import click

from drama2._version import __version__
from drama2.registry import KINDS, get_registry, normalize_kind


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:  # piped or redirected: do not squeeze tables into 80 columns
        console = Console(stderr=stderr, soft_wrap=True, width=200)
    return console


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drama2")
def cli():
    """drama2: anomaly detection by dimensionality reduction, prototypes and distances."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json):
    """List plugins (built-ins included), their versions, hooks, components and status."""
    infos = get_registry().plugins()
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in infos], indent=2))
        return
    from rich.table import Table

    providers = {}  # (kind, name) -> the plugins registering it
    for p in infos:
        for kind, names in p.components.items():
            for name in names:
                providers.setdefault((kind, name), []).append(p.name)
    table = Table(title="drama2 plugins")
    for col in ("plugin", "distribution", "version", "status", "components"):
        table.add_column(col)
    for p in infos:
        comps = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.components.items()) or "-"
        status = "ok" if p.status == "ok" else f"[red]failed[/red]: {p.error}"
        shared = sorted(f"{name!r}, so ask for " + " or ".join(f"'{o}:{name}'" for o in providers[(kind, name)])
                        for kind, names in p.components.items() for name in names
                        if len(providers[(kind, name)]) > 1)
        if shared:
            status += f"; [yellow]ambiguous[/yellow] {'; '.join(shared)}"
        table.add_row(p.name, p.distribution or "-", p.version or "-", status, comps)
    _console().print(table)


@cli.command("list")
@click.argument("kind", metavar="KIND", type=click.Choice(KINDS + tuple(k[:-1] for k in KINDS)))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(kind, as_json):
    """List registered components of KIND (reducers, metrics, clusterers, scorers, datasets).

    Families such as pyod:* are followed by the members available on this machine (pyod:ECOD, ...).
    """
    regs = get_registry().registrations(kind)
    names = [r.name for r in regs]
    rows = []
    for r in regs:
        rows.append({"name": r.name, "qualified_name": r.qualified_name, "provider": r.provider,
                     "description": r.description, "ambiguous": names.count(r.name) > 1})
        # A family (pyod:*) lists the members installed here, so users see what they can ask for.
        rows += [{"name": member, "qualified_name": f"{r.provider}:{member}", "provider": r.provider,
                  "description": f"member of {r.name}", "ambiguous": False} for member in r.members()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"drama2 {normalize_kind(kind)}")
    for col in ("name", "provider", "description"):
        table.add_column(col)
    for row in rows:
        name = row["qualified_name"] + " [yellow](ambiguous)[/yellow]" if row["ambiguous"] else row["name"]
        table.add_row(name, row["provider"], escape(row["description"]))
    _console().print(table)


@cli.command("demo")
@click.option("--dataset", default="synthetic-local-100", show_default=True, help="Registered dataset name.")
@click.option("--reducers", default="none,pca,ica,nmf", show_default=True, help="Comma-separated reducers.")
@click.option("--metrics", default="l1,l2,l4,wl2,wl4,braycurtis,chebyshev,canberra,correlation,mahalanobis",
              show_default=True, help="Comma-separated metrics.")
@click.option("--faithful", is_flag=True, help="Use the 2019 algorithm (global scaling) instead of the default.")
@click.option("--seed", default=0, show_default=True, help="random_state of every model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def demo_command(dataset, reducers, metrics, faithful, seed, as_json):
    """Score a built-in dataset with every reducer × metric and print AUC / MCC / RWS."""
    from drama2.datasets import load_dataset
    from drama2.grid import evaluate_grid

    ds = load_dataset(dataset)
    if ds.y is None:
        raise click.UsageError(f"dataset {dataset!r} has no labels to evaluate against.")
    rows = evaluate_grid(ds.X, ds.y, _split(reducers), _split(metrics), faithful=faithful, random_state=seed)
    if as_json:
        click.echo(json.dumps({"dataset": ds.name, "rows": rows}, indent=2))
        return
    from rich.table import Table

    best = max(r["auc"] for r in rows)
    mode = "faithful 2019 mode" if faithful else "default mode (per-feature min-max)"
    table = Table(title=f"DRAMA on {ds.name} ({ds.X.shape[0]} × {ds.X.shape[1]}, {ds.n_outliers} anomalies; {mode})",
                  caption="AUC: ROC area; MCC: top-n Matthews correlation; RWS: rank-weighted score "
                          "(top hit weighs most); ★ = best AUC")
    for col in ("reducer", "metric", "AUC", "MCC", "RWS", "fit s"):
        table.add_column(col, justify="left" if col in ("reducer", "metric") else "right")
    for r in rows:
        star = " ★" if r["auc"] == best else ""
        table.add_row(r["reducer"], r["metric"], f"{r['auc']:.3f}{star}", f"{r['mcc']:.3f}", f"{r['rws']:.3f}",
                      f"{r['fit_seconds']:.2f}")
    _console().print(table)


@cli.command("bench")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--datasets", help="Comma-separated dataset names [default: DRAMA simulations + ODDS files found].")
@click.option("--reducers", help="Comma-separated reducers of the DRAMA grid, each with its own parameters if "
                                 "needed, e.g. 'pca,ae[max_epochs=20]' [default: none,pca,ica,nmf; no grid when "
                                 "only --scorers is given].")
@click.option("--metrics", help="Comma-separated metrics of the DRAMA grid [default: all ten].")
@click.option("--scorers", help="Whole detectors, e.g. 'eif,knn[n_neighbors=10],pyod:ECOD' [default: the paper's "
                                "baselines, 'lof[n_neighbors=[5,10,35]],iforest'].")
@click.option("--split-levels", help="Comma-separated split levels [default: 1].")
@click.option("--seeds", help="Comma-separated seeds [default: 0].")
@click.option("--protocol", type=click.Choice(["transductive", "split"]),
              help="transductive: fit and score every row; split: fit on a stratified 70 % without labels, score "
                   "the other 30 % [default: transductive].")
@click.option("--labelled-anomalies",
              help="Comma-separated K, e.g. 1,3,5,10,20: scorers with label-aware selection (ensemble) are also "
                   "evaluated after selecting with K labelled training anomalies, on rows not used for selection.")
@click.option("--out", help="Run directory [default: drama2-bench].")
@click.option("--jobs", type=int, help="Parallel worker processes; -1 for every core [default: 1].")
@click.option("--executor", type=click.Choice(["sequential", "loky", "dask"]),
              help="[default: loky when --jobs > 1, dask with --scheduler, else sequential]")
@click.option("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
@click.option("--device", help="Torch device for every model that takes one (DRAMA's distances, neural reducers "
                                "and scorers): auto, cpu, cuda [default: auto].")
@click.option("--resume/--no-resume", default=None, help="Skip jobs finished in --out [default: resume].")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Searched before $DRAMA2_DATA.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr [default: when a terminal].")
def bench_command(config, progress, **flags):
    """Evaluate datasets × pipelines × seeds; write results, a manifest and a report to the run directory.

    CONFIG is an optional YAML file whose keys mirror these flags; flags given here win. With no
    arguments, a small embedded suite runs that needs no download: DRAMA's simulations plus every ODDS
    file found (but the four largest), every linear reducer × metric, and LOF (k = 5, 10, 35) and iForest.
    """
    from drama2.bench import BenchConfig, run_bench
    from drama2.bench.config import default_datasets

    flags = {key: value for key, value in flags.items() if value is not None}
    if config:
        cfg = BenchConfig.from_yaml(config, **flags)
    else:
        flags.setdefault("datasets", default_datasets(flags.get("data_dir")))
        if "scorers" in flags and not {"reducers", "metrics"} & flags.keys():
            flags["reducers"] = []  # scorers chosen alone: no default DRAMA grid beside them
        cfg = BenchConfig(**flags)
    try:
        result = run_bench(cfg, argv=["drama2", "bench", *sys.argv[2:]], progress=progress)
    except KeyboardInterrupt:
        print(f"drama2 bench: interrupted; finished jobs are saved in {cfg.out}. Run the same command again to "
              "resume.", file=sys.stderr)
        sys.exit(130)
    _print_bench_summary(result)


def _print_bench_summary(result):
    from rich.markup import escape
    from rich.table import Table

    from drama2.bench import summary

    means = summary.pipeline_means(result.results)
    console = _console()
    if not means.empty:
        table = summary.comparison(means)
        view = Table(title=f"AUC per dataset (run directory {result.out})",
                     caption="best DRAMA = the reducer × metric with the highest AUC, chosen with the labels"
                     if summary.BEST_DRAMA in table.columns else None)
        view.add_column("dataset")
        for column in table.columns:
            view.add_column(escape(column), justify="left" if column == "best DRAMA configuration" else "right")
        for dataset, row in table.iterrows():
            scores = {c: v for c, v in row.items() if c != "best DRAMA configuration" and v == v}
            top = max(scores.values()) if scores else None
            view.add_row(escape(dataset), *[
                str(v) if c == "best DRAMA configuration" else
                ("–" if v != v else (f"[bold green]{v:.3f}[/bold green]" if v == top else f"{v:.3f}"))
                for c, v in row.items()])
        console.print(view)
    counts = summary.status_counts(result.results)
    console.print(f"{result.n_jobs} fits ({result.n_resumed} resumed from an earlier run), "
                  + ", ".join(f"{n} {s}" for s, n in counts.items())
                  + f" evaluations in {result.wall_seconds:.1f} s. Report: {result.out / 'report.html'}")


@cli.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def report_command(run_dir):
    """Rebuild report.md, report.html and figures/ of a bench run directory."""
    from drama2.bench.report import build_report

    click.echo(str(build_report(run_dir)))


@cli.group("datasets")
def datasets_group():
    """Availability and integrity of the benchmark datasets."""


def _dataset_options(command):
    """The options shared by the ``datasets`` subcommands."""
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)
    return click.option("--data-dir", type=click.Path(file_okay=False),
                        help="Searched before $DRAMA2_DATA and the download cache "
                             "($DRAMA2_CACHE, default ~/.cache/drama2).")(command)


def _dataset_rows(data_dir, verify):
    from drama2.datasets.odds import ODDS_FILES, file_status

    return [file_status(name, data_dir, verify=verify) for name in sorted(ODDS_FILES)]


#: How ``datasets list`` describes the availability of datasets that have no single file.
_FAMILY_STATUS = {"synthetic": "generated", "multiclass": "bundled", "astronomy": "your files"}


def _other_dataset_rows():
    """Registered datasets other than ODDS (simulations, digits, astronomy loaders, plugins)."""
    return [{"name": r.name, "family": r.metadata.get("family", r.provider),
             "status": _FAMILY_STATUS.get(r.metadata.get("family"), "on load"), "source": r.description}
            for r in get_registry().registrations("datasets") if r.metadata.get("family") != "odds"]


@datasets_group.command("list")
@_dataset_options
def datasets_list(data_dir, as_json):
    """List the datasets: ODDS files (size, outliers, present or missing, source page), then the rest.

    Missing ODDS files are fetched on first load unless DRAMA2_OFFLINE=1; --json adds each file's path and
    download URL.
    """
    rows, others = _dataset_rows(data_dir, verify=False), _other_dataset_rows()
    if as_json:
        click.echo(json.dumps(rows + others, indent=2))
        return
    from rich.table import Table

    table = Table(title="ODDS datasets (checksums not verified: see `drama2 datasets verify`)")
    for col in ("name", "n", "d", "outliers", "status", "source"):
        table.add_column(col, justify="right" if col in ("n", "d", "outliers") else "left", overflow="fold")
    for r in rows:
        status = "[green]present[/green]" if r["status"] == "present" else "[yellow]missing[/yellow]"
        table.add_row(r["name"], str(r["n"]), str(r["d"]), str(r["outliers"]), status, r["source"])
    _console().print(table)
    table = Table(title="Other datasets (see docs/datasets.md)")
    for col in ("name", "status", "description"):
        table.add_column(col, overflow="fold")
    for r in others:
        table.add_row(r["name"], r["status"], r["source"])
    _console().print(table)


@datasets_group.command("verify")
@_dataset_options
def datasets_verify(data_dir, as_json):
    """Check every present ODDS file against its pinned sha256; exit 1 if any is corrupt."""
    rows = _dataset_rows(data_dir, verify=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            click.echo(f"{r['status']:8s} {r['name']:12s} {r['path'] or '(not found; source ' + r['source'] + ')'}")
    if any(r["status"] == "corrupt" for r in rows):
        sys.exit(1)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _integers(value: str, option: str) -> list[int]:
    try:
        return [int(v) for v in _split(value)]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 0,1,2; got {value!r}.",
                                 param_hint=option) from None


def main(argv=None):
    """Entry point of the ``drama2`` script: build the CLI with plugin commands and run it."""
    from drama2.errors import Drama2Error

    _exit_cleanly_on_sigterm()
    plain = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        for name in get_registry().add_commands(cli):
            print(f"drama2: plugin {name!r} failed to add its commands and was skipped "
                  "(see `drama2 plugins`).", file=sys.stderr)
        return cli.main(args=argv, prog_name="drama2", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(1)
    except Drama2Error as exc:
        # Errors a user caused (bad names, bad data, broken plugins in strict mode): one clear line.
        print(f"drama2: error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        warnings.formatwarning = plain


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line read like its errors: one line, no source file or code line."""
    kind = "warning" if category in (UserWarning, RuntimeWarning) else category.__name__
    return f"drama2: {kind}: {message}\n"


def _exit_cleanly_on_sigterm():
    """Turn SIGTERM (``kill``, a batch system's time limit) into SystemExit, so ``finally`` blocks run: detect
    removes its scratch directory and half-written output, bench closes its run store."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@cli.group("active")
def active_group():
    """Active anomaly discovery: query the top-ranked rows, learn from the answers (see docs/active.md)."""


@active_group.command("simulate")
@click.option("--datasets", required=True, help="Comma-separated dataset names with labels, e.g. wine,cardio.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds (ensemble fit and tie-breaking).")
@click.option("--budget", default=100, type=click.IntRange(min=1), show_default=True, help="Queries per session.")
@click.option("--updater", default="auto", show_default=True,
              help="Comma-separated updaters: auto (select for an ensemble, aad for an isolation forest, none "
                   "otherwise), aad, select, none.")
@click.option("--strategy", default="greedy", show_default=True,
              help="Comma-separated strategies: greedy, topk, diverse.")
@click.option("--members", default="default", show_default=True,
              help="Ensemble members: 'default', 'wide' (56 members), or specs as in --scorers of bench, e.g. "
                   "'iforest,knn[n_neighbors=10],pyod:HBOS'.")
@click.option("--detector", default=None,
              help="One scorer spec fitted instead of an ensemble, e.g. 'iforest' (aad then re-weights its leaves).")
@click.option("--batch-size", default=1, type=click.IntRange(min=1), show_default=True, help="Queries per round.")
@click.option("--out", "out_dir", default="drama2-active", show_default=True, help="Run directory.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Searched before $DRAMA2_DATA.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Reuse finished dataset × seed runs of --out.")
def active_simulate(datasets, seeds, budget, updater, strategy, members, detector, batch_size, out_dir, data_dir,
                    resume):
    """Simulate an expert from a dataset's labels and compare discovery with the frozen ranking.

    Writes results.csv, curves.csv, report.md and figures/<dataset>.png to --out; progress goes to
    stderr, the summary table to stdout: anomalies found within 50 queries (within 10 when the budget is
    below 50; no table below 10).
    """
    from drama2.active import simulate
    from drama2.active.report import headline_horizon, summary_table

    results = simulate(_split(datasets), seeds=_integers(seeds, "--seeds"), budget=budget,
                       updater=_split(updater), strategy=_split(strategy), members=members, out_dir=out_dir,
                       detector=detector, batch_size=batch_size, data_dir=data_dir, resume=resume)
    horizon = headline_horizon(budget)
    if horizon is not None:
        click.echo(f"anomalies found within {horizon} queries (mean over seeds):")
        click.echo(summary_table(results, horizon).round(2).to_string())


@cli.command("detect")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Ranked list to write: .csv or .parquet (written whole or not at all).")
@click.option("--columns", help="Comma-separated feature columns [default: the model's, else all but --id-column "
                                "and --exclude-columns].")
@click.option("--exclude-columns", help="Comma-separated columns that are not features (labels, coordinates, flags).")
@click.option("--id-column", help="Identifier column copied to the output [default: row number, as 'row'].")
@click.option("--detector", help="Detector to fit, as in bench --scorers, e.g. 'drama[reducer=pca, metric=l2]', "
                                 "'iforest' [default: the ensemble].")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="Score with a fitted model saved by drama2.save instead of fitting one.")
@click.option("--save-model", type=click.Path(dir_okay=False), help="Save the fitted model to this file.")
@click.option("--top", type=click.IntRange(min=1), help="Write only the N highest-scoring rows.")
@click.option("--fit-rows", default=100_000, show_default=True, type=click.IntRange(min=2),
              help="Fit on a uniform random sample of at most N rows, then score every row.")
@click.option("--explain/--no-explain", default=True, show_default=True,
              help="Add each row's top contributing features.")
@click.option("--explain-rows", type=click.IntRange(min=0),
              help="Explain rows ranked up to N [default: all for DRAMA models, 1000 for other detectors].")
@click.option("--top-features", default=3, show_default=True, type=click.IntRange(min=1),
              help="Contributing features named per row.")
@click.option("--chunk-rows", default=100_000, show_default=True, type=click.IntRange(min=1),
              help="Rows read and scored at a time.")
@click.option("--drop-nan", is_flag=True, help="Leave rows with missing values out instead of failing.")
@click.option("--figure", type=click.Path(dir_okay=False),
              help="Figure of the top anomalies beside their prototypes (.png, .pdf or .svg).")
@click.option("--seed", default=0, show_default=True, help="Seeds the fit sample and the detector.")
@click.option("--hdu", default="1", show_default=True, help="FITS extension holding the table (number or name).")
@click.option("--trusted", help="Comma-separated packages whose classes a saved model may hold besides drama2's "
                                "(a plugin's scorer), for --save-model and --model.")
@click.option("--progress/--no-progress", default=None, help="Progress bars on stderr [default: when a terminal].")
def detect_command(input_path, out, columns, exclude_columns, id_column, detector, model_path, save_model, top,
                   fit_rows, explain, explain_rows, top_features, chunk_rows, drop_nan, figure, seed, hdu, trusted,
                   progress):
    """Score a catalogue (CSV, Parquet, FITS, npz), rank its rows and write the ranked, explained list.

    Output columns: the id column, score (higher = more anomalous), rank (1 = most anomalous),
    prototype (DRAMA models), top_feature_i and top_contribution_i. CSV, Parquet and FITS binary tables
    are read in chunks, so catalogues larger than memory work. See docs/detect.md.
    """
    from drama2.detect import detect

    result = detect(input_path, out, columns=_split(columns) if columns else None,
                    exclude_columns=_split(exclude_columns) if exclude_columns else None, id_column=id_column,
                    detector=detector, model=model_path, save_model=save_model, top=top, fit_rows=fit_rows,
                    explain=explain, explain_rows=explain_rows, top_features=top_features, chunk_rows=chunk_rows,
                    drop_nan=drop_nan, figure=figure, random_state=seed, progress=progress,
                    hdu=int(hdu) if hdu.isdigit() else hdu, trusted=_split(trusted) if trusted else ())
    how = f"fitted on {result.n_fit_rows} rows" if result.fitted else "given model"
    dropped = f", {result.n_dropped} dropped for missing values" if result.n_dropped else ""
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())
    _console(stderr=True).print(
        f"drama2 detect: {result.n_scored} of {result.n_rows} rows scored ({type(result.model).__name__}, {how}"
        f"{dropped}); {result.n_written} written to {result.out} ({phases}; start-up and model loading not "
        "counted)"
        + (f"; figure {result.figure}" if result.figure else ""), highlight=False)


if __name__ == "__main__":
    main()
