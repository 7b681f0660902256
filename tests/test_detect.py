"""``drama2 detect``: a catalogue in, a ranked and explained list out, streamed in chunks."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import drama2
from drama2.cli import main
from drama2.detect import detect
from drama2.scorers.baselines import IForest

FEATURES = ["g", "r", "i", "z"]
PLANTED = 17  # row with an extreme value in "i"
DRAMA = "drama[reducer=pca, metric=l2]"


@pytest.fixture(scope="module")
def catalogue():
    rng = np.random.default_rng(3)
    n = 600
    X = rng.normal(size=(n, len(FEATURES)))
    X[: n // 2, :2] += 4.0
    X[PLANTED, 2] += 15.0
    frame = pd.DataFrame(X, columns=FEATURES)
    frame.insert(0, "objid", [f"ZTF{i:07d}" for i in range(n)])
    frame["kind"] = "star"  # a text column that is not a feature
    return frame


@pytest.fixture
def files(catalogue, tmp_path):
    csv, parquet = tmp_path / "cat.csv", tmp_path / "cat.parquet"
    catalogue.to_csv(csv, index=False)
    pq.write_table(pa.Table.from_pandas(catalogue, preserve_index=False), parquet, row_group_size=128)
    return {"csv": csv, "parquet": parquet}


def _run(src, out, **kw):
    kw.setdefault("columns", FEATURES)
    kw.setdefault("id_column", "objid")
    kw.setdefault("detector", DRAMA)
    return detect(src, out, **kw)


def test_csv_end_to_end_ranks_and_explains(files, tmp_path, catalogue):
    result = _run(files["csv"], tmp_path / "ranked.csv", figure=tmp_path / "top.png")
    out = pd.read_csv(tmp_path / "ranked.csv")
    assert list(out.columns) == ["objid", "score", "rank", "prototype", "top_feature_1", "top_contribution_1",
                                 "top_feature_2", "top_contribution_2", "top_feature_3", "top_contribution_3"]
    assert len(out) == result.n_written == result.n_rows == len(catalogue)
    assert out["rank"].tolist() == list(range(1, len(out) + 1))
    assert (np.diff(out["score"]) <= 0).all()
    assert sorted(out["objid"]) == sorted(catalogue["objid"])
    top = out.iloc[0]
    assert top["objid"] == f"ZTF{PLANTED:07d}" and top["top_feature_1"] == "i"
    model = result.model
    assert result.explanation == "drama:l2" and isinstance(model, drama2.Drama)
    # The scores are the model's, and the explanation columns match drama2.explain.
    by_id = out.set_index("objid").loc[catalogue["objid"]]
    np.testing.assert_allclose(by_id["score"], model.score_samples(catalogue[FEATURES].to_numpy()), rtol=1e-12)
    ex = drama2.explain(model, catalogue[FEATURES])
    np.testing.assert_array_equal(by_id["prototype"], ex.nearest)
    np.testing.assert_allclose(by_id["top_contribution_1"], ex.top_features(1)[1][:, 0], rtol=1e-12)
    assert (tmp_path / "top.png").read_bytes()[:4] == b"\x89PNG" and result.figure == tmp_path / "top.png"


def test_parquet_in_parquet_out_matches_csv(files, tmp_path):
    _run(files["csv"], tmp_path / "a.csv")
    _run(files["parquet"], tmp_path / "b.parquet")
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_parquet(tmp_path / "b.parquet")
    assert a["objid"].tolist() == b["objid"].tolist()
    # Equal on the CPU; on a GPU other chunk sizes can pick other matmul kernels (last-bit differences).
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-12, atol=0)
    assert a["top_feature_2"].tolist() == b["top_feature_2"].astype(str).tolist()


def test_chunked_scoring_equals_unchunked(files, tmp_path):
    # fit_rows < n exercises the sampling reservoir; tiny chunks and buckets exercise the streaming paths.
    whole = _run(files["parquet"], tmp_path / "whole.parquet", fit_rows=400)
    parts = _run(files["parquet"], tmp_path / "parts.parquet", fit_rows=400, chunk_rows=7, bucket_rows=50)
    assert whole.n_fit_rows == parts.n_fit_rows == 400
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole.parquet"),
                                  pd.read_parquet(tmp_path / "parts.parquet"))
    csv = _run(files["csv"], tmp_path / "parts.csv", fit_rows=400, chunk_rows=11, bucket_rows=64)
    assert csv.n_fit_rows == 400
    np.testing.assert_allclose(pd.read_csv(tmp_path / "parts.csv")["score"],
                               pd.read_parquet(tmp_path / "whole.parquet")["score"], rtol=1e-12, atol=0)
    # A top larger than a bucket (every row routed to buckets, the rest dropped after sorting), explaining
    # only the first ranks: the same rows, ranks and explanations as with everything in memory.
    args = dict(fit_rows=400, top=120, explain_rows=30, figure=tmp_path / "top.png")
    small = pd.read_parquet(_run(files["parquet"], tmp_path / "t1.parquet", **args).out)
    spread = pd.read_parquet(_run(files["parquet"], tmp_path / "t2.parquet", chunk_rows=7, bucket_rows=50,
                                  **args).out)
    pd.testing.assert_frame_equal(small, spread)
    assert small["rank"].tolist() == list(range(1, 121))
    assert small["top_feature_1"].notna().sum() == 30 and small["top_feature_1"].head(30).notna().all()
    full = pd.read_parquet(tmp_path / "whole.parquet")
    np.testing.assert_array_equal(small["score"], full["score"].head(120))
    # The same with every output row explained (the default for DRAMA models).
    args.pop("explain_rows")
    small = pd.read_parquet(_run(files["parquet"], tmp_path / "t3.parquet", **args).out)
    spread = pd.read_parquet(_run(files["parquet"], tmp_path / "t4.parquet", chunk_rows=7, bucket_rows=50,
                                  **args).out)
    pd.testing.assert_frame_equal(small, spread)
    assert small["top_feature_1"].notna().all()


def test_top_and_id_column_through_the_cli(files, tmp_path):
    out = tmp_path / "top.parquet"
    main(["detect", str(files["parquet"]), "--out", str(out), "--columns", ",".join(FEATURES), "--id-column", "objid",
          "--detector", DRAMA, "--top", "5", "--chunk-rows", "50", "--no-progress"])
    top = pd.read_parquet(out)
    assert top["rank"].tolist() == [1, 2, 3, 4, 5] and top["objid"].iloc[0] == f"ZTF{PLANTED:07d}"
    full = pd.read_parquet(_run(files["parquet"], tmp_path / "full.parquet").out)
    pd.testing.assert_frame_equal(top, full.head(5))


def test_row_numbers_stand_in_for_a_missing_id_column(files, tmp_path):
    out = pd.read_csv(_run(files["csv"], tmp_path / "r.csv", id_column=None, top=3, explain=False).out)
    assert list(out.columns) == ["row", "score", "rank", "prototype"]
    assert out["row"].iloc[0] == PLANTED


def test_saved_model_round_trip_equals_direct_scoring(files, tmp_path, catalogue):
    X = catalogue[FEATURES].to_numpy()
    model = drama2.Drama(reducer="pca", metric="mahalanobis", random_state=1).fit(X[::2])
    path = model.save(tmp_path / "m.drama2")
    main(["detect", str(files["parquet"]), "--out", str(tmp_path / "o.parquet"), "--model", str(path),
          "--columns", ",".join(FEATURES), "--id-column", "objid", "--no-progress"])
    out = pd.read_parquet(tmp_path / "o.parquet").set_index("objid").loc[catalogue["objid"]]
    np.testing.assert_array_equal(out["score"].to_numpy(), model.score_samples(X))
    np.testing.assert_array_equal(out["prototype"].to_numpy(), model.nearest_leaf(X))


def test_save_model_records_the_feature_columns(files, tmp_path):
    first = _run(files["csv"], tmp_path / "a.parquet", save_model=tmp_path / "fitted.drama2")
    loaded = drama2.load(tmp_path / "fitted.drama2")
    assert list(loaded.feature_names_in_) == FEATURES
    again = detect(files["csv"], tmp_path / "b.parquet", model=tmp_path / "fitted.drama2", id_column="objid")
    assert again.features == FEATURES and not again.fitted  # the model's columns, without --columns
    pd.testing.assert_frame_equal(pd.read_parquet(first.out), pd.read_parquet(again.out))


def test_fallback_explanations_for_other_detectors(files, tmp_path):
    result = _run(files["parquet"], tmp_path / "if.parquet", detector="iforest", explain_rows=10)
    out = pd.read_parquet(result.out)
    assert result.explanation == "replacement" and "prototype" not in out.columns
    assert out["top_feature_1"].iloc[:10].notna().all() and out["top_feature_1"].iloc[10:].isna().all()
    assert out["top_contribution_1"].iloc[10:].isna().all()
    row = out.set_index("objid").loc[f"ZTF{PLANTED:07d}"]
    if row["rank"] <= 10:
        assert row["top_feature_1"] == "i"


def test_default_ensemble_from_the_cli(files, tmp_path, capsys):
    out = tmp_path / "ens.csv"
    main(["detect", str(files["csv"]), "--out", str(out), "--id-column", "objid", "--columns", ",".join(FEATURES),
          "--top", "20", "--no-progress"])
    ranked = pd.read_csv(out)
    assert len(ranked) == 20 and ranked["top_feature_1"].notna().all()
    assert f"ZTF{PLANTED:07d}" in set(ranked["objid"].head(5))
    captured = capsys.readouterr()
    assert captured.out == "" and "Ensemble" in captured.err


def test_npz_and_fits_inputs(catalogue, tmp_path):
    X = catalogue[FEATURES].to_numpy()
    np.savez(tmp_path / "cat.npz", X=X, feature_names=np.array(FEATURES))
    from_npz = pd.read_csv(detect(tmp_path / "cat.npz", tmp_path / "npz.csv", detector=DRAMA).out)
    assert from_npz["row"].iloc[0] == PLANTED
    pytest.importorskip("astropy")
    from astropy.table import Table

    Table.from_pandas(catalogue.drop(columns="kind")).write(tmp_path / "cat.fits")
    from_fits = pd.read_csv(detect(tmp_path / "cat.fits", tmp_path / "fits.csv", detector=DRAMA, id_column="objid").out)
    np.testing.assert_allclose(from_fits["score"], from_npz["score"], rtol=1e-12)


# ------------------------------------------------------------------ errors
def _error(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(["detect", *map(str, args), "--no-progress"])
    assert info.value.code == 2
    return capsys.readouterr().err


def test_missing_columns_are_named_with_the_available_ones(files, tmp_path, capsys):
    err = _error(capsys, files["csv"], "--out", tmp_path / "x.csv", "--columns", "g,r,u", "--detector", DRAMA)
    assert "['u']" in err and "objid, g, r, i, z, kind" in err
    assert not (tmp_path / "x.csv").exists()


def test_rows_the_model_was_fitted_on_keep_its_training_scores(files, tmp_path, catalogue):
    # kNN counts a row scored again as new data as its own nearest neighbour; its training scores do not.
    result = _run(files["csv"], tmp_path / "knn.csv", detector="knn[n_neighbors=5]", explain=False)
    out = pd.read_csv(result.out).set_index("objid").loc[catalogue["objid"]]
    np.testing.assert_allclose(out["score"], result.model.decision_scores_, rtol=1e-12)
    assert not np.allclose(out["score"], result.model.score_samples(catalogue[FEATURES].to_numpy()))
    # Fitted on a sample: the sampled rows score as in the fit, the others as new data.
    sampled = _run(files["csv"], tmp_path / "half.csv", detector="knn[n_neighbors=5]", explain=False, fit_rows=300)
    scores = pd.read_csv(sampled.out).set_index("objid").loc[catalogue["objid"], "score"].to_numpy()
    as_new = sampled.model.score_samples(catalogue[FEATURES].to_numpy())
    kept = ~np.isclose(scores, as_new, rtol=1e-12)
    assert kept.sum() == 300
    np.testing.assert_allclose(np.sort(scores[kept]), np.sort(sampled.model.decision_scores_), rtol=1e-12)


class PluginForest(IForest):
    """Stands for a plugin's scorer: a class from a package that is not drama2."""


