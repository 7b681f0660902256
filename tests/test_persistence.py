"""Saved models: ``drama2.save`` / ``drama2.load`` give back the same model, without pickle, and refuse bad files."""

import hashlib
import json
import pickle
import struct
import warnings
import zipfile

import numpy as np
import pytest

import drama2
from drama2.errors import InvalidInputError, NotFittedError
from drama2.persistence import FORMAT_VERSION

pytestmark = pytest.mark.usefixtures("torch_one_thread")

MEMBERS = ["manifest.json", "model.json", "tensors.safetensors"]
NEURAL = ("ae", "vae", "conv1d-ae", "conv1d-vae", "conv2d-ae", "conv2d-vae")
SVDD = dict(hidden_sizes=(8,), n_components=4, max_epochs=2, device="cpu")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return {5: (rng.normal(size=(300, 5)), rng.normal(size=(100, 5))),
            16: (rng.normal(size=(300, 16)), rng.normal(size=(100, 16)))}  # 16 = 4 x 4 images for conv2d


@pytest.fixture
def no_pickle(monkeypatch):
    """``with no_pickle():`` makes every unpickling entry point (and torch.load / joblib.load / np.load) fail
    loudly inside the block (only there: numba and torch use pickle for their own caches while fitting)."""
    import contextlib

    import joblib
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("the loader must never unpickle")

    class RefusingUnpickler(pickle.Unpickler):  # a class, since some libraries subclass pickle.Unpickler
        def __init__(self, *args, **kwargs):
            refuse()

    @contextlib.contextmanager
    def block():
        with monkeypatch.context() as patch:
            for owner, name in ((pickle, "loads"), (pickle, "load"), (torch, "load"), (joblib, "load"),
                                (np, "load")):
                patch.setattr(owner, name, refuse)
            patch.setattr(pickle, "Unpickler", RefusingUnpickler)
            yield

    return block


def _scores(model, X, stochastic=False):
    if stochastic:  # e.g. PyOD's VAE samples its latent code from torch's global generator when scoring
        import torch

        torch.manual_seed(0)
    return np.asarray(model.score_samples(X))


def _roundtrip(model, X_new, tmp_path, no_pickle, *, stochastic=False, **load_kwargs):
    """Save, load (with pickle disabled) and check: same class, same scores, same flags, no pickle member."""
    path = model.save(tmp_path / "model.drama2")
    assert path == tmp_path / "model.drama2"
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == MEMBERS  # in particular no *.pkl / *.pt / *.joblib member
    with no_pickle():
        loaded = drama2.load(path, **load_kwargs)
    assert type(loaded) is type(model)
    assert np.array_equal(_scores(loaded, X_new, stochastic), _scores(model, X_new, stochastic))
    if not stochastic:
        assert np.array_equal(loaded.predict(X_new), model.predict(X_new))
    assert np.array_equal(loaded.decision_scores_, model.decision_scores_)
    assert loaded.threshold_ == model.threshold_ and np.array_equal(loaded.labels_, model.labels_)
    assert loaded.get_params() == model.get_params()
    return path, loaded


