"""``drama2 detect``: a catalogue in, a ranked and explained list out, streamed in chunks."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import drama2
from drama2.cli import main
from drama2.detect import detect

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
    np.testing.assert_array_equal(a["score"], b["score"])
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
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "parts.csv")["score"],
                                  pd.read_parquet(tmp_path / "whole.parquet")["score"])


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


def test_ranking_breaks_ties_in_file_order_and_skips_dropped_rows():
    from drama2.ranking import Ranking

    scores = np.array([0.5, 2.0, np.nan, 2.0, 0.5, 3.0, 0.5, np.nan, 1.0])
    expected = {5: 1, 1: 2, 3: 3, 8: 4, 0: 5, 4: 6, 6: 7}  # file position → rank
    original = scores.copy()
    for limit in (None, 100, 7, 5, 1):
        ranking = Ranking(scores, limit)
        where, ranks = ranking.lookup(0, scores.size)
        want = {p: r for p, r in expected.items() if limit is None or r <= limit}
        assert dict(zip(where.tolist(), ranks.tolist())) == want
        parts = [ranking.lookup(a, min(a + 2, scores.size)) for a in range(0, scores.size, 2)]
        assert sum(len(w) for w, _ in parts) == len(want)
    np.testing.assert_array_equal(scores, original)  # the scores are left as they were