def test_a_plugin_scorer_is_saved_and_loaded_with_trusted(files, tmp_path):
    package = PluginForest.__module__.split(".")[0]
    with pytest.raises(drama2.InvalidInputError, match="trusted"):
        _run(files["csv"], tmp_path / "a.csv", detector=PluginForest(random_state=0), save_model=tmp_path / "m1")
    fitted = _run(files["csv"], tmp_path / "b.csv", detector=PluginForest(random_state=0),
                  save_model=tmp_path / "m.drama2", trusted=[package])
    again = detect(files["csv"], tmp_path / "c.csv", model=tmp_path / "m.drama2", id_column="objid",
                   trusted=[package])
    assert isinstance(again.model, PluginForest)
    pd.testing.assert_frame_equal(pd.read_csv(fitted.out), pd.read_csv(again.out))


def test_a_saved_model_refuses_its_columns_in_another_order_and_takes_renamed_ones(files, tmp_path, capsys):
    model = tmp_path / "m.drama2"
    _run(files["csv"], tmp_path / "fit.csv", save_model=model)
    err = _error(capsys, files["csv"], "--out", tmp_path / "x.csv", "--model", model, "--id-column", "objid",
                 "--columns", ",".join(reversed(FEATURES)))
    assert "in another order" in err and "g, r, i, z" in err
    same = detect(files["csv"], tmp_path / "same.csv", model=model, id_column="objid", columns=FEATURES)
    assert same.features == FEATURES
    # The same quantities under other names (another survey's headers) are used by position, with a warning.
    renamed = pd.read_csv(files["csv"]).rename(columns={c: c.upper() for c in FEATURES})
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    with pytest.warns(UserWarning, match="used in their place, by position"):
        other = detect(tmp_path / "renamed.csv", tmp_path / "renamed-out.csv", model=model, id_column="objid",
                       columns=[c.upper() for c in FEATURES])
    pd.testing.assert_series_equal(pd.read_csv(other.out)["score"], pd.read_csv(same.out)["score"])