def _fit(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the tiny fits
        return model.fit(X)


# ---------------------------------------------------------------------------------------- every built-in scorer
SCORERS = [
    ("lof", {}, 5),
    ("iforest", {"n_estimators": 20}, 5),
    ("knn", {"method": "mean"}, 5),
    ("eif", {"n_estimators": 20}, 5),
    ("mcdsvdd", SVDD, 5),
    ("deepsvdd", SVDD, 5),
    ("ensemble", {"members": ["iforest", "knn[n_neighbors=10]", "drama[reducer=pca, metric=[l2, mahalanobis]]",
                              "pyod:HBOS"]}, 5),
    *[("ae-recon", {"model": m, "model_params": {"max_epochs": 2}}, 16) for m in NEURAL],
]


@pytest.mark.parametrize("name, params, d", SCORERS, ids=[f"{s[0]}-{s[1].get('model', '')}" for s in SCORERS])
def test_every_builtin_scorer_round_trips(name, params, d, data, tmp_path, no_pickle):
    X, X_new = data[d]
    cls = drama2.get_registry().load("scorers", name)
    kwargs = dict(params, random_state=0) if "random_state" in cls().get_params() else dict(params)
    model = _fit(cls(**kwargs), X)
    _roundtrip(model, X_new, tmp_path, no_pickle)


def test_the_scorer_list_covers_every_built_in_scorer():
    from drama2.registry import Registry

    names = {r.name for r in Registry(load_entry_points=False).registrations("scorers")} - {"pyod:*", "drama"}
    assert names <= {s[0] for s in SCORERS}, "add the new scorer to SCORERS"
    assert {m for s, p, _ in SCORERS if s == "ae-recon" for m in [p["model"]]} == set(NEURAL)


def test_neural_model_loads_onto_a_chosen_device(data, tmp_path, no_pickle):
    X, X_new = data[16]
    # Trained on the CPU, so the loaded copy's scores are bit for bit the same (from CUDA see the gpu test).
    model = _fit(drama2.get_registry().load("scorers", "ae-recon")(model="conv2d-vae", random_state=0, device="cpu",
                                                                     model_params={"max_epochs": 2}), X)
    _, loaded = _roundtrip(model, X_new, tmp_path, no_pickle, device="cpu")
    assert loaded.model_.device_ == "cpu"
    assert next(loaded.model_.network_.parameters()).device.type == "cpu"
    assert not loaded.model_.network_.training  # eval mode kept
    path = tmp_path / "m.drama2"
    drama2.save(model, path)
    with pytest.raises(drama2.InvalidInputError, match="unknown device 'bogus'"):
        drama2.load(path, device="bogus")
    import torch

    if not torch.cuda.is_available():  # refused at load, not at the first score
        with pytest.raises(drama2.InvalidInputError, match="CUDA is not available"):
            drama2.load(path, device="cuda")


@pytest.mark.gpu
def test_a_model_saved_on_cuda_loads_on_cuda_or_cpu(data, tmp_path):
    X, X_new = data[5]
    model = drama2.get_registry().load("scorers", "deepsvdd")(**dict(SVDD, device="cuda"), random_state=0).fit(X)
    path = model.save(tmp_path / "gpu.drama2")
    on_gpu = drama2.load(path)
    assert next(on_gpu.network_.parameters()).is_cuda
    assert np.array_equal(on_gpu.score_samples(X_new), model.score_samples(X_new))
    on_cpu = drama2.load(path, device="cpu")
    assert on_cpu.device_ == "cpu" and not next(on_cpu.network_.parameters()).is_cuda
    np.testing.assert_allclose(on_cpu.score_samples(X_new), model.score_samples(X_new), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------- PyOD
PYOD = [("ECOD", None), ("HBOS", None), ("IForest", {"n_estimators": 20}), ("KNN", None), ("LOF", None),
        ("COPOD", None), ("OCSVM", None), ("PCA", None), ("GMM", None), ("LODA", None), ("KDE", None),
        ("CBLOF", None), ("INNE", None), ("Sampling", None),
        ("AutoEncoder", {"epoch_num": 2, "verbose": 0}), ("VAE", {"epoch_num": 2, "verbose": 0})]


@pytest.mark.parametrize("name, params", PYOD, ids=[p[0] for p in PYOD])
def test_pyod_detectors_round_trip(name, params, data, tmp_path, no_pickle):
    from drama2.scorers.pyod_adapter import PyODScorer

    X, X_new = data[5]
    model = _fit(PyODScorer(name, params=params, random_state=0), X)
    # PyOD's VAE draws its latent sample from torch's global generator at every scoring call.
    _roundtrip(model, X_new, tmp_path, no_pickle, stochastic=name == "VAE")


def test_pyod_model_holding_a_numba_function_fails_at_save(data, tmp_path):
    """PyOD's LMDD keeps a numba-compiled function, which a model file cannot hold: refused when saving."""
    from drama2.scorers.pyod_adapter import PyODScorer

    model = _fit(PyODScorer("LMDD", params={"n_iter": 2}, random_state=0), data[5][0][:60])
    with pytest.raises(InvalidInputError, match=r"PyODScorer\.detector_\.dis_measure_ .*numba"):
        model.save(tmp_path / "lmdd.drama2")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


# ---------------------------------------------------------------------------------------- Drama, reducers
REDUCERS = ["none", "pca", "ica", "nmf", "umap", *NEURAL]


@pytest.mark.parametrize("reducer", REDUCERS)
def test_drama_round_trips_with_every_reducer(reducer, data, tmp_path, no_pickle):
    if reducer == "umap":
        pytest.importorskip("umap")
    X, X_new = data[16]
    params = {"n_neighbors": 10} if reducer == "umap" else {"max_epochs": 2} if reducer in NEURAL else None
    model = _fit(drama2.Drama(reducer=reducer, reducer_params=params, metric="wl2", split_levels=2,
                              random_state=0), X)
    _, loaded = _roundtrip(model, X_new, tmp_path, no_pickle)
    for metric in ("mahalanobis", "correlation"):  # the leaf statistics (and their caches) come back
        assert np.array_equal(loaded.score_samples(X_new, metric=metric), model.score_samples(X_new, metric=metric))
    assert np.array_equal(loaded.nearest_leaf(X_new), model.nearest_leaf(X_new))
    assert [leaf.path for leaf in loaded.leaves_] == [leaf.path for leaf in model.leaves_]


@pytest.mark.parametrize("reducer", ["pca", "nmf", "ae", "conv2d-vae"])
def test_fitted_reducers_save_directly(reducer, data, tmp_path, no_pickle):
    X, X_new = data[16]
    cls = drama2.get_registry().load("reducers", reducer)
    params = {"max_epochs": 2} if reducer in NEURAL else {}
    Xr, Xr_new = (X - X.min()) / np.ptp(X), (X_new - X.min()) / np.ptp(X)  # NMF needs non-negative input
    model = _fit(cls(n_components=3, random_state=0, **params), Xr)
    path = drama2.save(model, tmp_path / "reducer.drama2")
    with no_pickle():
        loaded = drama2.load(path)
    Z = model.transform(Xr_new)
    assert np.array_equal(loaded.transform(Xr_new), Z)
    assert np.array_equal(loaded.inverse_transform(Z), model.inverse_transform(Z))


def test_a_fitted_umap_reducer_is_refused_at_save(data, tmp_path):
    """umap-learn keeps numba-compiled search functions; a Drama model never keeps its reducers, so only a
    bare UMAPReducer is affected."""
    pytest.importorskip("umap")
    from drama2.reducers.umap import UMAPReducer

    reducer = _fit(UMAPReducer(n_neighbors=10, random_state=0), data[5][0])
    # The refusal says why and what to do; naming umap as trusted cannot help, so the message must not suggest it.
    for trusted in ((), ("umap", "pynndescent", "numba")):
        with pytest.raises(InvalidInputError, match=r"UMAPReducer cannot be saved: .*numba.*Drama\(reducer='umap'\)") \
                as caught:
            drama2.save(reducer, tmp_path / "umap.drama2", trusted=trusted)
        assert "trusted" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- Ensemble
def test_ensemble_round_trips(data, tmp_path, no_pickle):
    from drama2.ensemble import Ensemble

    X, X_new = data[5]
    members = ["iforest", "knn[n_neighbors=10]", "drama[reducer=pca, metric=[l2, mahalanobis]]", "pyod:HBOS"]
    model = _fit(Ensemble(members=members, random_state=0), X)
    model.member_scores(X_new)  # fill the one-entry cache before saving
    _, loaded = _roundtrip(model, X_new, tmp_path, no_pickle)
    assert loaded._cache is None or loaded._cache[1] is not model._cache[1]
    assert loaded.member_labels_ == model.member_labels_
    assert np.array_equal(loaded.member_scores(X_new), model.member_scores(X_new))
    assert np.array_equal(loaded.train_member_scores_, model.train_member_scores_)
    # Shared objects stay shared: each fitted member is the same object in estimators_ and in _units.
    assert all(a is unit.estimator for a, unit in zip(loaded.estimators_, loaded._units))
    weights = np.arange(1, len(model.member_labels_) + 1.0)
    assert np.array_equal(loaded.reweight(weights).score_samples(X_new), model.reweight(weights).score_samples(X_new))


# ---------------------------------------------------------------------------------------- values of every kind
def test_attribute_values_of_every_supported_kind_come_back(data, tmp_path, no_pickle):
    import torch

    X, _ = data[5]
    model = _fit(drama2.Drama(reducer="pca", random_state=0), X)
    structured = np.zeros(3, dtype=[("a", "<i4"), ("b", ">f8", (2,)), ("c", "U3")])
    structured["a"], structured["c"] = [1, 2, 3], ["x", "yy", "zzz"]
    generator = np.random.default_rng(5)
    generator.normal(size=3)
    extra = {
        "floats": [float("nan"), float("inf"), -0.0, 1e-310, 0.1],
        "keys": {1: "int", (2, "t"): "tuple", None: "none", 2.5: "float"},
        "containers": ((1, 2), frozenset({3, 4}), {5, 6}, b"\x00\xff", 3 + 4j, slice(1, None, 2)),
        "scalars": [np.float32(1.5), np.int16(-3), np.bool_(True), np.complex128(1 - 2j), np.datetime64("2020-01-01")],
        "arrays": [structured, np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.array(["a", None, 3], dtype=object),
                   np.arange(4, dtype=">i8"), np.empty((0, 3)), np.array(7)],
        "types": [np.float64, float, np.dtype("<M8[ns]"), np.sqrt, np.mean, drama2.Drama],
        "generator": generator,
        "legacy": np.random.RandomState(3),
        "torch": [torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), torch.device("cpu"), torch.float16],
    }
    extra["self"] = extra["floats"]  # shared
    model.extra_ = extra
    path = model.save(tmp_path / "m.drama2")
    with no_pickle():
        loaded = drama2.load(path).extra_

    assert np.isnan(loaded["floats"][0]) and loaded["floats"][1:] == extra["floats"][1:]
    assert str(loaded["floats"][2]) == "-0.0"
    assert loaded["keys"] == extra["keys"] and loaded["containers"] == extra["containers"]
    for a, b in zip(loaded["scalars"], extra["scalars"]):
        assert type(a) is type(b) and a == b
    got = loaded["arrays"]
    assert got[0].dtype == structured.dtype and got[0].tobytes() == structured.tobytes()
    assert got[1].flags.f_contiguous and np.array_equal(got[1], extra["arrays"][1])
    assert got[2].tolist() == ["a", None, 3] and got[3].dtype == np.dtype(">i8")
    assert got[4].shape == (0, 3) and got[5].shape == () and got[5] == 7
    assert loaded["types"][:2] == [np.float64, float] and loaded["types"][2] == np.dtype("<M8[ns]")
    assert loaded["types"][3] is np.sqrt and loaded["types"][4] is np.mean and loaded["types"][5] is drama2.Drama
    assert np.array_equal(loaded["generator"].normal(size=5), generator.normal(size=5))
    assert np.array_equal(loaded["legacy"].normal(size=5), extra["legacy"].normal(size=5))
    assert torch.equal(loaded["torch"][0], extra["torch"][0]) and loaded["torch"][0].dtype == torch.bfloat16
    assert loaded["torch"][1:] == [torch.device("cpu"), torch.float16]
    assert loaded["self"] is loaded["floats"]


def test_the_same_model_always_gives_the_same_bytes(data, tmp_path):
    model = _fit(drama2.get_registry().load("scorers", "iforest")(n_estimators=5, random_state=0), data[5][0])
    first = model.save(tmp_path / "a.drama2").read_bytes()
    assert model.save(tmp_path / "b.drama2").read_bytes() == first


def test_manifest_records_format_versions_and_hashes(data, tmp_path):
    model = _fit(drama2.Drama(reducer="pca", random_state=0), data[5][0])
    path = drama2.save(model, str(tmp_path / "m.drama2"))
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["sha256"]["tensors.safetensors"] == hashlib.sha256(zf.read("tensors.safetensors")).hexdigest()
        assert manifest["sha256"]["model.json"] == hashlib.sha256(zf.read("model.json")).hexdigest()
    assert manifest["format"] == "drama2-model" and manifest["format_version"] == FORMAT_VERSION == 1
    assert manifest["drama2_version"] == drama2.__version__ and manifest["class"] == "drama2.engine:Drama"
    assert {"numpy", "scikit-learn", "python"} <= set(manifest["libraries"])
    assert "save" in drama2.__all__ and "load" in drama2.__all__


# ---------------------------------------------------------------------------------------- bad files
@pytest.fixture
def saved(data, tmp_path):
    """A small saved model and the data to check it with."""
    X, X_new = data[5]
    model = _fit(drama2.Drama(reducer="pca", random_state=0), X)
    return model.save(tmp_path / "model.drama2"), model, X_new


def _data_offset(path, member):
    """Where ``member``'s (stored or compressed) bytes start in the zip file."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def _flip(path, position):
    raw = bytearray(path.read_bytes())
    raw[position] ^= 0x01
    path.write_bytes(bytes(raw))


def _rewrite(path, *, manifest=None, graph=None, tensors=None, fix_hashes=True):
    """Change members of a model file and zip it again (valid CRCs), optionally with matching sha256 sums."""
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(parts["manifest.json"])
    if graph:
        doc = json.loads(parts["model.json"])
        parts["model.json"] = json.dumps(graph(doc) or doc).encode()
    if tensors:
        parts["tensors.safetensors"] = tensors(parts["tensors.safetensors"])
    if fix_hashes:
        meta["sha256"] = {n: hashlib.sha256(parts[n]).hexdigest() for n in ("model.json", "tensors.safetensors")}
    if manifest:
        meta = manifest(meta) or meta
    parts["manifest.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in parts.items():
            zf.writestr(name, content)


@pytest.mark.parametrize("member", ["tensors.safetensors", "model.json"])
def test_a_flipped_byte_is_a_clear_error(saved, member, no_pickle):
    path, _, _ = saved
    start, size = _data_offset(path, member)
    _flip(path, start + size // 2)
    with no_pickle(), pytest.raises(InvalidInputError, match="damaged or was modified"):
        drama2.load(path)


def test_a_flipped_byte_anywhere_is_an_error_or_harmless(saved, no_pickle):
    """Flip one byte at ~150 places all over the file: each load fails with InvalidInputError, or (in zip
    bookkeeping bytes that carry no data, e.g. timestamps) returns a model with the same scores."""
    path, model, X_new = saved
    original = path.read_bytes()
    expected = model.score_samples(X_new)
    failures = 0
    for position in range(0, len(original), max(1, len(original) // 150)):
        path.write_bytes(original)
        _flip(path, position)
        try:
            with no_pickle():
                loaded = drama2.load(path)
        except InvalidInputError:
            failures += 1
            continue
        assert np.array_equal(loaded.score_samples(X_new), expected), f"flip at byte {position} changed scores"
    assert failures > 100


def test_a_consistent_edit_is_caught_by_the_sha256_sums(saved):
    path, _, _ = saved

    def edit(blob):
        blob = bytearray(blob)
        blob[-5] ^= 0x10  # a float in the last array; the zip CRC is recomputed, the sha256 is not
        return bytes(blob)

    _rewrite(path, tensors=edit, fix_hashes=False)
    with pytest.raises(InvalidInputError, match="sha256 of tensors.safetensors does not match"):
        drama2.load(path)


def test_an_unknown_format_version_names_both_versions(saved):
    path, _, _ = saved
    _rewrite(path, manifest=lambda m: m.update(format_version=999, drama2_version="9.0"))
    with pytest.raises(InvalidInputError, match=r"format version 999.* reads format version 1 only.*drama2 9\.0.*"
                                                r"upgrade drama2"):
        drama2.load(path)


def test_a_file_of_another_format_is_refused(saved, tmp_path, no_pickle):
    path, model, _ = saved
    _rewrite(path, manifest=lambda m: m.update(format="something-else"))
    with pytest.raises(InvalidInputError, match="not a drama2 model file: its manifest names the format"):
        drama2.load(path)

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InvalidInputError, match="not a drama2 model file"):
        drama2.load(text)
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data.csv", "1,2,3")
    with pytest.raises(InvalidInputError, match="zip archive without manifest.json"):
        drama2.load(archive)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with no_pickle(), pytest.raises(InvalidInputError, match="looks like a pickle file; drama2 never loads pickles"):
        drama2.load(pickled)
    with pytest.raises(InvalidInputError, match="no model file") as info:
        drama2.load(tmp_path / "missing.drama2")
    assert isinstance(info.value, FileNotFoundError)


def test_extra_members_are_refused(saved):
    path, _, _ = saved
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("payload.pkl", b"\x80\x04.")
    with pytest.raises(InvalidInputError, match="expected exactly"):
        drama2.load(path)


def _root_with(doc, node):
    doc["root"]["state"]["extra_"] = node
    return doc


@pytest.mark.parametrize("node, reason", [
    ({"$": "object", "id": 999, "class": "subprocess:Popen", "state": {"$": "dict", "id": 998, "items": {}}},
     "package 'subprocess' is not allowed"),
    ({"$": "global", "path": "os:system"}, "package 'os' is not allowed"),
    ({"$": "global", "path": "builtins:eval"}, "builtins other than plain types"),
    ({"$": "global", "path": "drama2.persistence:os.system"}, "not the name of a function or class defined there"),
    ({"$": "global", "path": "drama2.__main__:main"}, "__main__"),
    ({"$": "global", "path": "numpy:load"}, "never used"),
    ({"$": "global", "path": "torch.serialization:load"}, "never used"),
    ({"$": "module", "id": 999, "class": "torch.jit:ScriptModule", "training": False, "attrs": {}, "params": {},
      "buffers": {}, "non_persistent": [], "modules": {}}, "package 'torch' is not allowed"),
    ({"$": "object", "id": 999, "class": "numpy.lib.npyio:NpzFile", "state": {"$": "dict", "id": 998, "items": {}}},
     "package 'numpy' is not allowed"),
    ({"$": "pickle", "data": "gASVAAAAAAAAAAB9lC4="}, "unknown entry kind 'pickle'"),
])
def test_classes_and_functions_outside_the_allow_list_are_refused(saved, node, reason):
    path, _, _ = saved
    _rewrite(path, graph=lambda doc: _root_with(doc, node))
    with pytest.raises(InvalidInputError, match=reason):
        drama2.load(path)


def test_an_intact_file_that_cannot_be_rebuilt_names_the_entry_and_the_versions(saved):
    path, _, _ = saved
    bad_metric = {"$": "distmetric", "id": 999, "metric": "minkowski",
                  "params": {"$": "dict", "id": 998, "items": {"p": -1.0}}}
    _rewrite(path, graph=lambda doc: _root_with(doc, bad_metric),
             manifest=lambda m: m["libraries"].update({"scikit-learn": "0.0.1"}))
    with pytest.raises(InvalidInputError, match=r"is intact, but model\.extra_ could not be rebuilt here .*"
                                                r"written with scikit-learn 0\.0\.1 \(here "):
        drama2.load(path)


def test_a_tree_table_pointing_outside_itself_is_refused(data, tmp_path):
    """scikit-learn walks tree tables without bounds checks, so a crafted child index must never reach it."""
    import safetensors.numpy

    from drama2.persistence import _dtype_from

    model = _fit(drama2.get_registry().load("scorers", "iforest")(n_estimators=3, random_state=0), data[5][0])
    path = model.save(tmp_path / "forest.drama2")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))

    def find(node):
        if isinstance(node, dict):
            if node.get("$") == "sktree":
                return node
            return next((f for f in map(find, node.values()) if f), None)
        if isinstance(node, list):
            return next((f for f in map(find, node) if f), None)
        return None

    nodes = find(doc)["state"]["items"]["nodes"]

    def corrupt(blob):
        arrays = safetensors.numpy.load(blob)
        table = np.frombuffer(arrays[nodes["key"]].tobytes(), dtype=_dtype_from(nodes["dtype"])).copy()
        table["left_child"][0] = 10**6
        arrays[nodes["key"]] = np.frombuffer(table.tobytes(), dtype=np.uint8)
        return safetensors.numpy.save(arrays)

    _rewrite(path, tensors=corrupt)
    with pytest.raises(InvalidInputError, match="indices outside the tree"):
        drama2.load(path)


# ---------------------------------------------------------------------------------------- bad saves
def test_saving_an_unfitted_model_is_a_clear_error(tmp_path):
    from drama2.ensemble import Ensemble
    from drama2.scorers.baselines import LOF

    for model in (drama2.Drama(), LOF(), Ensemble()):
        with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
            model.save(tmp_path / "m.drama2")
    assert list(tmp_path.iterdir()) == []


def test_a_fitted_pipeline_is_saved_because_sklearn_says_it_is_fitted(tmp_path, no_pickle):
    """A Pipeline keeps no attribute ending in "_" itself; scikit-learn's __sklearn_is_fitted__ decides."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from drama2.scorers.baselines import KNN

    X = np.random.default_rng(0).normal(size=(120, 4))
    with pytest.raises(NotFittedError, match="Pipeline is not fitted yet"):
        drama2.save(make_pipeline(StandardScaler(), KNN()), tmp_path / "unfitted.drama2")
    pipeline = make_pipeline(StandardScaler(), KNN()).fit(X)
    loaded = drama2.load(drama2.save(pipeline, tmp_path / "pipeline.drama2"))
    assert np.array_equal(loaded.score_samples(X), pipeline.score_samples(X))


def test_saving_into_a_missing_directory_or_onto_a_directory_is_a_clear_error(saved, tmp_path):
    _, model, _ = saved
    with pytest.raises(InvalidInputError, match="does not exist; create it first") as info:
        model.save(tmp_path / "no" / "such" / "dir" / "m.drama2")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(InvalidInputError, match="it is a directory"):
        model.save(tmp_path)


def test_an_unsupported_attribute_is_named_and_nothing_is_written(saved, tmp_path):
    path, model, X_new = saved
    before = path.read_bytes()
    model.extra_ = {"callback": lambda x: x}
    with pytest.raises(InvalidInputError, match=r"Drama\.extra_\['callback'\] is a reference to .*<lambda>"):
        model.save(path)
    model.extra_ = [object()]
    with pytest.raises(InvalidInputError, match=r"Drama\.extra_\[0\] is a builtins\.object object"):
        model.save(path)
    assert path.read_bytes() == before  # the previous file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.drama2"]  # and no temporary file is left


def test_a_plugin_class_needs_to_be_trusted(data, tmp_path):
    from drama2.scorers.baselines import KNN

    class MyKNN(KNN):  # a class outside the trusted packages (and local, so not importable by name)
        pass

    model = _fit(MyKNN(), data[5][0])
    with pytest.raises(InvalidInputError, match="MyKNN"):
        model.save(tmp_path / "m.drama2")
