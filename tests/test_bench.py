"""drama2 bench: grid expansion, the run directory contract, resume, failures, executors, report, CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from drama2.bench import BenchConfig, run_bench
from drama2.bench import execute as execute_module
from drama2.bench import jobs as jobs_module
from drama2.bench.config import parse_scorer
from drama2.bench.jobs import expand_grid
from drama2.bench.store import RunStore
from drama2.cli import cli
from drama2.device import resolve_device
from drama2.errors import InvalidInputError, UnknownComponentError

CONTRACT_COLUMNS = ["dataset", "pipeline", "reducer", "metric", "scorer", "split_level", "seed", "protocol", "status",
                    "auc", "ap", "mcc", "rws", "rws_drama", "fit_seconds", "score_seconds", "error"]
SMALL = dict(datasets=["synthetic-newclass-100"], reducers=["pca", "nmf"], metrics=["l2", "wl2", "correlation"],
             scorers=["drama[reducer=ica]"], seeds=[0, 1])


def _config(tmp_path, name="run", **overrides):
    return BenchConfig(**{**SMALL, "out": str(tmp_path / name), **overrides})


def _scores(frame):
    return frame.sort_values(["dataset", "pipeline", "seed"]).set_index(["dataset", "pipeline", "seed"])[
        ["status", "auc", "ap", "mcc", "rws"]]


# ---------------------------------------------------------------- configuration and grid
def test_scorer_parameters_expand_like_benchopt():
    specs = parse_scorer("lof[n_neighbors=[5, 10, 35]]")
    assert [s.label for s in specs] == ["lof[n_neighbors=5]", "lof[n_neighbors=10]", "lof[n_neighbors=35]"]
    assert parse_scorer("iforest")[0].params == ()
    two = parse_scorer("knn[n_neighbors=[1, 2], method=mean]")
    assert [dict(s.params) for s in two] == [{"method": "mean", "n_neighbors": 1}, {"method": "mean", "n_neighbors": 2}]
    with pytest.raises(InvalidInputError, match="key=value"):
        parse_scorer("lof[5]")


def test_grid_shares_one_fit_across_metrics_and_keys_are_stable(tmp_path):
    config = _config(tmp_path)
    jobs = expand_grid(config)
    # 2 seeds × (2 reducers + 1 scorer); each DRAMA job carries all three metrics.
    assert len(jobs) == 6 and all(j.metrics == ("l2", "wl2", "correlation") for j in jobs if j.kind == "drama")
    keys = [j.key for j in jobs]
    assert len(set(keys)) == len(keys)
    # Identity, not position, decides keys and seeds: reversing the grid changes nothing.
    reversed_jobs = expand_grid(_config(tmp_path, seeds=[1, 0], reducers=["nmf", "pca"]))
    assert {j.key: j.random_state for j in jobs} == {j.key: j.random_state for j in reversed_jobs}
    # Transductive scorer rows are judged on training scores since 2026-11-23: their keys changed (older rows
    # are redone, not resumed), their seeds did not (the same forests are grown).
    scorer = next(j for j in jobs if j.kind == "scorer")
    split_twin = next(j for j in expand_grid(_config(tmp_path, protocol="split")) if j.kind == "scorer")
    assert scorer.identity()["scores"] == "training" and "scores" not in split_twin.identity()
    assert scorer.random_state == jobs_module._seed_of(
        {k: v for k, v in scorer.identity().items() if k != "scores"})


def test_yaml_config_mirrors_the_flags(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text("datasets: [wine, glass]\nreducers: pca\nsplit-levels: [1, 2]\nscorers:\n  - iforest\n"
                    "protocol: split\ndrama:\n  n_components: 3\n")
    config = BenchConfig.from_yaml(path, seeds="0,1")
    assert config.datasets == ["wine", "glass"] and config.reducers == ["pca"] and config.split_levels == [1, 2]
    assert config.protocol == "split" and config.seeds == [0, 1] and config.drama == {"n_components": 3}
    path.write_text("datasets: [wine]\nreducer: pca\n")
    with pytest.raises(InvalidInputError, match=r"unknown keys \['reducer'\]"):
        BenchConfig.from_yaml(path)
    # A lone value reads as a list of one; a count or seed must be a whole number.
    path.write_text("datasets: wine\nreducers: pca\nseeds: 1\n")
    assert BenchConfig.from_yaml(path).seeds == [1]
    for bad in ("seeds: [1.9]", "labelled_anomalies: [2.7]", "seeds: true"):
        path.write_text(f"datasets: wine\nreducers: pca\n{bad}\n")
        with pytest.raises(InvalidInputError, match="expected a list of int values"):
            BenchConfig.from_yaml(path)


@pytest.mark.parametrize("overrides, message", [
    ({"protocol": "loo"}, "protocol must be one of"),
    ({"executor": "dask"}, "needs --scheduler"),
    ({"datasets": []}, "no datasets"),
    ({"jobs": 0}, "jobs must be at least 1"),
])
def test_bad_configurations_are_refused(tmp_path, overrides, message):
    with pytest.raises(InvalidInputError, match=message):
        _config(tmp_path, **overrides)


def test_negative_jobs_count_cores_as_in_joblib(tmp_path):
    import os

    cores = os.cpu_count() or 1
    assert _config(tmp_path, jobs=-1).jobs == cores
    assert _config(tmp_path, jobs=-cores - 5).jobs == 1


def test_unknown_names_fail_before_anything_runs(tmp_path):
    with pytest.raises(UnknownComponentError, match="Did you mean .mahalanobis"):
        run_bench(_config(tmp_path, metrics=["l2", "mahalonobis"]), progress=False)
    assert not (tmp_path / "run" / "jobs").exists()
    with pytest.raises(UnknownComponentError, match="Did you mean 'l2'"):
        run_bench(_config(tmp_path, metrics=["L2"]), progress=False)
    with pytest.raises(InvalidInputError, match="'n_neighbours' \\(did you mean 'n_neighbors'\\?\\)"):
        run_bench(_config(tmp_path, scorers=["knn[n_neighbours=5]"]), progress=False)
    with pytest.raises(InvalidInputError, match="drama .*'n_componets' \\(did you mean 'n_components'"):
        run_bench(_config(tmp_path, drama={"n_componets": 3}), progress=False)
    with pytest.raises(InvalidInputError, match="'split_levels' \\(use split-levels\\) is set by the bench grid"):
        run_bench(_config(tmp_path, drama={"split_levels": 2}), progress=False)
    # A PyOD constructor's keywords are known before PyOD runs, so a typo is named with the real one.
    pytest.importorskip("pyod")
    with pytest.raises(InvalidInputError, match="'nbins' \\(did you mean 'n_bins'\\?\\)"):
        run_bench(_config(tmp_path, scorers=["pyod:HBOS[nbins=5]"]), progress=False)
    # A scorer's own seed would override every seed while results.csv names the bench's.
    with pytest.raises(InvalidInputError, match="sets random_state, which the bench sets for every job"):
        run_bench(_config(tmp_path, scorers=["eif[random_state=3]"]), progress=False)
    for device in ("tpu", "meta"):
        with pytest.raises(InvalidInputError, match=f"unknown device '{device}'"):
            run_bench(_config(tmp_path, device=device), progress=False)
    assert not (tmp_path / "run" / "jobs").exists()


def test_the_drama_blocks_reducer_params_are_checked_against_every_reducer(tmp_path):
    # They reach every reducer of the grid: a neural-only parameter would fail every PCA job one by one.
    with pytest.raises(InvalidInputError, match="reducer 'pca' takes no parameter 'max_epochs'.*reducers list"):
        run_bench(_config(tmp_path, reducers=["ae", "pca"], drama={"reducer_params": {"max_epochs": 2}}),
                  progress=False)
    with pytest.raises(InvalidInputError, match="'n_components', which Drama passes"):
        run_bench(_config(tmp_path, reducers=["pca[n_components=3]"]), progress=False)
    assert not (tmp_path / "run" / "jobs").exists()


@pytest.mark.parametrize("drama, message", [
    ({"n_components": [2, 3]}, "drama: n_components must be an integer"),
    ({"n_components": "3"}, "drama: n_components must be an integer"),
    ({"n_components": None}, "drama: n_components must be an integer"),
    ({"scaling": "glob"}, "drama: scaling must be one of"),
    ({"min_leaf_size": 0}, "drama: min_leaf_size must be"),
    ({"contamination": 0.9}, "drama: contamination"),
    ({"clusterer": "wrd"}, "Did you mean 'ward'"),
])
def test_wrong_values_in_the_drama_block_fail_before_anything_runs(tmp_path, drama, message):
    # Each used to fail every job one by one, or surface as a raw TypeError from the grid.
    with pytest.raises((InvalidInputError, UnknownComponentError), match=message):
        run_bench(_config(tmp_path, drama=drama), progress=False)
    assert not (tmp_path / "run" / "jobs").exists()


def test_drama_block_keys_may_be_written_with_dashes(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text("datasets: [synthetic-newclass-100]\ndrama:\n  min-leaf-size: 2\n  scaling: global\n")
    assert BenchConfig.from_yaml(path).drama == {"min_leaf_size": 2, "scaling": "global"}


def test_a_name_listed_twice_runs_once(tmp_path):
    config = _config(tmp_path, datasets=["synthetic-newclass-100", "synthetic-newclass-100"],
                     reducers=["pca", "pca"], metrics=["l2", "l2"], scorers=[], seeds=[0, 0])
    assert (config.datasets, config.reducers, config.metrics, config.seeds) == (
        ["synthetic-newclass-100"], ["pca"], ["l2"], [0])
    assert len(run_bench(config, progress=False, report=False).results) == 1
    specs = _config(tmp_path, scorers=["knn[n_neighbors=5]", "knn[n_neighbors=[5, 10]]"]).scorer_specs
    assert [spec.label for spec in specs] == ["knn[n_neighbors=5]", "knn[n_neighbors=10]"]


# ---------------------------------------------------------------- the run directory
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(**{**SMALL, "out": str(out / "run")})
    return config, run_bench(config, progress=False, argv=["drama2", "bench", "--test"])


def test_run_directory_follows_the_contract(finished_run):
    config, result = finished_run
    out = result.out
    frame = pd.read_csv(out / "results.csv")
    assert set(CONTRACT_COLUMNS) <= set(frame.columns)
    assert len(frame) == 2 * (2 * 3 + 1) and (frame["status"] == "ok").all()
    assert frame["auc"].between(0, 1).all()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet")[["auc"]], frame[["auc"]])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["command"] == ["drama2", "bench", "--test"]
    assert {"drama2", "numpy", "torch", "scikit-learn"} <= set(manifest["versions"])
    assert manifest["device"] == resolve_device("auto") and manifest["n_jobs"] == 6 and manifest["plugins"]
    assert len(list((out / "jobs").glob("*.json"))) == 6
    assert not list(out.rglob("*.tmp"))


def test_metric_rows_of_one_fit_match_a_direct_fit(finished_run):
    from drama2 import Drama, evaluation, load_dataset

    _config, result = finished_run
    frame = result.results
    row = frame[(frame["pipeline"] == "drama-pca-wl2-s1") & (frame["seed"] == 1)].iloc[0]
    ds = load_dataset("synthetic-newclass-100")
    model = Drama(reducer="pca", random_state=int(row["random_state"])).fit(ds.X)
    assert row["auc"] == pytest.approx(evaluation.auc(ds.y, model.score_samples(ds.X, metric="wl2")), abs=1e-12)


def test_resume_skips_finished_jobs_and_gives_the_same_table(finished_run):
    config, result = finished_run
    again = run_bench(config, progress=False)
    assert again.n_resumed == again.n_jobs == 6
    pd.testing.assert_frame_equal(_scores(again.results), _scores(result.results))


def test_an_interrupted_run_keeps_finished_jobs_and_resumes(tmp_path, monkeypatch):
    config = _config(tmp_path)
    real, calls = execute_module.run_job, []

    def interrupt_on_third(job, **kwargs):
        calls.append(job.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job, **kwargs)

    monkeypatch.setattr("drama2.bench.executors.run_job", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt):
        run_bench(config, progress=False, report=False)
    store = RunStore(config.out)
    assert len(list(store.jobs_dir.glob("*.json"))) == 2
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "interrupted"
    assert len(pd.read_csv(tmp_path / "run" / "results.csv")) == 2 * 3  # the two finished DRAMA jobs
    monkeypatch.setattr("drama2.bench.executors.run_job", real)
    resumed = run_bench(config, progress=False, report=False)
    assert resumed.n_resumed == 2 and (resumed.results["status"] == "ok").all() and len(resumed.results) == 14


def test_failures_are_recorded_and_retried_and_incompatible_jobs_skipped(tmp_path):
    # Values only the fit can judge (an unknown parameter name is refused before anything runs).
    config = _config(tmp_path, reducers=["pca"], seeds=[0], datasets=["synthetic-newclass-100", "digits"],
                     scorers=["drama[n_components=0]", "drama[reducer=ica, n_components=999]"])
    result = run_bench(config, progress=False)
    frame = result.results
    failed = frame[frame["status"] == "failed"]
    assert set(failed["pipeline"]) == {"drama[n_components=0]", "drama[n_components=999, reducer=ica]"}
    assert failed["error"].str.contains("n_components").all()
    skipped = frame[frame["status"] == "skipped"]
    assert set(skipped["dataset"]) == {"digits"} and skipped["error"].str.contains("no anomaly labels").all()
    again = run_bench(config, progress=False, report=False)
    assert again.n_resumed == again.n_jobs - 2  # the two failed jobs ran again
    report = (result.out / "report.md").read_text()
    assert "## Failed and skipped" in report and "no anomaly labels" in report


def test_split_protocol_scores_the_held_out_share(tmp_path):
    result = run_bench(_config(tmp_path, protocol="split", seeds=[0], scorers=[]), progress=False, report=False)
    frame = result.results
    assert (frame["n_test"] == 314).all() and (frame["n_train"] == 731).all()
    assert (frame["n_outliers"] == 14).all()  # 45 anomalies, stratified: 30 % of them are tested


def test_transductive_scorers_are_judged_on_their_own_training_scores(tmp_path):
    # kNN and LOF leave a row out of its own neighbours only in their training scores; scoring the fitted rows
    # again as new data counts each row as its own nearest neighbour, which is not the detector.
    from drama2 import evaluation, load_dataset
    from drama2.detect import make_detector

    config = _config(tmp_path, reducers=[], metrics=["l2"], seeds=[0],
                     scorers=["knn[n_neighbors=5]", "lof[n_neighbors=5]"])
    frame = run_bench(config, progress=False, report=False).results.set_index("pipeline")
    ds = load_dataset("synthetic-newclass-100")
    for spec in ("knn[n_neighbors=5]", "lof[n_neighbors=5]"):
        model = make_detector(spec, random_state=int(frame.loc[spec, "random_state"])).fit(ds.X)
        own = evaluation.auc(ds.y, model.decision_scores_)
        assert own != pytest.approx(evaluation.auc(ds.y, model.score_samples(ds.X)), abs=1e-6)  # the test can fail
        assert frame.loc[spec, "auc"] == pytest.approx(own, abs=1e-12)


# ---------------------------------------------------------------- executors give identical numbers
def test_loky_and_dask_give_the_same_numbers_as_sequential(finished_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    _config_, sequential = finished_run
    loky = run_bench(_config(tmp_path, "loky", jobs=2), progress=False, report=False)
    pd.testing.assert_frame_equal(_scores(loky.results), _scores(sequential.results))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        config = _config(tmp_path, "dask", executor="dask", scheduler=cluster.scheduler_address)
        dask = run_bench(config, progress=False, report=False, scheduler_client=client)
    pd.testing.assert_frame_equal(_scores(dask.results), _scores(sequential.results))


def test_dask_records_a_job_whose_task_dies_and_refuses_a_cluster_without_workers(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from drama2.bench import executors

    real = executors._run_keyed

    def dies_on_nmf(job, data_dir, device):
        if job.reducer == "nmf":  # as a task whose worker is killed (KilledWorker) raises from result()
            raise RuntimeError("worker lost")
        return real(job, data_dir, device)

    monkeypatch.setattr(executors, "_run_keyed", dies_on_nmf)  # in-process workers see the patch
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        # A client alone selects the dask executor; the job that died is a failed row and the others finish.
        result = run_bench(_config(tmp_path, seeds=[0]), progress=False, report=False, scheduler_client=client)
    frame = result.results
    died = frame[frame["reducer"] == "nmf"]
    assert set(died["status"]) == {"failed"} and died["error"].str.contains("RuntimeError: worker lost").all()
    assert (frame.loc[frame["reducer"] != "nmf", "status"] == "ok").all()
    monkeypatch.setattr(executors, "WORKER_TIMEOUT", 1)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with pytest.raises(InvalidInputError, match="has no workers"):
            run_bench(_config(tmp_path, "empty", seeds=[0]), progress=False, report=False, scheduler_client=client)
    with pytest.raises(InvalidInputError, match="cannot reach the Dask scheduler at 'garbage'"):
        run_bench(_config(tmp_path, "bad", seeds=[0], scheduler="garbage"), progress=False, report=False)


# ---------------------------------------------------------------- report and CLI
def test_report_marks_the_best_and_draws_heatmaps(finished_run):
    _config_, result = finished_run
    report = (result.out / "report.md").read_text()
    assert "## Best DRAMA configuration vs the baselines" in report and "average rank" in report
    best = result.results.loc[result.results["auc"].idxmax()]
    assert f"**{best['auc']:.3f}**" in report
    assert (result.out / "figures" / "heatmap-synthetic-newclass-100.png").stat().st_size > 5000
    html = (result.out / "report.html").read_text()
    assert "<table>" in html and "best" in html and "figures/comparison.png" in html


def test_report_orders_numbers_in_names_by_value_and_counts_in_words(tmp_path):
    from drama2.bench import report, summary

    assert sorted(["lof[n_neighbors=35]", "lof[n_neighbors=5]", "lof[n_neighbors=10]", "ensemble+10lab",
                   "ensemble+1lab"], key=summary.natural_key) == [
        "ensemble+1lab", "ensemble+10lab", "lof[n_neighbors=5]", "lof[n_neighbors=10]", "lof[n_neighbors=35]"]
    result = run_bench(_config(tmp_path, datasets=["synthetic-newclass-100"], reducers=["pca"], metrics=["l2"],
                               scorers=["lof[n_neighbors=[35, 5, 10]]"], seeds=[0]), progress=False)
    text = (result.out / "report.md").read_text()
    assert "1 dataset, 4 fits" in text and "DRAMA settings: Drama's defaults." in text
    faithful = run_bench(_config(tmp_path, "faithful", datasets=["synthetic-newclass-100"], reducers=["pca"],
                                 metrics=["l2"], scorers=[], seeds=[0],
                                 drama={"scaling": "global", "min_leaf_size": 2}), progress=False)
    assert "DRAMA settings: min_leaf_size=2, scaling='global'." in (faithful.out / "report.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| dataset | best DRAMA"))
    assert header.index("n_neighbors=5]") < header.index("n_neighbors=10]") < header.index("n_neighbors=35]")
    grid = summary.heatmap(summary.pipeline_means(result.results), "synthetic-newclass-100")
    assert grid.attrs["split_level"] == 1  # named in the heatmap's title
    written = (result.out / "results.csv").read_text().splitlines()
    level = written[0].split(",").index("split_level")
    assert {line.split(",")[level] for line in written[1:]} == {"1", ""}  # never 1.0
    # Ties are judged as printed: two AUCs that read the same are both bold.
    cells = report._best_cells([["a", 0.91234], ["b", 0.9124]], [1])
    assert cells == {(0, 1), (1, 1)}


def test_cli_bench_then_report(tmp_path, monkeypatch):
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["bench", "--datasets", "synthetic-newclass-100", "--reducers", "pca", "--metrics", "l2,l1",
            "--scorers", "drama[reducer=ica]", "--out", str(out), "--no-progress"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "best DRAMA" in first.output and "drama[reducer=ica]" in first.output
    (out / "report.md").unlink()
    rebuilt = runner.invoke(cli, ["report", str(out)])
    assert rebuilt.exit_code == 0 and (out / "report.md").is_file()
    missing = runner.invoke(cli, ["report", str(tmp_path)])
    assert missing.exit_code != 0 and "not a bench run directory" in str(missing.exception)

    # Scorers chosen alone run alone: the default DRAMA grid is not added beside them.
    alone = runner.invoke(cli, ["bench", "--datasets", "synthetic-newclass-100", "--scorers", "iforest", "--out",
                                str(tmp_path / "alone"), "--no-progress"])
    assert alone.exit_code == 0, alone.output
    assert "best DRAMA" not in alone.output and "1 fits" in alone.output


def test_the_embedded_default_needs_no_download(monkeypatch, tmp_path):
    from drama2.bench.config import DEFAULT_SIMULATIONS, default_datasets

    monkeypatch.setenv("DRAMA2_DATA", str(tmp_path))
    monkeypatch.setenv("DRAMA2_CACHE", str(tmp_path))
    assert default_datasets() == list(DEFAULT_SIMULATIONS)
    assert np.all([name.startswith("synthetic-") for name in default_datasets()])


def test_an_unreachable_dask_scheduler_is_one_clear_error():
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from drama2.bench.executors import run_dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(InvalidInputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
            next(run_dask([], scheduler="tcp://127.0.0.1:9"))


def test_a_reducer_carries_its_own_parameters_and_list_values_sweep(tmp_path, torch_one_thread):
    from drama2 import Drama, evaluation, load_dataset

    config = _config(tmp_path, reducers=["pca", "ae[max_epochs=[1, 2]]"], metrics=["l2"], scorers=[], seeds=[0])
    assert config.reducers == ["pca", "ae[max_epochs=1]", "ae[max_epochs=2]"]
    frame = run_bench(config, progress=False, report=False).results.set_index("pipeline")
    assert (frame["status"] == "ok").all() and len(frame) == 3
    row = frame.loc["drama-ae[max_epochs=2]-l2-s1"]
    ds = load_dataset("synthetic-newclass-100")
    model = Drama(reducer="ae", reducer_params={"max_epochs": 2}, random_state=int(row["random_state"])).fit(ds.X)
    assert row["auc"] == pytest.approx(evaluation.auc(ds.y, model.score_samples(ds.X)), abs=1e-12)
    with pytest.raises(InvalidInputError, match="reducer 'ae' takes no parameter 'max_epoch' \\(did you mean"):
        run_bench(_config(tmp_path, "typo", reducers=["ae[max_epoch=2]"], scorers=[]), progress=False)


def test_a_plugin_upgrade_changes_its_jobs_keys_and_nothing_else(monkeypatch):
    import drama2
    import drama2.registry
    from drama2.bench.jobs import Job
    from drama2.registry import Registry

    class ScorerPlugin:
        @drama2.hookimpl
        def register_scorers(self, register):
            register("centre-distance", "drama2.scorers.baselines:KNN")

    registry = Registry(load_entry_points=False, plugins=[("mine", ScorerPlugin())])
    monkeypatch.setattr(drama2.registry, "get_registry", lambda: registry)
    info = {p.name: p for p in registry.plugins()}["mine"]
    plugin_job = Job(dataset="wbc", protocol="transductive", seed=0, kind="scorer", scorer="centre-distance")
    builtin_job = Job(dataset="wbc", protocol="transductive", seed=0, kind="drama", reducer="pca", split_level=1,
                      metrics=("l2",))
    seen = []
    for version in ("0.1.0", "0.2.0"):
        info.version = version
        seen.append((plugin_job.key, plugin_job.random_state, builtin_job.key))
    assert seen[0][0] != seen[1][0]  # resuming after the upgrade refits the plugin's jobs
    assert seen[0][1] == seen[1][1] and seen[0][2] == seen[1][2]  # same seed; built-in jobs keep their keys
    assert plugin_job.identity()["plugins"] == {"mine": "0.2.0"} and "plugins" not in builtin_job.identity()


def test_a_run_directory_in_use_is_refused_and_a_stale_lock_taken_over(tmp_path):
    import os
    import socket

    from drama2 import InvalidInputError
    from drama2.bench.store import RunLock

    out = tmp_path / "run"
    config = BenchConfig(datasets=["synthetic-local-100"], reducers=["pca"], metrics=["l2"], scorers=[],
                         out=str(out))
    with RunLock(out):  # another bench holds the directory
        with pytest.raises(InvalidInputError, match="in use by another drama2 bench"):
            run_bench(config, progress=False, report=False)
    assert not (out / ".lock").exists()
    # A lock left by a process that is gone (killed with SIGKILL) does not block the next run.
    (out / ".lock").write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": socket.gethostname()}))
    result = run_bench(config, progress=False, report=False)
    assert result.n_jobs == 1 and not (out / ".lock").exists()
    assert os.path.exists(out / "results.csv")


class _ThreeScores:
    """A broken plugin scorer: three scores whatever it is asked."""

    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        return np.zeros(3)


def test_a_scorer_with_the_wrong_number_of_scores_fails_its_job_with_its_name(tmp_path, monkeypatch):
    import drama2
    import drama2.registry
    from drama2.registry import Registry

    class Plugin:
        @drama2.hookimpl
        def register_scorers(self, register):
            register("three-scores", _ThreeScores)

    registry = Registry(load_entry_points=False, plugins=[("mine", Plugin())])
    monkeypatch.setattr(drama2.registry, "get_registry", lambda: registry)
    config = BenchConfig(datasets=["synthetic-local-100"], reducers=[], metrics=["l2"], scorers=["three-scores"],
                         out=str(tmp_path / "run"))
    row = run_bench(config, progress=False, report=False).results.iloc[0]
    assert row["status"] == "failed"
    assert "three-scores returned scores of shape (3,) for" in row["error"]


def test_a_list_valued_reducer_parameter_reaches_the_reducer(tmp_path):
    from drama2.bench.config import parse_reducer

    config = BenchConfig(datasets=["synthetic-local-100"], reducers=["ae[hidden_sizes=[[16, 4]], max_epochs=2]",
                                                                    "ae[max_epochs=[2, 3]]"],
                         metrics=["l2"], scorers=[], out=str(tmp_path / "run"))
    assert [dict(parse_reducer(r).params) for r in config.reducers] == [
        {"hidden_sizes": [16, 4], "max_epochs": 2}, {"max_epochs": 2}, {"max_epochs": 3}]
    results = run_bench(config, progress=False, report=False).results
    assert (results["status"] == "ok").all(), results[["pipeline", "error"]]


def test_means_and_ranks_compare_columns_on_the_same_datasets():
    from drama2.bench import summary

    # "+7lab" is skipped on glass (too few anomalies); glass is the hard set, so a mean over the other two
    # alone would flatter it.
    table = pd.DataFrame({"ensemble": [0.93, 0.66, 0.94], "ensemble+7lab": [0.95, np.nan, 1.0]},
                         index=pd.Index(["wbc", "glass", "wine"], name="dataset"))
    stats = summary.mean_and_rank(table)
    assert summary.incomplete_datasets(table) == ["glass"]
    assert stats.loc["ensemble", "mean"] == pytest.approx((0.93 + 0.94) / 2)
    assert stats["datasets"].tolist() == [2, 2] and stats.loc["ensemble", "average rank"] == 2.0


def test_an_archived_run_directory_with_gzipped_results_reads_back(finished_run, tmp_path):
    import gzip
    import shutil

    from drama2.bench.store import RunStore

    _config_, result = finished_run
    archived = tmp_path / "archived"
    archived.mkdir()
    with open(result.out / "results.csv", "rb") as plain, gzip.open(archived / "results.csv.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    pd.testing.assert_frame_equal(RunStore(archived).read_results(), RunStore(result.out).read_results())


def test_run_directory_files_are_readable_like_any_other_file(finished_run):
    # Results are written through temporary files; they must not stay owner-only (0600) when renamed into place.
    import os

    _config_, result = finished_run
    umask = os.umask(0)
    os.umask(umask)
    for name in ("results.csv", "manifest.json"):
        assert (result.out / name).stat().st_mode & 0o777 == 0o666 & ~umask