def test_excluded_columns_leave_the_default_features(catalogue, tmp_path, capsys):
    frame = catalogue.drop(columns="kind").assign(label=0, ra=np.linspace(0, 360, len(catalogue)))
    frame.loc[PLANTED, "label"] = 1  # a label column would otherwise become a feature, and a strong one
    frame.to_csv(tmp_path / "cat.csv", index=False)
    result = detect(tmp_path / "cat.csv", tmp_path / "out.csv", id_column="objid", exclude_columns=["label", "ra"],
                    detector=DRAMA)
    assert result.features == FEATURES
    by_columns = detect(tmp_path / "cat.csv", tmp_path / "cols.csv", id_column="objid", columns=FEATURES,
                        detector=DRAMA)
    pd.testing.assert_frame_equal(pd.read_csv(result.out), pd.read_csv(by_columns.out))
    err = _error(capsys, tmp_path / "cat.csv", "--out", tmp_path / "x.csv", "--exclude-columns", "lable")
    assert "['lable']" in err
    err = _error(capsys, tmp_path / "cat.csv", "--out", tmp_path / "x.csv", "--exclude-columns", "label",
                 "--columns", "g,r")
    assert "not both" in err


def test_non_numeric_columns_are_named(files, tmp_path, capsys):
    err = _error(capsys, files["parquet"], "--out", tmp_path / "x.csv", "--id-column", "objid")
    assert "['kind']" in err and "--columns" in err


