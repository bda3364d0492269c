"""Bit-exact comparison of torch eval (IntegerNet) with the NumPy golden model."""

from __future__ import annotations

import numpy as np

from models import golden
from models.description import Description

from .intnet import IntegerNet


def _first_diff(a: np.ndarray, b: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(a != b)[0])
    return f"at index {idx}: torch {a[idx]}, golden {b[idx]}"


def check_against_golden(desc: Description, images: np.ndarray, map_images: int = 256,
                         model=None, batch: int = 500) -> dict:
    """Predictions and integer scores on every image, every intermediate bit map on the first
    `map_images`. `model`: a trained BNN in eval mode (its own integer path is what is
    checked); otherwise the description is rebuilt in torch (checkpoint-free)."""
    if model is not None:
        model.eval()
        net = model._int
    else:
        net = IntegerNet(desc)
    result = {"images": int(len(images)), "map_images": int(min(map_images, len(images))),
              "identical": True, "first_difference": None}
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        t = net(chunk)
        g = golden.forward(desc, chunk, keep_maps=False)
        for what, a, b in (("scores", t.scores.numpy(), g.scores),
                           ("predictions", t.predictions.numpy(), g.predictions)):
            if a.shape != b.shape or not np.array_equal(a, b):
                result.update(identical=False,
                              first_difference=f"{what} of images {i}..: {_first_diff(a, b)}")
                return result
    m = result["map_images"]
    if m:
        t = net(images[:m], keep_maps=True)
        g = golden.forward(desc, images[:m])
        names = ["encoder"] + [layer.name for layer in desc.layers]
        for name, a, b in zip(names, t.maps, g.maps):
            a = a.numpy()
            a = a.transpose(0, 2, 3, 1) if a.ndim == 4 else a
            a = a.astype(b.dtype).reshape(b.shape)
            if not np.array_equal(a, b):
                result.update(identical=False, first_difference=f"map {name}: "
                              f"{_first_diff(a, b)}")
                return result
    return result
