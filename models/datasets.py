"""Real datasets from Debian packages, as uint8 arrays (N, H, W, 1) and labels (N,)."""

from __future__ import annotations

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


DATASETS = {"fashion-mnist": fashion_mnist}


def load_dataset(name: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
    return DATASETS[name](split)