def test_missing_values_are_counted_and_can_be_dropped(catalogue, tmp_path, capsys):
    frame = catalogue.copy()
    frame.loc[[3, 50, 51], "r"] = np.nan
    frame.loc[50, "z"] = np.inf
    frame.to_csv(tmp_path / "nan.csv", index=False)
    common = ["--out", tmp_path / "x.parquet", "--columns", ",".join(FEATURES), "--id-column", "objid", "--detector",
              DRAMA]
    err = _error(capsys, tmp_path / "nan.csv", *common)
    assert "3 of 600 rows" in err and "'r': 3" in err and "'z': 1" in err and "--drop-nan" in err
    err = _error(capsys, tmp_path / "nan.csv", *common[:-2], "--model", _saved_model(catalogue, tmp_path))
    assert "3 of 600 rows" in err  # counted by the scoring pass as well
    result = detect(tmp_path / "nan.csv", tmp_path / "x.parquet", columns=FEATURES, id_column="objid", detector=DRAMA,
                    drop_nan=True)
    out = pd.read_parquet(result.out)
    assert (result.n_dropped, result.n_scored, len(out)) == (3, 597, 597)
    assert not {"ZTF0000003", "ZTF0000050", "ZTF0000051"} & set(out["objid"])


def _saved_model(catalogue, tmp_path):
    model = drama2.Drama(reducer="pca", random_state=0).fit(catalogue[FEATURES].to_numpy())
    return model.save(tmp_path / "m4.drama2")


