"""WTF loader: PNG cut-outs labelled by file name, written here as fixtures."""

import numpy as np
import pytest
from PIL import Image

from drama2 import Drama, InvalidInputError
from drama2.datasets.odds import DatasetNotFoundError
from drama2.datasets.wtf import label_from_name, load_wtf

BORING = [f"B_{k:03d}.png" for k in range(6)]
INTERESTING = ["odd_circle_1.png", "ring_2.PNG"]


def _cutout(seed: int, size: int = 64, peak: int = 200) -> np.ndarray:
    """A blob whose brightest pixel is ``peak`` (so scaling to max 1 is checkable)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(0.3 * size, 0.7 * size, 2)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 60.0)
    image = np.round(peak * blob / blob.max() + rng.uniform(0, 5, (size, size)))
    return np.clip(image, 0, peak).astype(np.uint8)


@pytest.fixture
def wtf_dir(tmp_path):
    directory = tmp_path / "cutouts"
    directory.mkdir()
    for seed, name in enumerate(reversed(BORING + INTERESTING)):  # written out of name order on purpose
        Image.fromarray(_cutout(seed, peak=100 + 10 * seed)).save(directory / name)
    (directory / "notes.txt").write_text("not an image")
    return directory


def test_shapes_labels_and_order(wtf_dir):
    ds = load_wtf(wtf_dir)
    names = sorted(BORING + INTERESTING)
    assert ds.metadata["files"] == names
    assert ds.X.shape == (8, 64 * 64) and ds.X.dtype == np.float64
    assert ds.images.shape == (8, 1, 64, 64)
    assert ds.y.tolist() == [0 if n.startswith("B_") else 1 for n in names]
    assert ds.n_outliers == 2 and ds.name == "wtf" and ds.source == str(wtf_dir)
    assert "Norris" in ds.citation and "1909.04060" in ds.citation


def test_each_image_is_scaled_to_max_one(wtf_dir):
    ds = load_wtf(wtf_dir)
    np.testing.assert_allclose(ds.X.max(axis=1), 1.0)
    raw = np.asarray(Image.open(wtf_dir / ds.metadata["files"][0]), dtype=np.float64)
    np.testing.assert_allclose(ds.images[0, 0], raw / raw.max())
    unscaled = load_wtf(wtf_dir, normalise=False)
    np.testing.assert_array_equal(unscaled.images[0, 0], raw)


def test_loading_is_deterministic(wtf_dir):
    first, second = load_wtf(wtf_dir), load_wtf(wtf_dir)
    np.testing.assert_array_equal(first.X, second.X)
    assert first.metadata["files"] == second.metadata["files"]


def test_label_rule_counts_only_an_uppercase_b_in_the_stem():
    assert label_from_name("B_001.png") == 0
    assert label_from_name("src_12B.png") == 0
    assert label_from_name("blob_3.png") == 1  # lowercase b: interesting, as in the original code
    assert label_from_name("odd.PNG") == 1


def test_colour_and_16_bit_images_become_greyscale(tmp_path):
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255
    rgba[10, 10, :3] = 255  # a white pixel: the brightest in luma
    Image.fromarray(rgba).save(tmp_path / "B_rgba.png")
    deep = np.zeros((64, 64), dtype=np.uint16)
    deep[5, 5], deep[6, 6] = 60000, 30000  # beyond 8 bits: must not be clipped at 255
    Image.fromarray(deep).save(tmp_path / "deep.png")
    ds = load_wtf(tmp_path)
    assert ds.metadata["files"] == ["B_rgba.png", "deep.png"]
    rgba_row, deep_row = ds.images[:, 0]
    assert rgba_row[10, 10] == 1.0 and rgba_row[0, 0] == pytest.approx(76 / 255, abs=1 / 255)
    assert deep_row[5, 5] == 1.0 and deep_row[6, 6] == pytest.approx(0.5)


def test_a_tiny_drama_fit_runs(wtf_dir):
    ds = load_wtf(wtf_dir)
    model = Drama(reducer="pca", n_components=2, min_leaf_size=2, random_state=0).fit(ds.X)
    assert model.decision_scores_.shape == (8,) and np.isfinite(model.decision_scores_).all()


@pytest.mark.usefixtures("torch_one_thread")
def test_conv2d_autoencoder_runs_on_the_wtf_layout(wtf_dir):
    from drama2.reducers.neural import Conv2dAutoEncoder

    ds = load_wtf(wtf_dir)
    reducer = Conv2dAutoEncoder(validation_fraction=0, max_epochs=3, random_state=0).fit(ds.images)
    assert reducer.sample_shape_ == (1, 64, 64)
    assert reducer.inverse_transform(reducer.transform(ds.images)).shape == ds.images.shape
    # Inside DRAMA the flat 4096-value rows are recognised as 64 x 64 images.
    model = Drama(reducer="conv2d-ae", n_components=2, min_leaf_size=2, random_state=0,
                  reducer_params={"validation_fraction": 0, "max_epochs": 3}).fit(ds.X)
    assert np.isfinite(model.decision_scores_).all() and model.prototypes_.shape[1] == 4096


def test_default_directory_is_wtf_under_the_data_dir(wtf_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("DRAMA2_DATA", raising=False)
    wtf_dir.rename(tmp_path / "wtf")
    assert load_wtf(data_dir=tmp_path).X.shape == (8, 4096)
    monkeypatch.setenv("DRAMA2_DATA", str(tmp_path))
    assert load_wtf().metadata["files"] == sorted(BORING + INTERESTING)


def test_a_missing_directory_says_where_it_looked_and_how_to_point_at_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv("DRAMA2_DATA", raising=False)
    monkeypatch.delenv("DRAMA2_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetNotFoundError, match=r"path=.*wtf") as info:
        load_wtf(data_dir=tmp_path)
    assert str(tmp_path / "wtf") in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_wtf(tmp_path / "nowhere")


def test_a_directory_without_pngs_is_refused(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InvalidInputError, match=r"no \.png files"):
        load_wtf(tmp_path)


def test_an_image_of_another_size_is_named_unless_resizing_is_asked(wtf_dir):
    Image.fromarray(_cutout(99, size=48)).save(wtf_dir / "B_small.png")
    with pytest.raises(InvalidInputError, match=r"B_small\.png is 48x48 pixels, expected 64x64"):
        load_wtf(wtf_dir)
    ds = load_wtf(wtf_dir, resize=True)
    assert ds.images.shape == (9, 1, 64, 64) and ds.metadata["resized"]
    np.testing.assert_allclose(ds.X.max(axis=1), 1.0)


def test_image_size_none_accepts_any_common_size(tmp_path):
    for k, name in enumerate(["B_a.png", "c.png"]):
        Image.fromarray(_cutout(k, size=32)).save(tmp_path / name)
    ds = load_wtf(tmp_path, image_size=None)
    assert ds.images.shape == (2, 1, 32, 32)
    Image.fromarray(_cutout(5, size=40)).save(tmp_path / "d.png")
    with pytest.raises(InvalidInputError, match=r"d\.png is 40x40 pixels but the first image is 32x32"):
        load_wtf(tmp_path, image_size=None)


def test_a_corrupt_png_is_named(wtf_dir):
    good = (wtf_dir / BORING[0]).read_bytes()
    (wtf_dir / "B_truncated.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidInputError, match=r"B_truncated\.png"):
        load_wtf(wtf_dir)
    (wtf_dir / "B_truncated.png").write_bytes(b"not a png at all")
    with pytest.raises(InvalidInputError, match=r"B_truncated\.png"):
        load_wtf(wtf_dir)


def test_a_blank_image_cannot_be_scaled_and_is_named(wtf_dir):
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(wtf_dir / "B_blank.png")
    with pytest.raises(InvalidInputError, match=r"B_blank\.png is blank"):
        load_wtf(wtf_dir)
    assert load_wtf(wtf_dir, normalise=False).X.shape == (9, 4096)


def test_a_single_label_warns_about_the_naming(tmp_path):
    for k in range(3):
        Image.fromarray(_cutout(k)).save(tmp_path / f"obj_{k}.png")
    with pytest.warns(UserWarning, match="no 'B' in any name"):
        ds = load_wtf(tmp_path)
    assert ds.y.tolist() == [1, 1, 1]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_a_bad_image_size_is_refused(wtf_dir, bad):
    with pytest.raises(InvalidInputError, match="image_size"):
        load_wtf(wtf_dir, image_size=bad)


def test_registry_style_options_are_accepted(wtf_dir):
    assert load_wtf(path=wtf_dir, random_state=3, data_dir=None).X.shape == (8, 4096)