def test_a_model_with_another_feature_count_is_refused(files, catalogue, tmp_path, capsys):
    path = _saved_model(catalogue, tmp_path)
    err = _error(capsys, files["csv"], "--out", tmp_path / "x.csv", "--model", path, "--columns", "g,r,i")
    assert "fitted on 4 features" in err and "3 columns are selected" in err


def test_a_failure_while_writing_leaves_no_file(files, tmp_path, monkeypatch):
    import drama2.detect as module

    calls = []
    real = module._output_table

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_output_table", failing)
    (tmp_path / "keep.csv").write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        _run(files["parquet"], tmp_path / "keep.csv", chunk_rows=50, bucket_rows=100)
    assert (tmp_path / "keep.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.csv", "cat.parquet", "keep.csv"]


def test_bad_requests(files, tmp_path):
    with pytest.raises(drama2.InvalidInputError, match="CSV or Parquet"):
        detect(files["csv"], tmp_path / "out.json")
    with pytest.raises(drama2.InvalidInputError, match="grid"):
        detect(files["csv"], tmp_path / "o.csv", columns=FEATURES, detector="lof[n_neighbors=[5, 10]]")
    with pytest.raises(drama2.InvalidInputError, match="not both"):
        detect(files["csv"], tmp_path / "o.csv", detector="iforest", model=tmp_path / "m.drama2")
    with pytest.raises(drama2.InvalidInputError, match="overwrite the input"):
        detect(files["csv"], files["csv"])
    with pytest.raises(drama2.InvalidInputError, match="directory .*nodir does not exist"):
        detect(files["csv"], tmp_path / "o.csv", detector=DRAMA, figure=tmp_path / "nodir" / "f.png")
    with pytest.raises(drama2.InvalidInputError, match=r"\.png, \.pdf, \.svg"):
        detect(files["csv"], tmp_path / "o.csv", detector=DRAMA, figure=tmp_path / "f.jpg")
    with pytest.raises(drama2.InvalidInputError, match="directory .*nodir does not exist"):
        detect(files["csv"], tmp_path / "o.csv", detector=DRAMA, save_model=tmp_path / "nodir" / "m.drama2")
    assert not (tmp_path / "o.csv").exists()  # each stopped before writing anything


def _stream_ranking(scores, limit, bucket_rows, tmp_path, chunk=2, track=0):
    """Stream ``scores`` through the ranking pieces as ``detect`` does: {file position: rank} of the output,
    and {file position: whether rank <= track} for the output rows."""
    import pyarrow as pa

    from drama2.ranking import POSITION_COLUMN, KeySample, RankBuckets, Ranking, TopKeys

    top_keys = TopKeys(max(track, limit or 0))
    sample = KeySample(1000, np.random.default_rng(0))
    for a in range(0, scores.size, chunk):
        part = scores[a:a + chunk]
        valid = np.flatnonzero(~np.isnan(part))
        top_keys.add(-part[valid], a + valid)
        sample.add(-part[valid], a + valid)
    top_keys.finish()
    ranking = Ranking(int((~np.isnan(scores)).sum()), limit, top_keys, sample, bucket_rows)
    buckets = RankBuckets(ranking.n_buckets, lambda: tmp_path)
    within = {}
    for a in range(0, scores.size, chunk):
        part = scores[a:a + chunk]
        bucket = ranking.route(a, part)
        where = np.flatnonzero(bucket >= 0)
        positions = a + where
        if track:
            within.update(zip(positions.tolist(), ranking.within(track, positions, part[where]).tolist()))
        if where.size:
            table = pa.table({"row": positions, "score": part[where], POSITION_COLUMN: positions})
            buckets.write(table, bucket[where])
    ranks, previous = {}, 0
    for table in buckets.sorted_tables(ranking.n_out):
        assert table.column_names == ["row", "score", "rank"]
        rank = table.column("rank").to_numpy()
        assert rank[0] == previous + 1 and np.all(np.diff(rank) == 1)  # bucket after bucket, in rank order
        previous = rank[-1]
        ranks.update(zip(table.column("row").to_pylist(), rank.tolist()))
    assert not list(tmp_path.glob("bucket-*"))  # each bucket file is removed once read
    return ranking, ranks, within


@pytest.mark.parametrize("bucket_rows", [1, 2, 3, 100])
def test_ranking_breaks_ties_in_file_order_and_skips_dropped_rows(bucket_rows, tmp_path):
    scores = np.array([0.5, 2.0, np.nan, 2.0, 0.5, np.inf, 0.5, np.nan, 1.0, -np.inf])
    expected = {5: 1, 1: 2, 3: 3, 8: 4, 0: 5, 4: 6, 6: 7, 9: 8}  # file position → rank; +inf first
    for limit in (None, 100, 7, 5, 1):
        for track in (0, 1, 3, 6):
            _, ranks, within = _stream_ranking(scores, limit, bucket_rows, tmp_path, track=track)
            want = {p: r for p, r in expected.items() if limit is None or r <= limit}
            assert ranks == want
            assert sorted(within) == sorted(want) if track else not within  # only output rows are routed
            if track:
                assert within == {p: r <= track for p, r in want.items()}


def test_ranking_in_buckets_matches_a_stable_argsort(tmp_path):
    # Many ties (a few distinct scores) and NaN, more buckets than distinct scores: the bucket boundaries
    # must split runs of equal scores by file position.
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 5000).astype(float)
    scores[rng.random(5000) < 0.05] = np.nan
    valid = np.flatnonzero(np.isfinite(scores))
    order = valid[np.argsort(-scores[valid], kind="stable")]
    reference = {int(p): r for r, p in enumerate(order, start=1)}
    for limit, bucket_rows in ((None, 97), (3000, 400), (40, 97)):
        ranking, ranks, within = _stream_ranking(scores, limit, bucket_rows, tmp_path, chunk=333, track=25)
        assert ranking.n_buckets == -(-(limit or valid.size) // bucket_rows)
        assert ranks == {p: r for p, r in reference.items() if limit is None or r <= limit}
        assert within == {p: r <= 25 for p, r in ranks.items()}
    assert ranking.top_ranks(order[[4, 0, 2]]).tolist() == [5, 1, 3]


def test_score_spool_reads_back_what_was_appended(tmp_path):
    from drama2.ranking import ScoreSpool

    values = np.random.default_rng(0).normal(size=1000)
    values[::7] = np.nan
    for memory_rows in (10_000, 100):
        spool = ScoreSpool(lambda: tmp_path, memory_rows)
        for a in range(0, values.size, 64):
            spool.append(values[a:a + 64])
        spool.close()
        assert (spool.path is not None) == (memory_rows < values.size)  # spilled to the file when too many
        assert spool.n == values.size and spool.n_valid == int(np.isfinite(values).sum())
        for a, b in ((0, 1000), (10, 75), (990, 1000), (999, 1005)):
            np.testing.assert_array_equal(spool.read(a, b), values[a:b])


def test_a_stray_text_cell_in_a_numeric_column_is_reported_with_its_row(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(1500), "a": rng.normal(size=1500), "b": rng.normal(size=1500)})
    frame["a"] = frame["a"].astype(object)
    for row in (1200, 1207):  # past the rows read to guess the column types: found while streaming
        frame.loc[row, "a"] = "n/a?"
    path = tmp_path / "cat.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(drama2.InvalidInputError, match=r"column 'a' holds 2 non-numeric cell\(s\): row 1200 'n/a\?', "
                                                       r"row 1207 'n/a\?'"):
        detect(path, tmp_path / "out.csv", id_column="id", detector="iforest", chunk_rows=1000)
    frame["b"] = frame["b"].astype(object)
    frame.loc[3, "b"] = "x"  # within the first rows: found before any pass
    frame.to_csv(path, index=False)
    with pytest.raises(drama2.InvalidInputError, match=r"column 'b' holds 1 non-numeric cell\(s\): row 3 'x'"):
        detect(path, tmp_path / "out.csv", id_column="id", detector="iforest")
    assert not (tmp_path / "out.csv").exists()


class _ScoreIsFirstFeature:
    """A fitted detector whose score is the first feature (for checking ranking edge cases)."""

    n_features_in_ = 2

    def __init__(self):
        self.calls = 0

    def score_samples(self, X):
        self.calls += len(X)
        return np.asarray(X, dtype=float)[:, 0].copy()  # drama2's contract: higher = more anomalous

    def fit(self, X):
        return self


def test_infinite_scores_rank_first_and_last(tmp_path):
    # The detector computes infinite scores from finite features.
    pd.DataFrame({"s": [1.0, -1e308, 3.0, 1e308, 2.0], "t": 0.0}).to_csv(tmp_path / "c.csv", index=False)

    class Overflowing(_ScoreIsFirstFeature):
        def score_samples(self, X):
            return super().score_samples(X) * 10.0  # ±1e309 overflows to ∓inf

    with np.errstate(over="ignore"):
        result = detect(tmp_path / "c.csv", tmp_path / "o.csv", model=Overflowing(), explain=False)
    out = pd.read_csv(result.out)
    assert result.n_dropped == 0 and out["row"].tolist() == [3, 2, 4, 0, 1]
    assert out["score"].iloc[0] == np.inf and out["score"].iloc[-1] == -np.inf


def test_a_large_top_explains_only_its_rows(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)}).to_csv(tmp_path / "c.csv", index=False)
    costs = {}
    for bucket_rows in (2, 100):
        model = _ScoreIsFirstFeature()
        detect(tmp_path / "c.csv", tmp_path / f"o{bucket_rows}.csv", model=model, top=5, explain_rows=10,
               bucket_rows=bucket_rows, chunk_rows=64)
        costs[bucket_rows] = model.calls
    # Scoring every row once, then d + 1 = 3 scorings for each of the 5 output rows, however the buckets fall.
    assert costs == {2: 1000 + 15, 100: 1000 + 15}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o2.csv"), pd.read_csv(tmp_path / "o100.csv"))


def test_a_failing_figure_leaves_no_output(files, tmp_path, monkeypatch):
    import drama2.detect as detect_module

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(detect_module, "_figure", broken)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="drawing failed"):
        _run(files["csv"], out / "o.csv", figure=out / "f.png", bucket_rows=50)
    assert not list(out.iterdir())  # no ranked list, no temporary files


def test_tagged_sample_keeps_the_smallest_tags_whatever_the_chunks():
    from drama2.sampling import TaggedSample

    tags = np.random.default_rng(1).random(1000)
    values = np.arange(1000)
    expected = set(np.argsort(tags)[:50].tolist())
    for chunk in (1, 7, 1000):
        sample = TaggedSample(50)
        for a in range(0, 1000, chunk):
            sample.add(tags[a:a + chunk], values[a:a + chunk])
        assert set(sample.columns[0].tolist()) == expected


def test_gaia_sized_integer_ids_read_and_warn_when_left_among_the_features(catalogue, tmp_path):
    frame = catalogue.drop(columns=["objid", "kind"])
    frame.insert(0, "source_id", (10 ** 17 + np.arange(len(frame)) * 7919).astype(np.int64))  # beyond 2**53
    path = tmp_path / "gaia.parquet"
    frame.to_parquet(path)
    with pytest.warns(UserWarning, match="source_id look like identifiers but are used as features"):
        detect(path, tmp_path / "all.csv", detector=DRAMA, explain=False)
    result = detect(path, tmp_path / "ids.csv", id_column="source_id", detector=DRAMA, explain=False)
    ranked = pd.read_csv(result.out)
    assert ranked["source_id"].iloc[0] == 10 ** 17 + PLANTED * 7919  # exact, not rounded through float64


def test_explanation_columns_never_outnumber_the_features_or_the_explained_rows(files, tmp_path, catalogue):
    wide = pd.read_csv(_run(files["csv"], tmp_path / "wide.csv", top_features=20).out)
    assert [c for c in wide.columns if c.startswith("top_feature_")] == \
        [f"top_feature_{i}" for i in range(1, len(FEATURES) + 1)]
    none = pd.read_csv(_run(files["csv"], tmp_path / "none.csv", explain_rows=0).out)
    assert list(none.columns) == ["objid", "score", "rank", "prototype"]
    with pytest.raises(drama2.InvalidInputError, match="detect reads a table file"):
        detect(catalogue, tmp_path / "frame.csv")


def test_a_saved_ensemble_scores_its_training_file_the_same_whatever_the_chunk_size(files, catalogue, tmp_path):
    # In one chunk the whole training matrix would get the cached leave-self-out scores, in several chunks
    # new-row scores: a loaded model scores every row as new data.
    X = catalogue[FEATURES].to_numpy()
    model = drama2.Ensemble(members=["knn[n_neighbors=5]", "lof[n_neighbors=10]"], random_state=0).fit(X)
    path = model.save(tmp_path / "ens.drama2")
    whole = detect(files["csv"], tmp_path / "whole.parquet", model=path, columns=FEATURES, id_column="objid",
                   chunk_rows=10_000)
    parts = detect(files["csv"], tmp_path / "parts.parquet", model=path, columns=FEATURES, id_column="objid",
                   chunk_rows=70)
    pd.testing.assert_frame_equal(pd.read_parquet(whole.out), pd.read_parquet(parts.out))
    scored = pd.read_parquet(whole.out).set_index("objid").loc[catalogue["objid"], "score"].to_numpy()
    np.testing.assert_allclose(scored, np.r_[model.score_samples(X[:300]), model.score_samples(X[300:])])


def test_a_header_only_table_says_it_has_no_rows(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("objid,g,r\n")
    err = _error(capsys, tmp_path / "empty.csv", "--out", tmp_path / "x.csv", "--id-column", "objid")
    assert "has columns but no rows" in err and "not numeric" not in err


def test_a_failure_after_save_model_says_the_fit_was_kept(files, tmp_path, capsys, monkeypatch):
    import drama2.detect as module
    from drama2.errors import InvalidInputError

    def failing(*args, **kwargs):
        raise InvalidInputError("cannot write the output")

    monkeypatch.setattr(module, "_output_table", failing)
    err = _error(capsys, files["csv"], "--out", tmp_path / "x.csv", "--id-column", "objid",
                 "--columns", ",".join(FEATURES), "--detector", DRAMA, "--save-model", tmp_path / "m.drama2")
    assert "cannot write the output" in err and f"saved to {tmp_path / 'm.drama2'}" in err
    assert drama2.load(tmp_path / "m.drama2").n_features_in_ == len(FEATURES)
    assert not (tmp_path / "x.csv").exists()


def test_sigterm_runs_cleanup_before_exiting(tmp_path):
    # A batch system's time limit sends SIGTERM: detect's scratch directory must still be removed.
    import subprocess
    import sys

    marker = tmp_path / "cleaned"
    code = ("import os, signal\nfrom drama2.cli import _exit_cleanly_on_sigterm\n_exit_cleanly_on_sigterm()\n"
            f"try:\n    os.kill(os.getpid(), signal.SIGTERM)\n    signal.pause()\nfinally:\n"
            f"    open({str(marker)!r}, 'w').close()\n")
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == 128 + 15 and marker.exists()


def test_a_constant_column_is_named_once_and_cli_warnings_are_one_line(catalogue, tmp_path):
    import subprocess
    import sys

    frame = catalogue.assign(flat=1.0)
    frame.to_csv(tmp_path / "flat.csv", index=False)
    # The default ensemble has a scaler per DRAMA member besides its own: still one warning, by name.
    done = subprocess.run([sys.executable, "-m", "drama2", "detect", str(tmp_path / "flat.csv"), "--out",
                           str(tmp_path / "o.csv"), "--id-column", "objid", "--exclude-columns", "kind", "--top", "3",
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "warning" in line.lower()]
    assert warned == [f"drama2: warning: {tmp_path / 'flat.csv'}: column(s) ['flat'] are constant over the 600 rows "
                      "fitted on, so they carry no information; leave them out with --exclude-columns."]
